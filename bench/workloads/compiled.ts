/**
 * Workloads over whole compiled models: the UniFormerV2-B/16 forward through ProgramRunner, and the
 * compile time of a model from source text to a Program.
 */
import { compileModel } from "../../compiler/pipeline.ts";
import { bindDims } from "../../compiler/schedule/bind.ts";
import { buildProgram } from "../../compiler/schedule/program.ts";
import { hasErrors } from "../../diagnostics/index.ts";
import { initParams } from "../../runtime/init/index.ts";
import { ProgramRunner } from "../../runtime/program-runner.ts";
import { adapterName, batchFor, graphFlops, profileOf, pseudoRandom, repoPath, sharedGpu } from "../common.ts";
import { currentLoad, gbpsAt, gflopsAt, sampleMs, summarize, type BenchOptions, type BenchResult, type Workload } from "../harness.ts";

function mustCompile(...args: Parameters<typeof compileModel>) {
  const c = compileModel(...args);
  if (hasErrors(c.diagnostics) || !c.graph) {
    const first = c.diagnostics.find((d) => d.severity === "error");
    throw new Error(`${args[0]} does not compile: ${first?.message ?? "no graph"}`);
  }
  return c;
}

/**
 * Runs the program once (compiling its pipelines), then the rest of the warm-up, then the timed runs,
 * each one submit + wait; with the executor's dispatch and submit counts per timed run.
 */
async function sampleRunner(runner: ProgramRunner, opts: BenchOptions) {
  const ex = runner.executor;
  const once = async () => {
    runner.run();
    await ex.idle();
  };
  const t0 = performance.now();
  await once();
  const firstSeconds = (performance.now() - t0) / 1000;
  for (let i = 1; i < opts.warmup; i++) await once();
  const before = { ...ex.stats };
  const samples = await sampleMs(once, { runs: opts.runs, warmup: 0 });
  return {
    samples,
    firstSeconds,
    dispatches_per_step: (ex.stats.dispatches - before.dispatches) / opts.runs,
    submits_per_step: (ex.stats.submits - before.submits) / opts.runs,
  };
}

export function forwardWorkload(spec: { name: string; file: string; preset: string; batch: number }): Workload {
  return {
    name: spec.name,
    description: `${spec.file} preset ${spec.preset}, eval forward of ${spec.batch} clip(s), one submit (ProgramRunner)`,
    async run(opts: BenchOptions): Promise<BenchResult> {
      const gpu = await sharedGpu();
      const compiled = mustCompile(repoPath(spec.file), { preset: spec.preset });
      const graph = bindDims(compiled.graph!, { B: spec.batch });
      const flops = graphFlops(graph);
      const program = buildProgram(graph, profileOf(gpu));
      const runner = await ProgramRunner.create(gpu, program);
      try {
        const init = initParams(compiled.graph!.params, 7);
        for (const p of program.params) runner.write(p.name, init.get(p.name)!);
        const inputs = batchFor(graph, {}, [0, 1]);
        for (const i of program.inputs) runner.write(i.name, inputs[i.name]!);
        const { samples, firstSeconds, dispatches_per_step, submits_per_step } = await sampleRunner(runner, opts);
        opts.log(`  first run (pipelines compiled) ${firstSeconds.toFixed(1)} s`);
        const out = await runner.read(program.outputs[0]!.name);
        if (!out.every(Number.isFinite)) throw new Error(`${spec.name}: the output is not finite`);
        const s = summarize(samples);
        return {
          workload: spec.name,
          ...s,
          unit: "ms",
          gflops: gflopsAt(s, "ms", flops),
          dispatches_per_step,
          submits_per_step,
          peak_bytes: program.peakBytes,
          loadavg: currentLoad(),
          notes: `${adapterName(gpu)}; ${(flops / 1e9).toFixed(1)} GFLOP per run (2 x multiply-adds of matmuls and convolutions), ${program.steps.length} kernels`,
        };
      } finally {
        runner.destroy();
      }
    },
  };
}

/**
 * bench/elementwise.ivm, x * sigmoid(1.702 x) * y over [1, 2048, 2048]: the pointwise kernel the
 * compiler generates for it, run through ProgramRunner; GB/s of the 3 compulsory streams.
 */
