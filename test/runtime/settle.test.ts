/**
 * `settle` waits for dawn.node's promises without letting dawn's setImmediate loop take a core:
 * native callbacks (dawn's) sleep before they run, every other caller keeps the real setImmediate.
 */
import { readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { settle } from "../../compiler/bundle/runtime-support.ts";
import type { GpuContext } from "../../runtime/gpu.ts";
import { openGpu } from "../backend/gpu-helpers.ts";

const later = (ms: number) => new Promise<string>((resolve) => setTimeout(() => resolve("done"), ms));

describe("settle", () => {
  it("restores setImmediate and passes results and errors through", async () => {
    const real = globalThis.setImmediate;
    expect(await settle(later(5))).toBe("done");
    expect(globalThis.setImmediate).toBe(real);
    await expect(settle(later(3).then(() => Promise.reject(new Error("lost device"))))).rejects.toThrow("lost device");
    expect(globalThis.setImmediate).toBe(real);
  });

  it("keeps the real setImmediate for JS callbacks and runs native ones after a sleep", async () => {
    const real = globalThis.setImmediate;
    const seen: string[] = [];
    const probe = later(2).then(() => {
      expect(globalThis.setImmediate).not.toBe(real);
      const cancelled = setImmediate(() => seen.push("cancelled"));
      clearImmediate(cancelled);
      setImmediate(() => seen.push("js"));
      // A native function, as dawn.node passes: it must still be called.
      setImmediate(Array.prototype.push.bind(seen, "native"));
    });
    await Promise.all([settle(later(20)), settle(probe)]);
    expect(globalThis.setImmediate).toBe(real);
    expect(seen.sort()).toEqual(["js", "native"]);
  });
});

/** CPU seconds this thread has used (utime + stime, in clock ticks of 10 ms). */
function threadCpuMs(): number {
  const fields = readFileSync("/proc/thread-self/stat", "utf8").split(") ")[1]!.split(" ");
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

describe("settle on Dawn", () => {
  let gpu: GpuContext;
  beforeAll(async () => {
    gpu = await openGpu();
  });
  afterAll(() => gpu?.destroy());

  it("leaves the cores to the driver while a long kernel runs", async () => {
    const d = gpu.device;
    const out = d.createBuffer({ size: 4 * 64, usage: GPUBufferUsage.STORAGE });
    // Each lane spins through a dependent chain the compiler cannot fold: tens of milliseconds on lavapipe.
    const module = d.createShaderModule({
      code: `@group(0) @binding(0) var<storage, read_write> o: array<f32>;
        @compute @workgroup_size(8) fn main(@builtin(global_invocation_id) g: vec3<u32>) {
          var x = f32(g.x);
          for (var i = 0u; i < 4000000u; i++) { x = fract(x * 1.0001 + 0.37); }
          o[g.x] = x;
        }`,
    });
    const pipeline = d.createComputePipeline({ layout: "auto", compute: { module, entryPoint: "main" } });
    const group = d.createBindGroup({ layout: pipeline.getBindGroupLayout(0), entries: [{ binding: 0, resource: { buffer: out } }] });
    const run = async () => {
      const enc = d.createCommandEncoder();
      const pass = enc.beginComputePass();
      pass.setPipeline(pipeline);
      pass.setBindGroup(0, group);
      pass.dispatchWorkgroups(8);
      pass.end();
      d.queue.submit([enc.finish()]);
      await gpu.idle();
    };
    await run();
    const cpu0 = threadCpuMs();
    const t0 = performance.now();
    await run();
    const wall = performance.now() - t0;
    const cpu = threadCpuMs() - cpu0;
    out.destroy();
    // dawn.node's own loop keeps this thread at 80-100% of a core; with settle it mostly sleeps.
    expect(wall).toBeGreaterThan(20);
    expect(cpu / wall).toBeLessThan(0.4);
  });
});
