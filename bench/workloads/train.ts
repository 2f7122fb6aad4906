/**
 * Training-step workloads on the GPU engine: a whole step (forward, backward, optimizer update) is one
 * submit; each sample is one `engine.step` plus the wait for the device, so it is the step as training
 * runs it. Dispatches and submits per step come from the engine's executor counters.
 */
import type { EngineSetup } from "../../runtime/train/engine.ts";
import { GpuEngine } from "../../runtime/gpu-train/engine.ts";
import { initParams } from "../../runtime/init/index.ts";
import { compileStage, defaultDiagnosticsSink, type CompiledStage } from "../../runtime/train/compile-stage.ts";
import { layerLrScales, optimizerFromCall } from "../../runtime/train/optim.ts";
import type { Executor } from "../../runtime/executor.ts";
import { bindDims } from "../../compiler/schedule/bind.ts";
import type { StoragePrecision } from "../../compiler/schedule/plan.ts";
import { buildProgram } from "../../compiler/schedule/program.ts";
import { batchFor, graphFlops, profileOf, repoPath, sharedGpu } from "../common.ts";
import { currentLoad, gflopsAt, sampleMs, summarize, type BenchOptions, type BenchResult, type Workload } from "../harness.ts";

export interface TrainSpec {
  readonly name: string;
  readonly description: string;
  readonly file: string;
  readonly preset: string;
  readonly set?: readonly string[];
  readonly stage: string;
  readonly batch: number;
  /** Range of the f32 inputs: clips are pixels in [0, 1], token tensors centred values. */
  readonly inputRange: [number, number];
  /** "f16": activations stored as f16 (`ivc train --precision f16`); needs shader-f16. */
  readonly precision?: StoragePrecision;
  readonly target?: { readonly text: string; readonly met: (r: { ms: number; dispatches: number; submits: number }) => boolean };
}

function engineSetup(stage: CompiledStage): EngineSetup {
  const optimizer = optimizerFromCall(stage.spec.optim);
  const decay = new Map(stage.params.map((p) => [p.path, p.decay]));
  const scales = layerLrScales(stage.trainable, optimizer.layerDecay);
  return {
    train: stage.train,
    evalLoss: stage.evalLoss,
    evalForward: stage.evalForward,
    params: stage.params,
    optimizer,
    trainable: stage.trainable.map((p) => ({ path: p, decay: decay.get(p)!, lrScale: scales.get(p)! })),
    clipGradNorm: stage.settings.clipGradNorm,
    ema: stage.settings.ema,
    initial: initParams(stage.params, 7),
  };
}

/** Arena bytes the engine adds to the program's plan: optimizer state and EMA, one packed copy each. */
function engineStateBytes(setup: EngineSetup): number {
  const trainable = setup.trainable.reduce((a, t) => a + setup.initial.get(t.path)!.length, 0);
  const copies = (setup.optimizer.kind === "adamw" ? 2 : 1) + (setup.ema !== undefined ? 1 : 0);
  return copies * 4 * trainable;
}

/**
 * The engine keeps its executor private; the bench reads its counters and waits on it (TypeScript's
 * element access reaches private members) rather than widening the engine's API for measurement.
 */
function executorOf(engine: GpuEngine): Executor {
  const ex = engine["executor"];
  if (!ex) throw new Error("internal: the GPU engine has no executor yet");
  return ex;
}

