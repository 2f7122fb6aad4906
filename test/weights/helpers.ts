/** Shared set-up for the weight-mapping tests: compiled parity models and their committed checkpoints. */
import { join } from "node:path";
import { compileModel } from "../../compiler/pipeline.ts";
import type { ParamInfo } from "../../compiler/ir/types.ts";
import type { LoadedTensor } from "../../runtime/io/dtype.ts";
import { readCheckpoint } from "../../runtime/io/checkpoint.ts";
import { PARITY_DIR, type ParityCase, parityCases } from "../parity/parity-helpers.ts";

export function parityCase(name: string): ParityCase {
  const c = parityCases().find((x) => x.name === name);
  if (!c) throw new Error(`no parity case ${name}`);
  return c;
}

const compiledParams = new Map<string, readonly ParamInfo[]>();

export function paramsOf(file: string, opts: { preset?: string; set?: readonly string[]; model?: string }): readonly ParamInfo[] {
  const key = JSON.stringify([file, opts]);
  if (!compiledParams.has(key)) {
    const compiled = compileModel(file, opts);
    if (!compiled.graph) throw new Error(compiled.diagnostics.map((d) => d.message).join("\n"));
    compiledParams.set(key, compiled.graph.params);
  }
  return compiledParams.get(key)!;
}

export function caseParams(name: string, extraSet: readonly string[] = []): readonly ParamInfo[] {
  const c = parityCase(name);
  return paramsOf(c.model_file, { preset: c.preset, set: [...c.set, ...extraSet], model: c.model });
}

export function caseTensors(name: string, format: "pth" | "safetensors" = "pth"): Map<string, LoadedTensor> {
  return readCheckpoint(join(PARITY_DIR, parityCase(name).checkpoint[format])).tensors;
}

/** InternVideo configured so that its branches have the parity fixtures' shapes. */
export const INTERNVIDEO_SET = [
  "frames=8",
  "size=16",
  "mae.frames=8",
  "mae.size=16",
  "mae.patch=4",
  "mae.width=16",
  "mae.depth=2",
  "mae.heads=2",
  "mae.decoder_width=8",
  "mae.decoder_depth=1",
  "mae.decoder_heads=2",
  "mml.frames=8",
  "mml.size=16",
  "mml.patch=4",
  "mml.width=16",
  "mml.layers=3",
  "mml.heads=2",
  "mml.global_layers=2",
  // The published 1xPxP embedding, as in the uniformerv2_k400_tiny fixture (the tiny preset uses 3xPxP).
  "mml.temporal_downsample=false",
];

export function internVideoParams(): readonly ParamInfo[] {
  return paramsOf("models/internvideo.ivm", { preset: "tiny", set: INTERNVIDEO_SET });
}

/** A tensor of `shape` with distinct values, so a wrong routing shows up. */
export function tensor(shape: number[], seed: number): LoadedTensor {
  const n = shape.reduce((a, b) => a * b, 1);
  return { shape, dtype: "F32", data: Float32Array.from({ length: n }, (_, i) => seed + i * 1e-3) };
}

/** Re-keys a state dict: `rename` returns the new key, or undefined to leave the tensor out. */
export function rekey(
  tensors: ReadonlyMap<string, LoadedTensor>,
  rename: (key: string) => string | undefined,
): Map<string, LoadedTensor> {
  const out = new Map<string, LoadedTensor>();
  for (const [k, v] of tensors) {
    const to = rename(k);
    if (to !== undefined) out.set(to, v);
  }
  return out;
}
