/**
 * Writing a bundle directory. The bundle is assembled in a sibling temporary directory and renamed
 * into place, so a failed compile never leaves a half-written bundle, and recompiling replaces the
 * old one whole (no stale kernels). A non-empty directory that is not a bundle is never replaced.
 */
import { accessSync, constants, existsSync, mkdirSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { basename, dirname, join, resolve } from "node:path";
import { UserError } from "../../cli/errors.ts";
import type { Kernel } from "../codegen/kernel.ts";
import type { ParamInfo } from "../ir/types.ts";
import { loadCheckpoint } from "../../runtime/io/checkpoint.ts";
import { type TensorToWrite, writeSafetensors } from "../../runtime/io/safetensors.ts";
import type { BundleCode } from "./entry.ts";
import { kernelFile, type Manifest, portable } from "./manifest.ts";

export interface BundleFiles {
  readonly manifest: Manifest;
  readonly kernels: readonly Kernel[];
  readonly code: BundleCode;
  /** Tensors for weights.safetensors, by parameter path. */
  readonly weights?: ReadonlyMap<string, TensorToWrite>;
}

function cannotWrite(dir: string, e: unknown): UserError {
  const code = (e as NodeJS.ErrnoException).code;
  const why =
    code === "EACCES" || code === "EPERM"
      ? "permission denied"
      : code === "ENOTDIR" || code === "EEXIST"
        ? "a file is in the way"
        : (e as Error).message;
  return new UserError(`cannot write the bundle to ${dir}: ${why}`, "choose another -o directory");
}

/**
 * Fails early (before compiling) when `dir` cannot become a bundle: a file is in the way, it is a
 * non-empty directory without a bundle (never replaced), or its nearest existing parent is not writable.
 */
export function checkTarget(dir: string): void {
  if (!existsSync(dir)) {
    let parent = dirname(resolve(dir));
    while (!existsSync(parent)) parent = dirname(parent);
    if (!statSync(parent).isDirectory())
      throw new UserError(`cannot write the bundle to ${dir}: ${parent} is a file`, "choose another -o directory");
    try {
      accessSync(parent, constants.W_OK);
    } catch {
      throw new UserError(`cannot write the bundle to ${dir}: ${parent} is not writable`, "choose another -o directory");
    }
    return;
  }
  if (!statSync(dir).isDirectory())
    throw new UserError(`cannot write the bundle to ${dir}: it is a file`, "choose another -o directory");
  const entries = readdirSync(dir);
  if (entries.length > 0 && !entries.includes("manifest.json")) {
    throw new UserError(`${dir} is not empty and holds no bundle; refusing to replace it`, "choose an empty or new -o directory");
  }
}

export function writeBundle(dir: string, files: BundleFiles): { bytes: number } {
  const target = resolve(dir);
  checkTarget(target);
  const temp = join(dirname(target), `.${basename(target)}.partial-${process.pid}`);
  let bytes = 0;
  const put = (rel: string, data: string | Uint8Array) => {
    writeFileSync(join(temp, rel), data);
    bytes += typeof data === "string" ? Buffer.byteLength(data) : data.byteLength;
  };
  try {
    mkdirSync(dirname(target), { recursive: true });
    rmSync(temp, { recursive: true, force: true });
    mkdirSync(join(temp, "kernels"), { recursive: true });
  } catch (e) {
    throw cannotWrite(dir, e);
  }
  try {
    put("manifest.json", `${JSON.stringify(files.manifest, null, 1)}\n`);
    // Only the header comments hold paths; code never does.
    for (const k of files.kernels)
      put(
        kernelFile(k.name),
        k.wgsl.replace(/^\/\/.*$/gm, (line) => portable(line)),
      );
    for (const [name, text] of Object.entries(files.code)) put(name, text);
    if (files.weights) {
      writeSafetensors(join(temp, "weights.safetensors"), files.weights, { format: "pt", source: "ivc compile" });
      bytes += statSync(join(temp, "weights.safetensors")).size;
    }
    rmSync(target, { recursive: true, force: true });
    renameSync(temp, target);
  } catch (e) {
    rmSync(temp, { recursive: true, force: true });
    throw e instanceof UserError ? e : cannotWrite(dir, e);
  }
  return { bytes };
}

/** Reads a checkpoint and keeps the model's parameters, checked against their declared shapes. */
export function bundleWeights(
  file: string,
  params: readonly ParamInfo[],
): { tensors: Map<string, TensorToWrite>; unused: string[] } {
  const loaded = loadCheckpoint(file);
  const tensors = new Map<string, TensorToWrite>();
  const missing: string[] = [];
  for (const p of params) {
    const t = loaded.get(p.path);
    if (!t) {
      missing.push(p.path);
      continue;
    }
    const want = p.shape as number[];
    const count = want.reduce((a, b) => a * b, 1);
    if (t.data.length !== count) {
      throw new UserError(
        `${file}: '${p.path}' has shape [${t.shape.join(", ")}]; the model declares [${want.join(", ")}]`,
        "is the checkpoint for this preset and config?",
      );
    }
    tensors.set(
      p.path,
      p.dtype === "f32"
        ? { dtype: "F32", shape: want, data: t.data instanceof Float32Array ? t.data : Float32Array.from(t.data) }
        : { dtype: "I32", shape: want, data: t.data instanceof Int32Array ? t.data : Int32Array.from(t.data) },
    );
  }
  if (missing.length > 0) {
    throw new UserError(
      `${file} lacks ${missing.length} of the model's ${params.length} parameters: ${missing.slice(0, 6).join(", ")}${missing.length > 6 ? ", ..." : ""}`,
      "bundle weights are keyed by parameter path (see `ivc info`); map the checkpoint's keys first",
    );
  }
  const known = new Set(params.map((p) => p.path));
  return { tensors, unused: [...loaded.keys()].filter((k) => !known.has(k)) };
}
