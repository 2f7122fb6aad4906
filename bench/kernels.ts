/**
 * Kernel throughput on the current adapter: matmul 1024^3 (GFLOP/s), a fused elementwise kernel
 * (GB/s of compulsory traffic), LayerNorm and softmax (GB/s), flash attention forward and backward
 * (GFLOP/s counted as 4*L*L*d per head forward, 2.5x that backward, which also runs the stats kernel).
 *
 * Each sample is one submit holding `reps` back-to-back dispatches, timed wall-clock around the
 * wait, so submit latency is amortised. Usage: npx tsx bench/kernels.ts [--quick]
 */
import { attentionBackward, attentionForward, attentionStats } from "../compiler/codegen/attention.ts";
import { elementwise, type EwExpr } from "../compiler/codegen/elementwise.ts";
import { profileFor, type AdapterProfile, type Kernel } from "../compiler/codegen/kernel.ts";
import { matmul } from "../compiler/codegen/matmul.ts";
import { layerNorm, softmax } from "../compiler/codegen/normalization.ts";
import { cpus, loadavg } from "node:os";
import { Executor, type Step } from "../runtime/executor.ts";
import { requestGpu } from "../runtime/gpu.ts";

interface Case {
  readonly name: string;
  readonly unit: "GFLOP/s" | "GB/s";
  /** FLOPs or bytes per repetition. */
  readonly work: number;
  readonly kernels: Kernel[];
  /** Buffer sizes in f32 elements. */
  readonly buffers: Record<string, number>;
  /** Bindings per kernel; default: binding name = buffer name. */
  readonly steps?: (k: Kernel[]) => Step[];
  readonly reps: number;
}

const quick = process.argv.includes("--quick");
const SAMPLES = quick ? 3 : 7;

function cases(profile: AdapterProfile): Case[] {
  const n = 1024;
  const ewN = 4 * 1024 * 1024;
  const x: EwExpr = { op: "input", input: "x" };
  const y: EwExpr = { op: "input", input: "y" };
  const [rows, dim] = [784 * 2, 1024];
  const att = { batch: 2, heads: 4, lq: 392, lk: 392, d: 64 };
  const attFlops = 4 * att.batch * att.heads * att.lq * att.lk * att.d;
  const attBuffers = { q: 2 * 4 * 392 * 64, k: 2 * 4 * 392 * 64, v: 2 * 4 * 392 * 64, o: 2 * 4 * 392 * 64, stats: 2 * 4 * 392 * 2, dout: 2 * 4 * 392 * 64, dq: 2 * 4 * 392 * 64, dk: 2 * 4 * 392 * 64, dv: 2 * 4 * 392 * 64 };
  return [
    {
      name: "matmul 1024^3",
      unit: "GFLOP/s",
      work: 2 * n ** 3,
      kernels: [matmul({ batch: 1, M: n, N: n, K: n }, profile)],
      buffers: { A: n * n, B: n * n, C: n * n },
      reps: quick ? 1 : 3,
    },
    {
      name: "matmul 1568x1024x256 +bias+gelu",
      unit: "GFLOP/s",
      work: 2 * 1568 * 1024 * 256,
      kernels: [matmul({ batch: 1, M: 1568, N: 1024, K: 256, epilogue: { steps: ["ivc_gelu_erf(v + bias[col])"], inputs: ["bias"] } }, profile)],
      buffers: { A: 1568 * 256, B: 256 * 1024, C: 1568 * 1024, bias: 1024 },
      reps: quick ? 1 : 3,
    },
    {
      name: "elementwise gelu(x)*y, 4M",
      unit: "GB/s",
      work: 3 * 4 * ewN,
      kernels: [
        elementwise({
          shape: [ewN],
          inputs: [
            { name: "x", dtype: "f32", strides: [1] },
            { name: "y", dtype: "f32", strides: [1] },
          ],
          outputs: [{ name: "out", dtype: "f32", expr: { op: "binary", fn: "mul", a: { op: "binary", fn: "mul", a: x, b: { op: "unary", fn: "sigmoid", x: { op: "binary", fn: "mul", a: x, b: { op: "const", value: 1.702 } } } }, b: y } }],
        }),
      ],
      buffers: { x: ewN, y: ewN, out: ewN },
      reps: quick ? 2 : 5,
    },
    {
      name: `layernorm+residual ${rows}x${dim}`,
      unit: "GB/s",
      work: 4 * rows * dim * 4,
      kernels: [layerNorm({ rows, length: dim, eps: 1e-5, residual: true }, profile)],
      buffers: { x: rows * dim, res: rows * dim, gamma: dim, beta: dim, y: rows * dim, h: rows * dim, mean: rows, rstd: rows },
      reps: quick ? 2 : 5,
    },
    {
      name: `softmax ${rows}x${dim}`,
      unit: "GB/s",
      work: 2 * rows * dim * 4,
      kernels: [softmax({ rows, length: dim }, profile)],
      buffers: { x: rows * dim, y: rows * dim },
      reps: quick ? 2 : 5,
    },
    {
      name: "attention fwd 8x392x392x64",
      unit: "GFLOP/s",
      work: attFlops,
      kernels: [attentionForward(att, profile)],
      buffers: attBuffers,
      reps: quick ? 1 : 3,
    },
    {
      name: "attention bwd 8x392x392x64",
      unit: "GFLOP/s",
      work: 2.5 * attFlops,
      kernels: [attentionStats(att, profile), ...attentionBackward(att, profile)],
      buffers: attBuffers,
      reps: 1,
    },
  ];
}

