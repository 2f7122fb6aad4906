/**
 * Per-kernel GPU time with timestamp queries: each dispatch runs in its own compute pass whose
 * beginning and end are timestamped. Meant for finding hot kernels, not for steady-state step time
 * (the extra passes and the readback add overhead of their own).
 */
import type { Grid } from "../compiler/codegen/kernel.ts";
import { settle } from "./gpu.ts";

export interface TimedDispatch {
  readonly label: string;
  readonly pipeline: GPUComputePipeline;
  readonly bindGroup: GPUBindGroup;
  readonly grid: Grid;
}

export interface KernelTiming {
  readonly label: string;
  readonly ms: number;
}

export class TimestampsUnavailableError extends Error {
  constructor() {
    super("the device was created without the 'timestamp-query' feature, so kernels cannot be timed on the GPU");
  }
}

export async function timeDispatches(device: GPUDevice, dispatches: readonly TimedDispatch[]): Promise<KernelTiming[]> {
  if (!device.features.has("timestamp-query")) throw new TimestampsUnavailableError();
  if (dispatches.length === 0) return [];
  const count = dispatches.length * 2;
  const querySet = device.createQuerySet({ type: "timestamp", count });
  const resolve = device.createBuffer({ size: count * 8, usage: GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC });
  const readback = device.createBuffer({ size: count * 8, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
  try {
    const encoder = device.createCommandEncoder();
    dispatches.forEach((d, i) => {
      const pass = encoder.beginComputePass({ timestampWrites: { querySet, beginningOfPassWriteIndex: 2 * i, endOfPassWriteIndex: 2 * i + 1 } });
      pass.setPipeline(d.pipeline);
      pass.setBindGroup(0, d.bindGroup);
      pass.dispatchWorkgroups(d.grid[0], d.grid[1], d.grid[2]);
      pass.end();
    });
    encoder.resolveQuerySet(querySet, 0, count, resolve, 0);
    encoder.copyBufferToBuffer(resolve, 0, readback, 0, count * 8);
    device.queue.submit([encoder.finish()]);
    await settle(readback.mapAsync(GPUMapMode.READ));
    const ticks = new BigUint64Array(readback.getMappedRange().slice(0));
    readback.unmap();
    return dispatches.map((d, i) => ({ label: d.label, ms: Number(ticks[2 * i + 1] - ticks[2 * i]) / 1e6 }));
  } finally {
    querySet.destroy();
    resolve.destroy();
    readback.destroy();
  }
}
