/**
 * Test plumbing: one device per test file, and `run()` which uploads named arrays, dispatches kernels
 * whose bindings are matched to buffers by name, and reads back the requested outputs.
 */
import type { Kernel } from "../../compiler/codegen/kernel.ts";
import { profileFor, type AdapterProfile } from "../../compiler/codegen/kernel.ts";
import { Executor, type BufferId, type Step } from "../../runtime/executor.ts";
import { requestGpu, type GpuContext } from "../../runtime/gpu.ts";
import { PipelineCache } from "../../runtime/pipeline-cache.ts";

export type HostArray = Float32Array | Int32Array | Uint32Array;

export interface KernelHarness {
  readonly gpu: GpuContext;
  readonly profile: AdapterProfile;
  /**
   * `data`: arrays are uploaded; numbers allocate zeroed buffers of that many elements.
   * `steps`: kernels (bindings matched to buffers of the same name) or explicit steps.
   */
  run(
    steps: readonly (Kernel | Step)[],
    data: Record<string, HostArray | number>,
    outputs: readonly string[],
    dynamic?: { step?: number; seed?: number; lr?: number },
  ): Promise<Record<string, Float32Array>>;
  destroy(): void;
}

export async function openHarness(): Promise<KernelHarness> {
  const gpu = await requestGpu();
  const profile = profileFor(gpu.info, gpu.device.features as ReadonlySet<string>);
  const pipelines = new PipelineCache(gpu.device);
  return {
    gpu,
    profile,
    async run(steps, data, outputs, dynamic) {
      const plan = Object.entries(data).map(([id, v]) => ({ bufferId: id, bytes: 4 * (typeof v === "number" ? v : v.length) }));
      const ex = new Executor(gpu.device, plan, { pipelineCache: pipelines });
      try {
        for (const [id, v] of Object.entries(data)) if (typeof v !== "number") ex.write(id, v);
        const resolved: Step[] = steps.map((s) => ("wgsl" in s ? { kernel: s, buffers: sameNames(s) } : s));
        await ex.load(resolved.flatMap((s) => ("kernel" in s ? [s.kernel] : [])));
        if (dynamic) ex.setDynamic(dynamic);
        ex.run(resolved);
        const result: Record<string, Float32Array> = {};
        for (const name of outputs) {
          const v = data[name];
          result[name] = await ex.read(name, typeof v === "number" ? v : v.length);
        }
        return result;
      } finally {
        ex.destroy();
      }
    },
    destroy: () => gpu.destroy(),
  };
}

function sameNames(k: Kernel): Record<string, BufferId> {
  const out: Record<string, BufferId> = {};
  for (const b of k.bindings) if (b.kind === "storage") out[b.name] = b.name;
  return out;
}

/** Deterministic pseudo-random data (mulberry32), so a failure reproduces. */
export function randomArray(n: number, seed: number, lo = -1, hi = 1): Float32Array {
  let s = seed >>> 0;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    out[i] = lo + (hi - lo) * (((t ^ (t >>> 14)) >>> 0) / 4294967296);
  }
  return out;
}

/**
 * max |got - want| / (|want|_inf + tiny), i.e. error relative to the tensor's scale. Elementwise
 * relative error is meaningless where the true value is a cancellation near zero.
 */
export function relError(got: ArrayLike<number>, want: ArrayLike<number>): number {
  if (got.length < want.length) return Infinity;
  let scale = 0;
  for (let i = 0; i < want.length; i++) scale = Math.max(scale, Math.abs(want[i]));
  let err = 0;
  for (let i = 0; i < want.length; i++) {
    const d = Math.abs(got[i] - want[i]);
    if (!(d <= err)) err = Number.isNaN(d) ? Infinity : d;
  }
  return err / (scale + 1e-30);
}