function sameNames(k: Kernel): Record<string, string> {
  const out: Record<string, string> = {};
  for (const b of k.bindings) if (b.kind === "storage") out[b.name] = b.name;
  return out;
}

async function main() {
  const gpu = await requestGpu();
  const profile = profileFor(gpu.info, gpu.device.features as ReadonlySet<string>);
  console.log(`adapter: ${gpu.info.description || gpu.info.device} (${gpu.info.backend}), profile ${JSON.stringify(profile)}`);
  // lavapipe runs on the CPU: other processes change every number here, so say how busy it was.
  const load = () => `load average ${loadavg()[0].toFixed(1)} on ${cpus().length} CPUs`;
  console.log(`start: ${load()}`);
  const rows: string[][] = [];
  for (const c of cases(profile)) {
    const ex = new Executor(
      gpu.device,
      Object.entries(c.buffers).map(([bufferId, n]) => ({ bufferId, bytes: n * 4 })),
    );
    for (const [id, n] of Object.entries(c.buffers)) ex.write(id, Float32Array.from({ length: n }, (_, i) => Math.sin(i * 0.37) * 0.5));
    await ex.load(c.kernels);
    const once: Step[] = c.steps ? c.steps(c.kernels) : c.kernels.map((k) => ({ kernel: k, buffers: sameNames(k) }));
    const rec = ex.record(Array.from({ length: c.reps }, () => once).flat());
    ex.submit(rec); // first dispatch compiles on lavapipe; keep it out of the samples
    await ex.idle();
    const rates: number[] = [];
    for (let s = 0; s < SAMPLES; s++) {
      const t0 = performance.now();
      ex.submit(rec);
      await ex.idle();
      const seconds = (performance.now() - t0) / 1000 / c.reps;
      rates.push(c.work / seconds / 1e9);
    }
    ex.destroy();
    rates.sort((a, b) => a - b);
    const f = (v: number) => v.toFixed(1);
    rows.push([c.name, c.unit, f(rates[Math.floor(rates.length / 2)]), f(rates[0]), f(rates[rates.length - 1])]);
    console.error(`  done: ${c.name}`);
  }
  const header = ["kernel", "unit", "median", "min", "max"];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (r: string[]) => r.map((v, i) => (i === 0 ? v.padEnd(widths[i]) : v.padStart(widths[i]))).join("  ");
  console.log(line(header));
  for (const r of rows) console.log(line(r));
  console.log(`end: ${load()}`);
  gpu.destroy();
}

await main();
