/**
 * Per-dispatch timing of a workload's program, so the table shows where the step's time goes and
 * which kernels to attack first. Where the adapter has timestamp queries, each kernel's GPU time
 * inside one submit of the whole program (each dispatch in its own timestamped pass); else, or with
 * `--alone`, every dispatch submitted alone and waited for, which adds one submit + wait round trip
 * (0.1-0.2 ms) to each.
 *
 * Usage: npx tsx bench/profile.ts [vit_block_step | uniformerv2_tiny_step | uniformerv2_k400_b16_forward]
 *        [--reps N] [--top N] [--alone] [--json PATH]
 * (the train workloads profile the forward+backward program; the engine's optimizer update adds one
 * dispatch over the packed parameters, and the gradient-norm pair where the stage clips).
 */
import { writeFileSync } from "node:fs";
import { compileModel } from "../compiler/pipeline.ts";
import { bindDims } from "../compiler/schedule/bind.ts";
import { buildProgram, type Program } from "../compiler/schedule/program.ts";
import type { Graph } from "../compiler/ir/types.ts";
import type { Recording } from "../runtime/executor.ts";
import { initParams } from "../runtime/init/index.ts";
import { ProgramRunner } from "../runtime/program-runner.ts";
import { compileStage, defaultDiagnosticsSink } from "../runtime/train/compile-stage.ts";
import { adapterName, batchFor, closeSharedGpu, graphFlops, profileOf, repoPath, sharedGpu } from "./common.ts";
import { currentLoad, summarize } from "./harness.ts";
import { type TrainSpec, UNIFORMER_TINY_STEP, VIT_BLOCK_STEP } from "./workloads/train.ts";

interface Target {
  readonly graph: Graph;
  readonly params: Graph["params"];
  readonly dims: Record<string, number>;
  readonly range: [number, number];
}

function trainTarget(spec: TrainSpec): Target {
  const stage = compileStage({ file: repoPath(spec.file), preset: spec.preset, set: spec.set ?? [] }, spec.stage, defaultDiagnosticsSink);
  return { graph: stage.train, params: stage.params, dims: { B: spec.batch }, range: spec.inputRange };
}

function target(name: string): Target {
  if (name === VIT_BLOCK_STEP.name) return trainTarget(VIT_BLOCK_STEP);
  if (name === UNIFORMER_TINY_STEP.name) return trainTarget(UNIFORMER_TINY_STEP);
  if (name === "uniformerv2_k400_b16_forward") {
    const c = compileModel(repoPath("models/uniformerv2.ivm"), { preset: "k400_b16" });
    return { graph: c.graph!, params: c.graph!.params, dims: { B: 1 }, range: [0, 1] };
  }
  throw new Error(`no profile for '${name}'; try ${VIT_BLOCK_STEP.name}, ${UNIFORMER_TINY_STEP.name} or uniformerv2_k400_b16_forward`);
}

/** The kind a kernel was lowered as, from the name buildProgram gives it (`k012_matmul_<source>`). */
function kernelKind(name: string): string {
  return /^k\d+_([a-z0-9]+)/.exec(name)?.[1] ?? name.split("_")[0]!;
}

interface DispatchTime {
  readonly index: number;
  readonly kernel: string;
  readonly kind: string;
  readonly ms: number;
}

