/**
 * One entry point for loading weights, whatever the file format: safetensors, PyTorch zip
 * (`.pth`, `.pyth`, `.pt`, `.ckpt`) or legacy PyTorch. Training checkpoints that wrap the weights
 * (`{"model_state": ..., "epoch": 7, "optimizer_state": ...}`, `{"model": ...}`, `{"state_dict":
 * ...}`) are unwrapped; entries that are not tensors are ignored, and BatchNorm's
 * `num_batches_tracked` counters are dropped because no ivc model consumes them.
 */
import * as fs from "node:fs";
import { UserError } from "../../cli/errors.ts";
import type { LoadedTensor } from "./dtype.ts";
import { isTensorRef } from "./pickle.ts";
import { materialize, openTorchFile } from "./pth.ts";
import { SafetensorsReader, looksLikeSafetensors } from "./safetensors.ts";

export type CheckpointFormat = "safetensors" | "torch-zip" | "torch-legacy";

/** Keys under which training scripts nest the weights, tried in this order at each level. */
export const WRAPPER_KEYS = ["model_state", "model", "module", "state_dict"] as const;

export interface CheckpointContents {
  tensors: Map<string, LoadedTensor>;
  format: CheckpointFormat;
  /** The wrapper keys descended through, e.g. ["model_state"]; empty for a flat state dict. */
  wrapperPath: string[];
  /** safetensors `__metadata__`; empty for PyTorch files. */
  metadata: Record<string, string>;
  /** Top-level entries of the state dict that were not tensors (kept for diagnostics). */
  ignoredKeys: string[];
}

const DROPPED_SUFFIX = "num_batches_tracked";

export function detectCheckpointFormat(file: string): CheckpointFormat {
  let fd: number;
  try {
    fd = fs.openSync(file, "r");
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "ENOENT") throw new UserError(`checkpoint file not found: ${file}`, "check the path");
    throw new UserError(`cannot open ${file}: ${(error as Error).message}`);
  }
  try {
    const stat = fs.fstatSync(fd);
    if (stat.isDirectory()) throw new UserError(`${file} is a directory, not a checkpoint file`);
    const size = stat.size;
    const head = Buffer.alloc(Math.min(16, size));
    fs.readSync(fd, head, 0, head.byteLength, 0);
    if (head.byteLength >= 4 && head.readUInt32LE(0) === 0x04034b50) return "torch-zip";
    // Checked before the legacy format: a safetensors header length can start with the bytes 0x80 0x02.
    if (looksLikeSafetensors(head, size)) return "safetensors";
    // PROTO 2..5, then LONG1 with the 10-byte magic number that starts every legacy torch file.
    if (head.byteLength >= 4 && head[0] === 0x80 && head[1]! >= 2 && head[1]! <= 5 && head[2] === 0x8a && head[3] === 0x0a) return "torch-legacy";
    throw new UserError(
      `${file} is not a checkpoint ivc can read (${size === 0 ? "the file is empty" : "unrecognised format"})`,
      "supported formats: safetensors, PyTorch torch.save files (.pth/.pyth/.pt/.ckpt); the file may be truncated or still downloading",
    );
  } finally {
    fs.closeSync(fd);
  }
}

function describeKeys(dict: Map<unknown, unknown>): string {
  const keys = [...dict.keys()].map(String);
  return keys.length === 0 ? "(none)" : keys.slice(0, 12).join(", ") + (keys.length > 12 ? ", ..." : "");
}

/** Descends through wrapper dicts until reaching the dict that holds the tensors. */
function unwrap(root: unknown): { dict: Map<unknown, unknown>; path: string[] } | undefined {
  if (!(root instanceof Map)) return undefined;
  let dict = root;
  const path: string[] = [];
  for (;;) {
    const key = WRAPPER_KEYS.find((candidate) => dict.get(candidate) instanceof Map);
    if (key === undefined) return { dict, path };
    dict = dict.get(key) as Map<unknown, unknown>;
    path.push(key);
  }
}

function loadTorch(file: string, format: "torch-zip" | "torch-legacy"): CheckpointContents {
  const torchFile = openTorchFile(file, format === "torch-zip" ? "zip" : "legacy");
  try {
    const found = unwrap(torchFile.root);
    if (!found) throw new UserError(`${file} holds a ${Array.isArray(torchFile.root) ? "list" : typeof torchFile.root}, not a state dict`);
    const tensors = new Map<string, LoadedTensor>();
    const ignoredKeys: string[] = [];
    for (const [key, value] of found.dict) {
      if (typeof key !== "string" || !isTensorRef(value)) {
        ignoredKeys.push(String(key));
        continue;
      }
      if (key.endsWith(DROPPED_SUFFIX)) continue;
      tensors.set(key, materialize(file, torchFile, key, value));
    }
    if (tensors.size === 0) {
      throw new UserError(
        `${file} contains no tensors${found.path.length ? ` under ${found.path.join(".")}` : ""}; its keys are: ${describeKeys(found.dict)}`,
        `ivc expects a state dict, either flat or under one of: ${WRAPPER_KEYS.join(", ")}`,
      );
    }
    return { tensors, format, wrapperPath: found.path, metadata: {}, ignoredKeys };
  } finally {
    torchFile.close();
  }
}

function loadSafetensors(file: string): CheckpointContents {
  const reader = new SafetensorsReader(file);
  try {
    const tensors = new Map<string, LoadedTensor>();
    for (const name of reader.names()) {
      if (!name.endsWith(DROPPED_SUFFIX)) tensors.set(name, reader.read(name));
    }
    return { tensors, format: "safetensors", wrapperPath: [], metadata: { ...reader.metadata }, ignoredKeys: [] };
  } finally {
    reader.close();
  }
}

/** Loads a checkpoint with details about where the tensors were found. */
export function readCheckpoint(file: string): CheckpointContents {
  const format = detectCheckpointFormat(file);
  return format === "safetensors" ? loadSafetensors(file) : loadTorch(file, format);
}

/** Loads the tensors of any supported checkpoint: floats as f32, integers and booleans as i32. */
export function loadCheckpoint(file: string): Map<string, LoadedTensor> {
  return readCheckpoint(file).tensors;
}
