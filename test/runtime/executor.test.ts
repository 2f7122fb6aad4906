import { mkdtempSync, readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { elementwise } from "../../compiler/codegen/elementwise.ts";
import type { Kernel } from "../../compiler/codegen/kernel.ts";
import { randomFill } from "../../compiler/codegen/rng.ts";
import { KernelCompileError } from "../../runtime/compile-error.ts";
import { Executor } from "../../runtime/executor.ts";
import { requestGpu, type GpuContext } from "../../runtime/gpu.ts";
import { kernelHash } from "../../compiler/codegen/kernel-hash.ts";
import { PipelineCache } from "../../runtime/pipeline-cache.ts";

let gpu: GpuContext;
beforeAll(async () => {
  gpu = await requestGpu();
});
afterAll(() => gpu?.destroy());

/** out = x * factor + 1, over n elements. */
function scaleKernel(n: number, factor: number, source: string[] = []): Kernel {
  return elementwise({
    shape: [n],
    inputs: [{ name: "x", dtype: "f32", strides: [1] }],
    outputs: [{ name: "out", dtype: "f32", expr: { op: "binary", fn: "add", a: { op: "binary", fn: "mul", a: { op: "input", input: "x" }, b: { op: "const", value: factor } }, b: { op: "const", value: 1 } } }],
    name: `scale_${factor}`,
    source,
  });
}

describe("executor", () => {
  it("runs a chain of dispatches as one command buffer and one compute pass", async () => {
    const n = 100;
    const ex = new Executor(gpu.device, [
      { bufferId: "a", bytes: n * 4 },
      { bufferId: "b", bytes: n * 4 },
      { bufferId: "c", bytes: n * 4 },
    ]);
    const k2 = scaleKernel(n, 2);
    const k3 = scaleKernel(n, 3);
    await ex.load([k2, k3]);
    ex.write("a", Float32Array.from({ length: n }, (_, i) => i));
    const rec = ex.record([
      { kernel: k2, buffers: { x: "a", out: "b" } },
      { kernel: k3, buffers: { x: "b", out: "c" } },
      { kernel: k2, buffers: { x: "c", out: "a" } },
    ]);
    expect(rec).toMatchObject({ dispatches: 3, passes: 1 });
    ex.submit(rec);
    expect(ex.stats).toMatchObject({ commandBuffers: 1, passes: 1, dispatches: 3, submits: 1 });
    const out = await ex.read("a", n);
    for (let i = 0; i < n; i++) expect(out[i]).toBe(((i * 2 + 1) * 3 + 1) * 2 + 1);
    ex.destroy();
  });

  it("splits the pass only around a clear step", async () => {
    const ex = new Executor(gpu.device, [
      { bufferId: "a", bytes: 64 },
      { bufferId: "b", bytes: 64 },
    ]);
    const k = scaleKernel(16, 1);
    await ex.load([k]);
    ex.write("a", new Float32Array(16).fill(5));
    const rec = ex.record([{ clear: "a" }, { kernel: k, buffers: { x: "a", out: "b" } }]);
    expect(rec.passes).toBe(1);
    ex.submit(rec);
    expect([...(await ex.read("b", 16))]).toEqual(new Array(16).fill(1));
    ex.destroy();
  });

  it("compiles each distinct shader once and writes it to the disk cache by hash", async () => {
    const dir = mkdtempSync(join(tmpdir(), "ivc-wgsl-"));
    const cache = new PipelineCache(gpu.device, dir);
    const a = new Executor(gpu.device, [], { pipelineCache: cache });
    const b = new Executor(gpu.device, [], { pipelineCache: cache });
    const k = scaleKernel(8, 7);
    const sameText = scaleKernel(8, 7);
    await Promise.all([a.load([k, sameText]), b.load([scaleKernel(8, 7), scaleKernel(8, 9)])]);
    expect(cache.stats.compiled).toBe(2);
    expect(cache.stats.hits).toBe(2);
    expect(readdirSync(dir).sort()).toEqual([`${kernelHash(k)}.wgsl`, `${kernelHash(scaleKernel(8, 9))}.wgsl`].sort());
    expect(cache.sourceOnDisk(kernelHash(k))).toBe(k.wgsl);
    a.destroy();
    b.destroy();
  });

  it("reports a WGSL compile error with the kernel name, the offending line and the .ivm source", async () => {
    const good = scaleKernel(4, 2, ["models/tiny.ivm:12:5  y = x * 2 + 1"]);
    const broken: Kernel = { ...good, name: "broken_scale", wgsl: good.wgsl.replace(/let ivc_e = ivc_i \* \d+u;/, "let ivc_e = ivc_i * undefined_thing;") };
    const ex = new Executor(gpu.device, []);
    const err = await ex.load([broken]).catch((e) => e);
    expect(err).toBeInstanceOf(KernelCompileError);
    const msg = (err as Error).message;
    expect(msg).toContain("kernel 'broken_scale'");
    expect(msg).toContain("undefined_thing");
    expect(msg).toMatch(/line \d+:\d+/);
    expect(msg).toContain("let ivc_e = ivc_i * undefined_thing;");
    expect(msg).toContain("models/tiny.ivm:12:5  y = x * 2 + 1");
    ex.destroy();
  });

  it("rejects writable aliasing and missing bindings at record time, naming the kernel", async () => {
    const ex = new Executor(gpu.device, [
      { bufferId: "a", bytes: 64 },
      { bufferId: "big", bytes: 1024 },
    ]);
    const k = scaleKernel(16, 1);
    await ex.load([k]);
    expect(() => ex.record([{ kernel: k, buffers: { x: "a", out: "a" } }])).toThrow(/scale_1.*'a' is bound to both/);
    expect(() => ex.record([{ kernel: k, buffers: { x: "a" } }])).toThrow(/no buffer given for binding 'out'/);
    // Disjoint ranges of one buffer may be read and written by one dispatch (offsets 256-aligned).
    const range = (offset: number, size = 256) => ({ id: "big", offset, size });
    expect(() => ex.record([{ kernel: k, buffers: { x: range(0, 512), out: range(256) } }])).toThrow(/'big' is bound to both/);
    expect(() => ex.record([{ kernel: k, buffers: { x: range(0), out: range(256) } }])).not.toThrow();
    ex.destroy();
  });

  it("times each kernel of a recording with timestamp queries", async () => {
    if (!gpu.device.features.has("timestamp-query")) return;
    const n = 4096;
    const ex = new Executor(gpu.device, [
      { bufferId: "a", bytes: n * 4 },
      { bufferId: "b", bytes: n * 4 },
    ]);
    const k = scaleKernel(n, 2);
    await ex.load([k]);
    const rec = ex.record([{ kernel: k, buffers: { x: "a", out: "b" } }, { clear: "a" }, { kernel: k, buffers: { x: "b", out: "a" } }]);
    ex.write("a", new Float32Array(n).fill(1));
    const timings = await ex.profile(rec);
    expect(timings.map((t) => t.label)).toEqual(["scale_2", "scale_2"]);
    for (const t of timings) expect(t.ms).toBeGreaterThanOrEqual(0);
    // The recording really ran: b = 1*2+1, then a was cleared and rewritten from b.
    expect((await ex.read("a", 4))[0]).toBe(7);
    ex.destroy();
  });

  it("serves overlapping reads of one buffer (they share a staging buffer)", async () => {
    const ex = new Executor(gpu.device, [
      { bufferId: "a", bytes: 64 },
      { bufferId: "b", bytes: 64 },
    ]);
    ex.write("a", new Float32Array(16).fill(3));
    ex.write("b", new Float32Array(16).fill(4));
    const [a1, a2, b1] = await Promise.all([ex.read("a", 16), ex.read("a", 4), ex.read("b", 16)]);
    expect([...a1]).toEqual(new Array(16).fill(3));
    expect([...a2]).toEqual(new Array(4).fill(3));
    expect([...b1]).toEqual(new Array(16).fill(4));
    ex.destroy();
  });

  it("writes per-step dynamic values once per submit, without rebuilding bind groups", async () => {
    const ex = new Executor(gpu.device, [{ bufferId: "r", bytes: 64 }]);
    const k = randomFill({ count: 16, dist: "uniform", stream: 1 });
    await ex.load([k]);
    const rec = ex.record([{ kernel: k, buffers: { out: "r" } }]);
    ex.setDynamic({ seed: 1 });
    ex.submit(rec);
    const first = await ex.read("r", 16);
    ex.setDynamic({ seed: 2 });
    ex.submit(rec);
    const second = await ex.read("r", 16);
    ex.setDynamic({ seed: 1 });
    ex.submit(rec);
    expect([...second]).not.toEqual([...first]);
    expect([...(await ex.read("r", 16))]).toEqual([...first]);
    ex.destroy();
  });
});