export function trainWorkload(spec: TrainSpec): Workload {
  return {
    name: spec.name,
    description: spec.description,
    async run(opts: BenchOptions): Promise<BenchResult> {
      const stage = compileStage({ file: repoPath(spec.file), preset: spec.preset, set: spec.set ?? [] }, spec.stage, defaultDiagnosticsSink);
      const setup = engineSetup(stage);
      const bound = bindDims(stage.train, { B: spec.batch });
      const flops = graphFlops(bound);
      // The engine builds this same program internally; built here for its memory plan.
      // An adapter without shader-f16 fails the f16 workloads in the engine, with its message.
      const precision = spec.precision ?? "f32";
      const program = buildProgram(bound, profileOf(await sharedGpu()), { precision });
      const batch = batchFor(stage.train, { B: spec.batch }, spec.inputRange);
      const engine = new GpuEngine(setup, { precision, autotune: opts.autotune, log: opts.log });
      try {
        let k = 0;
        const t0 = performance.now();
        await engine.step(batch, { step: k, lr: 1e-4, seed: k });
        k++;
        const ex = executorOf(engine);
        await ex.idle();
        opts.log(`  first step (pipelines compiled) ${((performance.now() - t0) / 1000).toFixed(1)} s`);
        const once = async () => {
          await engine.step(batch, { step: k, lr: 1e-4, seed: k });
          k++;
          await ex.idle();
        };
        for (let i = 1; i < opts.warmup; i++) await once();
        const before = { ...ex.stats };
        const samples = await sampleMs(once, { runs: opts.runs, warmup: 0 });
        const dispatches = (ex.stats.dispatches - before.dispatches) / opts.runs;
        const submits = (ex.stats.submits - before.submits) / opts.runs;
        const loss = await engine.lastLoss();
        if (!Number.isFinite(loss)) throw new Error(`${spec.name}: the loss after ${k} steps is ${loss}`);
        const s = summarize(samples);
        return {
          workload: spec.name,
          ...s,
          unit: "ms",
          gflops: gflopsAt(s, "ms", flops),
          dispatches_per_step: dispatches,
          submits_per_step: submits,
          peak_bytes: program.peakBytes + engineStateBytes(setup),
          ...(spec.target ? { target: spec.target.text, met: spec.target.met({ ms: s.median, dispatches, submits }) } : {}),
          loadavg: currentLoad(),
          notes:
            `${(flops / 1e9).toFixed(2)} GFLOP/step (matmul+conv)${opts.autotune ? ", autotuned" : ""}, batch ${spec.batch}, ${stage.trainable.length} trainable tensors; ` +
            `peak = program plan ${(program.peakBytes / 2 ** 20).toFixed(1)} MiB + optimizer state; loss after ${k} steps ${loss.toPrecision(4)}`,
        };
      } finally {
        engine.dispose();
      }
    },
  };
}

export const VIT_BLOCK_STEP: TrainSpec = {
  name: "vit_block_step",
  description: "bench/vit_block.ivm: pre-LN ViT block (dim 256, 4 heads, MLP x4, erf GELU) on [2, 392, 256], loss mean(y^2), forward + backward + AdamW",
  file: "bench/vit_block.ivm",
  preset: "bench",
  stage: "step",
  batch: 2,
  inputRange: [-1, 1],
  target: { text: "<= 350 ms, <= 40 dispatches, 1 submit", met: (r) => r.ms <= 350 && r.dispatches <= 40 && r.submits === 1 },
};

export const UNIFORMER_TINY_STEP: TrainSpec = {
  name: "uniformerv2_tiny_step",
  description: "models/uniformerv2.ivm preset tiny, stage finetune, batch 8 (8x32x32 clips): forward + backward + clipping + AdamW",
  file: "models/uniformerv2.ivm",
  preset: "tiny",
  stage: "finetune",
  batch: 8,
  inputRange: [0, 1],
  target: { text: "1 submit", met: (r) => r.submits === 1 },
};

/** The same step with f16 activation storage: what `--precision f16` costs or saves on this adapter. */
function halfStorage(spec: TrainSpec): TrainSpec {
  return { ...spec, name: `${spec.name}_f16`, description: `${spec.description}; activations stored as f16`, precision: "f16", target: undefined };
}

export const vitBlockStep = trainWorkload(VIT_BLOCK_STEP);
export const vitBlockStepF16 = trainWorkload(halfStorage(VIT_BLOCK_STEP));
export const uniformerTinyStep = trainWorkload(UNIFORMER_TINY_STEP);
export const uniformerTinyStepF16 = trainWorkload(halfStorage(UNIFORMER_TINY_STEP));