async function profileProgram(
  program: Program,
  feed: (runner: ProgramRunner) => void,
  reps: number,
  alone: boolean,
): Promise<{ whole: number; dispatches: DispatchTime[]; method: string }> {
  const gpu = await sharedGpu();
  const runner = await ProgramRunner.create(gpu, program);
  try {
    feed(runner);
    const ex = runner.executor;
    const time = async (run: () => void) => {
      const samples: number[] = [];
      for (let r = 0; r < reps; r++) {
        const t0 = performance.now();
        run();
        await ex.idle();
        samples.push(performance.now() - t0);
      }
      return summarize(samples).median;
    };
    runner.run();
    await ex.idle();
    const whole = await time(() => runner.run());
    const kernels = program.steps.map((s) => s.kernel.name);
    const entry = (i: number, ms: number): DispatchTime => ({ index: i, kernel: kernels[i]!, kind: kernelKind(kernels[i]!), ms });
    if (!alone && gpu.device.features.has("timestamp-query")) {
      const recording = ex.record(program.steps.map((s) => ({ kernel: s.kernel, buffers: s.buffers })));
      const runs: number[][] = [];
      for (let r = 0; r < reps; r++) runs.push((await ex.profile(recording)).map((t) => t.ms));
      const dispatches = kernels.map((_, i) => entry(i, summarize(runs.map((ms) => ms[i]!)).median));
      return { whole, dispatches, method: "GPU timestamps, each dispatch in its own pass of one submit" };
    }
    // Recorded once each, so the timed loop is the submit and the wait only.
    const recordings: Recording[] = program.steps.map((s) => ex.record([{ kernel: s.kernel, buffers: s.buffers }]));
    const dispatches: DispatchTime[] = [];
    for (let i = 0; i < recordings.length; i++) dispatches.push(entry(i, await time(() => ex.submit(recordings[i]!))));
    return { whole, dispatches, method: "each dispatch submitted alone and waited for" };
  } finally {
    runner.destroy();
  }
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const flag = (name: string, fallback: number) => {
    const i = args.indexOf(name);
    return i >= 0 ? Number(args[i + 1]) : fallback;
  };
  const jsonAt = args.indexOf("--json");
  const name = args.find((a, i) => !a.startsWith("--") && !args[i - 1]?.startsWith("--")) ?? VIT_BLOCK_STEP.name;
  const reps = flag("--reps", 5);
  const top = flag("--top", 15);
  const t = target(name);
  const graph = bindDims(t.graph, t.dims);
  const gpu = await sharedGpu();
  const program = buildProgram(graph, profileOf(gpu));
  const init = initParams(t.params.map((p) => ({ ...p, shape: p.shape.map((d) => (typeof d === "number" ? d : t.dims[d] ?? 1)) })), 7);
  const inputs = batchFor(t.graph, t.dims, t.range);
  console.log(`${name} on ${adapterName(gpu)}: ${program.steps.length} dispatches, ${(graphFlops(graph) / 1e9).toFixed(2)} GFLOP, load ${currentLoad().join(" ")}`);
  const { whole, dispatches, method } = await profileProgram(
    program,
    (runner) => {
      for (const p of program.params) runner.write(p.name, init.get(p.name)!);
      for (const i of program.inputs) runner.write(i.name, inputs[i.name]!);
    },
    reps,
    args.includes("--alone"),
  );
  const sum = dispatches.reduce((a, d) => a + d.ms, 0);
  console.log(`whole program in one submit: ${whole.toFixed(1)} ms; sum of the dispatches' times: ${sum.toFixed(1)} ms (${method})`);
  const byKind = new Map<string, { n: number; ms: number }>();
  for (const d of dispatches) {
    const k = byKind.get(d.kind) ?? { n: 0, ms: 0 };
    byKind.set(d.kind, { n: k.n + 1, ms: k.ms + d.ms });
  }
  console.log("\nby kind:");
  for (const [kind, v] of [...byKind].sort((a, b) => b[1].ms - a[1].ms)) console.log(`  ${kind.padEnd(10)} ${String(v.n).padStart(4)} dispatches  ${v.ms.toFixed(1).padStart(8)} ms  ${((100 * v.ms) / sum).toFixed(1).padStart(5)}%`);
  console.log(`\nslowest ${top}:`);
  for (const d of [...dispatches].sort((a, b) => b.ms - a.ms).slice(0, top)) console.log(`  ${d.ms.toFixed(2).padStart(8)} ms  ${((100 * d.ms) / sum).toFixed(1).padStart(5)}%  ${d.kernel}`);
  if (jsonAt >= 0) writeFileSync(args[jsonAt + 1]!, `${JSON.stringify({ workload: name, whole_ms: whole, method, loadavg: currentLoad(), dispatches }, null, 2)}\n`);
}

try {
  await main();
} finally {
  await closeSharedGpu();
}
