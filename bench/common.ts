/**
 * What the workloads share: one lazily opened device for the kernel and forward workloads (the
 * training engine opens its own), deterministic inputs, and FLOP counts from the graph.
 */
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { type AdapterProfile, profileFor } from "../compiler/codegen/kernel.ts";
import { nodeFlops } from "../compiler/info/index.ts";
import { evalShape } from "../compiler/ir/dims.ts";
import type { DType, Graph } from "../compiler/ir/types.ts";
import { type GpuContext, requestGpu } from "../runtime/gpu.ts";

export const REPO = resolve(dirname(fileURLToPath(import.meta.url)), "..");
export const repoPath = (p: string) => resolve(REPO, p);

let shared: Promise<GpuContext> | undefined;

export function sharedGpu(): Promise<GpuContext> {
  shared ??= requestGpu();
  return shared;
}

export function profileOf(gpu: GpuContext): AdapterProfile {
  return profileFor(gpu.info, gpu.device.features as unknown as ReadonlySet<string>);
}

export function adapterName(gpu: GpuContext): string {
  return `${gpu.info.description || gpu.info.device || gpu.info.architecture} (${gpu.info.backend})`;
}

export async function closeSharedGpu(): Promise<void> {
  if (!shared) return;
  const gpu = await shared.catch(() => undefined);
  shared = undefined;
  gpu?.destroy();
}

/** Deterministic values in [lo, hi) (xorshift): every run of the bench feeds the same data. */
export function pseudoRandom(n: number, seed: number, lo = -1, hi = 1): Float32Array {
  let s = seed >>> 0 || 1;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    out[i] = lo + ((s >>> 0) / 2 ** 32) * (hi - lo);
  }
  return out;
}

/** A batch for every input of a graph: f32 inputs uniform in [lo, hi), integer inputs (labels, ids) zero. */
export function batchFor(graph: Graph, dims: Record<string, number>, range: [number, number] = [-1, 1]): Record<string, Float32Array | Int32Array> {
  const out: Record<string, Float32Array | Int32Array> = {};
  graph.inputs.forEach((input, k) => {
    const n = evalShape(input.shape, dims).reduce((a, b) => a * b, 1);
    out[input.name] = (input.dtype as DType) === "f32" ? pseudoRandom(n, 17 + k, range[0], range[1]) : new Int32Array(n);
  });
  return out;
}

/** FLOPs (2 per multiply-add) of the matmuls and convolutions of a graph whose dims are bound. */
export function graphFlops(graph: Graph): number {
  const byId = new Map(graph.nodes.map((n) => [n.id, n]));
  return 2 * graph.nodes.reduce((a, n) => a + nodeFlops(n, byId, {}), 0);
}
