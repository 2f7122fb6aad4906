/**
 * Training checkpoints: safetensors holding every parameter and buffer by its path (loadable by
 * `--init`, `ivc run` and PyTorch alike), the optimizer state as `optim.exp_avg:<path>` /
 * `optim.exp_avg_sq:<path>` / `optim.momentum_buffer:<path>`, the EMA weights as `ema:<path>`, and
 * in the metadata everything a resumed run needs to continue bit-identically: the number of steps
 * done (which fixes the data position and every step's seed), the run's seed, batch, base LR and total steps.
 */
import * as fs from "node:fs";
import { UserError } from "../../cli/errors.ts";
import { evalShape } from "../../compiler/ir/dims.ts";
import type { ParamInfo } from "../../compiler/ir/types.ts";
import { readCheckpoint } from "../io/checkpoint.ts";
import { readSafetensors, writeSafetensors, type TensorToWrite } from "../io/safetensors.ts";
import type { TensorArray } from "./engine.ts";
import { STATE_PREFIXES } from "./optim.ts";

export const CHECKPOINT_FORMAT = "ivc-train-checkpoint/1";

export interface CheckpointMeta {
  readonly model: string;
  readonly stage: string;
  /** Steps done. */
  readonly step: number;
  readonly totalSteps: number;
  readonly seed: number;
  readonly batch: number;
  /** Epoch and batch index of the next step, for the record (they follow from step and batch). */
  readonly epoch: number;
  readonly batchInEpoch: number;
  readonly optimizer: string;
  /** Base learning rate (the stage's or --lr): a resume without --lr keeps it. */
  readonly lr: number;
  /** Activation storage (`--precision`): a resumed run continues bit-identically only with the same one. */
  readonly precision: string;
}

function shapeFor(key: string, shapes: ReadonlyMap<string, readonly number[]>): readonly number[] {
  const prefix = STATE_PREFIXES.find((p) => key.startsWith(p));
  const shape = shapes.get(prefix ? key.slice(prefix.length) : key);
  if (!shape) throw new Error(`no shape known for checkpoint entry ${key}`);
  return shape;
}

export function paramShapes(params: readonly ParamInfo[]): Map<string, number[]> {
  return new Map(params.map((p) => [p.path, evalShape(p.shape, {})]));
}

/** Writes `state` atomically to `file`: a crash mid-write leaves the previous file intact. */
export function saveCheckpoint(file: string, state: ReadonlyMap<string, TensorArray>, shapes: ReadonlyMap<string, readonly number[]>, meta: CheckpointMeta): void {
  const tensors = new Map<string, TensorToWrite>();
  for (const [key, data] of state) {
    const shape = shapeFor(key, shapes);
    tensors.set(key, data instanceof Int32Array ? { dtype: "I32", shape, data } : { dtype: "F32", shape, data });
  }
  const metadata: Record<string, string> = { format: CHECKPOINT_FORMAT };
  for (const [k, v] of Object.entries(meta)) metadata[k] = String(v);
  writeSafetensors(file, tensors, metadata);
}

/** Reads a checkpoint written by `saveCheckpoint`, for --resume. */
export function readTrainCheckpoint(file: string): { state: Map<string, TensorArray>; meta: CheckpointMeta } {
  const { metadata, tensors } = readSafetensors(file);
  if (metadata.format !== CHECKPOINT_FORMAT) {
    throw new UserError(`${file} is not a training checkpoint written by ivc train (no \`${CHECKPOINT_FORMAT}\` metadata)`, "use --init to start from its weights instead of --resume");
  }
  const num = (key: string) => {
    const v = Number(metadata[key]);
    if (!Number.isFinite(v)) throw new UserError(`${file}: metadata \`${key}\` is missing or not a number`, "the checkpoint is damaged; resume from one under checkpoints/ instead");
    return v;
  };
  const meta: CheckpointMeta = {
    model: metadata.model ?? "",
    stage: metadata.stage ?? "",
    step: num("step"),
    totalSteps: num("totalSteps"),
    seed: num("seed"),
    batch: num("batch"),
    epoch: num("epoch"),
    batchInEpoch: num("batchInEpoch"),
    optimizer: metadata.optimizer ?? "",
    lr: num("lr"),
    // Checkpoints from before --precision existed were f32.
    precision: metadata.precision ?? "f32",
  };
  return { state: new Map([...tensors].map(([k, t]) => [k, t.data])), meta };
}

export interface InitReport {
  readonly loaded: number;
  /** Parameters the checkpoint lacks (they keep their initial values). */
  readonly missing: readonly string[];
  /** Checkpoint entries that name no parameter of the model. */
  readonly extra: readonly string[];
}

/**
 * Copies weights by path from any checkpoint format (safetensors, PyTorch zip or legacy) into
 * `values`. Wrong shapes are an error listing every mismatch with the expected shape; missing
 * and extra keys are reported by name.
 */
export function initFromCheckpoint(file: string, params: readonly ParamInfo[], values: Map<string, TensorArray>): InitReport {
  if (!fs.existsSync(file)) throw new UserError(`--init checkpoint not found: ${file}`, "check the path");
  const { tensors } = readCheckpoint(file);
  const shapes = paramShapes(params);
  const misshaped: string[] = [];
  const missing: string[] = [];
  let loaded = 0;
  for (const p of params) {
    const t = tensors.get(p.path);
    if (!t) {
      missing.push(p.path);
      continue;
    }
    const expected = shapes.get(p.path)!;
    if (t.shape.length !== expected.length || t.shape.some((d, i) => d !== expected[i])) {
      misshaped.push(`${p.path}: the checkpoint has [${t.shape.join(", ")}], the model expects [${expected.join(", ")}]`);
      continue;
    }
    const target = values.get(p.path)!;
    if ((target instanceof Int32Array) !== (t.data instanceof Int32Array)) {
      misshaped.push(`${p.path}: the checkpoint holds ${t.dtype}, the model expects ${p.dtype}`);
      continue;
    }
    target.set(t.data);
    loaded++;
  }
  if (misshaped.length > 0) {
    throw new UserError(`${file} does not fit the model: ${misshaped.length} tensors have the wrong shape:\n    ${misshaped.join("\n    ")}`, "use the preset and --set values the checkpoint was trained with");
  }
  const known = new Set(params.map((p) => p.path));
  const extra = [...tensors.keys()].filter((k) => !known.has(k) && !STATE_PREFIXES.some((p) => k.startsWith(p)));
  if (loaded === 0) {
    throw new UserError(`${file} has no tensor named like a parameter of this model (first keys: ${[...tensors.keys()].slice(0, 4).join(", ")})`, "the keys must be the model's parameter paths (see `ivc info`); convert the checkpoint's key names first");
  }
  return { loaded, missing, extra };
}
