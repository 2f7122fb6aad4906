/** Loads the PyTorch parity fixtures (scripts/fixtures/gen_parity.py) and compiles their model. */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { renderDiagnostics } from "../../diagnostics/index.ts";
import { compileModel } from "../../compiler/pipeline.ts";
import type { Graph } from "../../compiler/ir/types.ts";
import { loadCheckpoint } from "../../runtime/io/checkpoint.ts";
import { readNpy } from "../../runtime/io/npy.ts";

export const PARITY_DIR = "test/fixtures/parity";

export interface ParityCase {
  readonly name: string;
  readonly model_file: string;
  readonly model: string;
  readonly preset: string;
  readonly set: string[];
  readonly mode: string;
  readonly checkpoint: { pth: string; safetensors: string };
  readonly inputs: Record<string, { file: string; shape: number[] }>;
  readonly outputs: Record<string, { file: string; shape: number[] }>;
}

export function parityCases(): ParityCase[] {
  return JSON.parse(readFileSync(join(PARITY_DIR, "manifest.json"), "utf8")).cases;
}

export interface LoadedCase {
  readonly graph: Graph;
  readonly params: Record<string, Float32Array | Int32Array>;
  readonly inputs: Record<string, Float32Array | Int32Array>;
  readonly expected: Float32Array;
  readonly batch: number;
}

export function loadCase(c: ParityCase, format: "safetensors" | "pth" = "safetensors"): LoadedCase {
  const compiled = compileModel(c.model_file, { preset: c.preset, set: c.set, model: c.model });
  if (!compiled.graph) throw new Error(renderDiagnostics(compiled.diagnostics, compiled.sources as Map<string, string>, {}));
  const checkpoint = loadCheckpoint(join(PARITY_DIR, c.checkpoint[format]));
  const params: Record<string, Float32Array | Int32Array> = {};
  const missing: string[] = [];
  for (const p of compiled.graph.params) {
    const t = checkpoint.get(p.path);
    if (t) params[p.path] = t.data as Float32Array | Int32Array;
    else if (!p.path.endsWith("num_batches_tracked")) missing.push(p.path);
  }
  if (missing.length) throw new Error(`checkpoint lacks ${missing.join(", ")}`);
  const inputs: Record<string, Float32Array | Int32Array> = {};
  for (const [name, spec] of Object.entries(c.inputs)) inputs[name] = readNpy(join(PARITY_DIR, spec.file)).data as Float32Array;
  const out = Object.values(c.outputs)[0]!;
  const expected = readNpy(join(PARITY_DIR, out.file)).data as Float32Array;
  return { graph: compiled.graph, params, inputs, expected, batch: Object.values(c.inputs)[0]!.shape[0]! };
}

/** Largest absolute difference relative to the largest reference magnitude. */
export function relativeError(got: ArrayLike<number>, want: ArrayLike<number>): number {
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < want.length; i++) {
    diff = Math.max(diff, Math.abs(got[i]! - want[i]!));
    scale = Math.max(scale, Math.abs(want[i]!));
  }
  return diff / Math.max(scale, 1e-30);
}