export function elementwiseWorkload(): Workload {
  const file = "bench/elementwise.ivm";
  const n = 2048 * 2048;
  return {
    name: "elementwise_4m",
    description: `out = x * sigmoid(1.702 x) * y over ${n} f32, compiled from ${file} (one pointwise kernel; GB/s of the 3 compulsory streams)`,
    async run(opts: BenchOptions): Promise<BenchResult> {
      const gpu = await sharedGpu();
      const compiled = mustCompile(repoPath(file), { preset: "bench" });
      const program = buildProgram(bindDims(compiled.graph!, { B: 1 }), profileOf(gpu));
      if (program.steps.length !== 1) throw new Error(`${file}: expected one kernel, the compiler made ${program.steps.length}`);
      const runner = await ProgramRunner.create(gpu, program);
      try {
        const [x, y] = [pseudoRandom(n, 3), pseudoRandom(n, 4)];
        const [xName, yName] = program.inputs.map((i) => i.name);
        runner.write(xName!, x);
        runner.write(yName!, y);
        const { samples, dispatches_per_step, submits_per_step } = await sampleRunner(runner, opts);
        const out = await runner.read(program.outputs[0]!.name);
        for (const i of [0, n >> 1, n - 1]) {
          const want = (x[i]! / (1 + Math.exp(-1.702 * x[i]!))) * y[i]!;
          if (!(Math.abs(out[i]! - want) < 1e-5)) throw new Error(`elementwise_4m: out[${i}] = ${out[i]}, expected ${want}`);
        }
        const s = summarize(samples);
        const gbps = gbpsAt(s, "ms", 3 * 4 * n);
        return {
          workload: "elementwise_4m",
          ...s,
          unit: "ms",
          gbps,
          dispatches_per_step,
          submits_per_step,
          peak_bytes: program.peakBytes,
          target: ">= 12 GB/s",
          met: gbps >= 12,
          loadavg: currentLoad(),
          notes: `${adapterName(gpu)}, ${program.steps[0]!.kernel.name} (workgroup ${program.steps[0]!.kernel.workgroupSize[0]})`,
        };
      } finally {
        runner.destroy();
      }
    },
  };
}

export interface CompileSpec {
  readonly name: string;
  readonly file: string;
  readonly preset: string;
  readonly stage: string;
  /** Seconds; recorded beside the figure. */
  readonly targetSeconds?: number;
}

/** Source text to Program: parse, resolve, elaborate, simplify, differentiate, bind the batch, fuse, codegen, plan memory. */
export function compileWorkload(spec: CompileSpec): Workload {
  return {
    name: spec.name,
    description: `${spec.file} --preset ${spec.preset} --train (stage ${spec.stage}): compileModel with differentiate, bindDims, buildProgram`,
    async run(opts: BenchOptions): Promise<BenchResult> {
      // The adapter only picks tile shapes; compiling never touches the device.
      const profile = profileOf(await sharedGpu());
      let last: { nodes: number; kernels: number; peak: number; batch: number } | undefined;
      const once = async () => {
        const c = mustCompile(repoPath(spec.file), { preset: spec.preset, stage: spec.stage, differentiate: true });
        const batch = typeof c.elaborated?.stage?.settings.batch === "number" ? c.elaborated.stage.settings.batch : 1;
        const program = buildProgram(bindDims(c.graph!, { B: batch }), profile);
        last = { nodes: c.graph!.nodes.length, kernels: program.steps.length, peak: program.peakBytes, batch };
      };
      const samples = (await sampleMs(once, opts)).map((ms) => ms / 1000);
      const s = summarize(samples);
      const target = spec.targetSeconds !== undefined ? { target: `< ${spec.targetSeconds} s`, met: s.median < spec.targetSeconds } : {};
      return {
        workload: spec.name,
        ...s,
        unit: "s",
        dispatches_per_step: last!.kernels,
        peak_bytes: last!.peak,
        ...target,
        loadavg: currentLoad(),
        notes: `${last!.nodes} graph nodes -> ${last!.kernels} kernels at batch ${last!.batch} (the stage's); peak = the Program's memory plan`,
      };
    },
  };
}

export const uniformerB16Forward = forwardWorkload({ name: "uniformerv2_k400_b16_forward", file: "models/uniformerv2.ivm", preset: "k400_b16", batch: 1 });

export const compileInternVideo = compileWorkload({ name: "compile_internvideo_full", file: "models/internvideo.ivm", preset: "full", stage: "interaction", targetSeconds: 3 });
