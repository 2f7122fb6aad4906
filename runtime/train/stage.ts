/**
 * Trains one stage: initial weights (fresh, from the previous stage, from --init, or resumed), the step
 * loop with logging, held-out evaluation and checkpoints, and the run directory's files.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { UserError } from "../../cli/errors.ts";
import { ClipLoader } from "../data/loader.ts";
import { Rng } from "../data/rng.ts";
import { initParams } from "../init/index.ts";
import { assertVocabularyFits, type Tokenizer } from "../text/tokenizer.ts";
import { type CheckpointMeta, initFromCheckpoint, paramShapes, readTrainCheckpoint, saveCheckpoint } from "./checkpoint.ts";
import type { CompiledStage } from "./compile-stage.ts";
import { curvesSvg } from "./curves.ts";
import { engineBatch, stageData } from "./data.ts";
import type { StoragePrecision } from "../../compiler/schedule/plan.ts";
import { type EngineKind, type TensorArray, type TrainEngine, createEngine } from "./engine.ts";
import { evaluateHeldOut, type EvalResult } from "./evaluate.ts";
import { MetricsLog } from "./metrics.ts";
import { layerLrScales, optimizerFromCall } from "./optim.ts";
import type { Progress } from "./progress.ts";
import { writeRunJson } from "./run-json.ts";
import { learningRate, scheduleFromCall } from "./schedule.ts";

export interface StageOptions {
  readonly data?: string;
  /** Synthetic data only: every clip's frames in a random order (the temporal-order control). */
  readonly shuffleFrames?: boolean;
  readonly steps?: number;
  readonly epochs?: number;
  readonly batch?: number;
  readonly lr?: number;
  readonly seed?: number;
  readonly init?: string;
  readonly resume: boolean;
  /** Undefined: the stage's `eval_every`, else 50. */
  readonly evalEvery?: number;
  readonly saveEvery: number;
  readonly logEvery: number;
  readonly evalClips: number;
  /** Stop once this many steps are done (the schedule still spans the whole run); resume later. */
  readonly stopAt?: number;
  readonly engine: EngineKind;
  /** "f16": the GPU engine stores forward activations as f16 (`--precision f16`); f32 by default. */
  readonly precision?: StoragePrecision;
  /** Time the GPU kernels' tile widths on this adapter first (`--autotune`), reusing earlier results. */
  readonly autotune?: boolean;
  readonly signal?: AbortSignal;
  /** Turns captions into token rows (`--tokenizer`); byte-level when absent. */
  readonly tokenizer?: Tokenizer;
}

export interface StageResult {
  readonly stage: string;
  readonly outDir: string;
  readonly status: "finished" | "already finished" | "stopped early" | "interrupted";
  readonly stepsDone: number;
  readonly totalSteps: number;
  readonly loss?: number;
  readonly eval?: EvalResult;
  readonly secondsPerStep?: number;
  /** Parameters and buffers at the end, for the next stage. */
  readonly weights: Map<string, TensorArray>;
}

const STEP_SEED_STREAM = 0x57e9;

/** The seed of step `step`'s random nodes: a function of (run seed, step) only, so resumed runs match. */
export function stepSeed(seed: number, step: number): number {
  return Rng.fromKey(seed, STEP_SEED_STREAM, step).nextUint32();
}

export const stepCheckpointName = (step: number) => `step-${String(step).padStart(6, "0")}.safetensors`;

function resumeState(file: string, stage: CompiledStage, opts: StageOptions, mustExist: boolean) {
  if (!opts.resume) {
    if (fs.existsSync(file)) {
      throw new UserError(`${path.dirname(file)} already holds a training checkpoint`, "pass --resume to continue that run, or choose another --out");
    }
    return undefined;
  }
  if (!fs.existsSync(file)) {
    if (mustExist) throw new UserError(`nothing to resume: ${file} does not exist`, "run without --resume to start training, or point --out at the run to continue");
    return undefined;
  }
  const saved = readTrainCheckpoint(file);
  const m = saved.meta;
  if (m.model !== stage.modelName || m.stage !== stage.name) {
    throw new UserError(`${file} is a checkpoint of ${m.model} stage ${m.stage}, not ${stage.modelName} stage ${stage.name}`, "point --out at the run of this stage");
  }
  if (opts.seed !== undefined && opts.seed !== m.seed) throw new UserError(`the checkpoint was trained with --seed ${m.seed}, not ${opts.seed}`, "resume with the same seed (or leave --seed out)");
  if (opts.batch !== undefined && opts.batch !== m.batch) throw new UserError(`the checkpoint was trained with --batch ${m.batch}, not ${opts.batch}`, "resume with the same batch (or leave --batch out)");
  const precision = opts.precision ?? "f32";
  if (precision !== m.precision) throw new UserError(`the checkpoint was trained with --precision ${m.precision}, not ${precision}`, `resume with --precision ${m.precision}: a run continues bit-identically only in the precision it started with`);
  return saved;
}

export async function trainStage(stage: CompiledStage, opts: StageOptions, outDir: string, previous: ReadonlyMap<string, TensorArray> | undefined, progress: Progress): Promise<StageResult> {
  const log = (line: string) => progress.log(line);
  const checkpointFile = path.join(outDir, "checkpoint.safetensors");
  const saved = resumeState(checkpointFile, stage, opts, previous === undefined);
  const seed = saved?.meta.seed ?? opts.seed ?? 0;
  const batch = saved?.meta.batch ?? opts.batch ?? stage.settings.batch ?? 8;
  const evalEvery = opts.evalEvery ?? stage.settings.evalEvery ?? 50;
  const data = stageData(stage.spec.data, { data: opts.data, evalClips: opts.evalClips, shuffleFrames: opts.shuffleFrames ?? false });
  if (opts.tokenizer) assertVocabularyFits(opts.tokenizer, stage.params);
  const loader = new ClipLoader(data.train, { batchSize: batch, seed, shuffle: true });
  const perEpoch = loader.batchesPerEpoch();
  if (perEpoch === 0) throw new UserError(`the training data has ${data.train.length} clips, fewer than one batch of ${batch}`, "lower --batch or add data");
  const epochs = opts.epochs ?? (opts.steps === undefined ? stage.settings.epochs : undefined);
  const total = opts.steps ?? (epochs !== undefined ? epochs * perEpoch : saved?.meta.totalSteps ?? stage.settings.steps);
  if (total === undefined) throw new UserError(`stage ${stage.name} sets no \`steps\``, "pass --steps N or --epochs E, or add `steps N` to the stage");
  const optimizer = optimizerFromCall(stage.spec.optim, opts.lr ?? saved?.meta.lr);
  const schedule = scheduleFromCall(stage.spec.schedule);
  const shapes = paramShapes(stage.params);
  const startStep = saved?.meta.step ?? 0;

  const weights = initParams(stage.params, seed);
  if (previous) {
    let carried = 0;
    for (const [p, v] of previous) {
      const target = weights.get(p);
      if (target && target.length === v.length && target.constructor === v.constructor) {
        target.set(v);
        carried++;
      }
    }
    log(`[${stage.name}] initialised ${carried} of ${weights.size} tensors from the previous stage`);
  } else if (opts.init && !saved) {
    const report = initFromCheckpoint(opts.init, stage.params, weights);
    log(`[${stage.name}] --init ${opts.init}: loaded ${report.loaded} tensors`);
    if (report.missing.length) log(`  missing from the checkpoint (kept their initial values): ${report.missing.map((p) => `${p} [${shapes.get(p)!.join(", ")}]`).join(", ")}`);
    if (report.extra.length) log(`  in the checkpoint but not in the model (ignored): ${report.extra.join(", ")}`);
  }

  const decayOf = new Map(stage.params.map((p) => [p.path, p.decay]));
  const lrScales = layerLrScales(stage.trainable, optimizer.layerDecay);
  const engine = createEngine(
    opts.engine,
    {
    train: stage.train,
    evalLoss: stage.evalLoss,
    evalForward: stage.evalForward,
    params: stage.params,
    optimizer,
    trainable: stage.trainable.map((p) => ({ path: p, decay: decayOf.get(p)!, lrScale: lrScales.get(p)! })),
    clipGradNorm: stage.settings.clipGradNorm,
    ema: stage.settings.ema,
    initial: weights,
    },
    { precision: opts.precision, autotune: opts.autotune, log },
  );
  try {
    await engine.whenReady();
    if (saved) {
      try {
        await engine.load(saved.state);
      } catch (e) {
        throw new UserError(`${checkpointFile} does not match the model: ${(e as Error).message}`, "resume with the preset and --set values the run was started with");
      }
    }
    log(`[${stage.name}] ${stage.modelName}: ${stage.trainable.length} parameter tensors train (${stage.trainableCount.toLocaleString("en-US")} values), ${stage.frozen.length} frozen (${stage.frozenCount.toLocaleString("en-US")} values)`);
    log(`[${stage.name}] data ${data.description}; ${total} steps of batch ${batch} (${perEpoch} per epoch), ${optimizer.kind} lr ${optimizer.lr}, engine ${engine.description}, out ${outDir}`);
    for (const key of stage.settings.unknown) log(`[${stage.name}] warning: stage setting \`${key}\` is not used by ivc train`);
    if (saved) log(`[${stage.name}] resuming at step ${startStep} from ${checkpointFile}`);
    const run = { stage, opts, outDir, seed, batch, total, perEpoch, optimizer, schedule, data: data.description, engine: engine.description };
    if (startStep >= total) {
      log(`[${stage.name}] already finished (${startStep}/${total} steps)`);
      return { stage: stage.name, outDir, status: "already finished", stepsDone: startStep, totalSteps: total, weights: await paramWeights(engine, stage) };
    }
    writeRunJson(run, { status: "running", step: startStep });

    const metrics = new MetricsLog(path.join(outDir, "metrics.jsonl"), saved ? startStep : undefined);
    const inputs = stage.train.inputs;
    const stopAt = Math.min(total, opts.stopAt ?? total);
    const lossEvery = opts.engine === "cpu" ? 1 : opts.logEvery;
    let step = startStep;
    let lastSaved = saved ? startStep : undefined;
    let loss = Number.NaN;
    let lastEval: EvalResult | undefined;
    const started = performance.now();
    let evalSeconds = 0;
    let windowStart = started;
    let windowStep = step;
    let status: StageResult["status"] = stopAt < total ? "stopped early" : "finished";

    // A checkpoint is written only once a later loss has shown its weights to be finite: the weights
    // saved after step s produce the loss of step s + 1, so a divergence there must not replace the
    // last good checkpoint. `flush` writes the pending snapshot once that is known (or at the end).
    let pending: { state: Map<string, TensorArray>; meta: CheckpointMeta; withStepFile: boolean } | undefined;
    const flush = () => {
      if (!pending) return;
      if (pending.withStepFile) saveCheckpoint(path.join(outDir, "checkpoints", stepCheckpointName(pending.meta.step)), pending.state, shapes, pending.meta);
      saveCheckpoint(checkpointFile, pending.state, shapes, pending.meta);
      lastSaved = pending.meta.step;
      pending = undefined;
    };
    const snapshot = async (withStepFile: boolean) => {
      const meta: CheckpointMeta = {
        model: stage.modelName,
        stage: stage.name,
        step,
        totalSteps: total,
        seed,
        batch,
        epoch: Math.floor(step / perEpoch),
        batchInEpoch: step % perEpoch,
        optimizer: optimizer.kind,
        lr: optimizer.lr,
        precision: opts.precision ?? "f32",
      };
      pending = { state: await engine.state(), meta, withStepFile };
    };
    const finishFiles = (extra: Record<string, unknown>) => {
      fs.writeFileSync(path.join(outDir, "curves.svg"), curvesSvg(metrics.rows, `${stage.modelName} ${stage.name}`));
      writeRunJson(run, { step, loss, eval: lastEval, ...extra });
    };

    training: while (step < stopAt) {
      for await (const b of loader.epoch(Math.floor(step / perEpoch), step % perEpoch)) {
        const lr = learningRate(schedule, optimizer.lr, step, total);
        await engine.step(engineBatch(b, inputs, stage.classes, opts.tokenizer), { step, lr, seed: stepSeed(seed, step) });
        step++;
        const evalNow = step % evalEvery === 0 || step === total;
        const saveNow = step % opts.saveEvery === 0 || step === stopAt;
        const interrupted = opts.signal?.aborted === true;
        const logNow = step % opts.logEvery === 0 || step === stopAt || evalNow || interrupted;
        if (step % lossEvery === 0 || logNow || saveNow) {
          loss = await engine.lastLoss();
          if (Number.isFinite(loss)) flush();
          else {
            metrics.append({ step, stage: stage.name, loss, lr, clips_per_s: 0 });
            finishFiles({ status: "diverged" });
            progress.finish();
            const kept = lastSaved === undefined ? "no checkpoint was saved before it" : `the last good checkpoint is ${checkpointFile} (step ${lastSaved})`;
            throw new UserError(`the loss is ${loss} at step ${step} of stage ${stage.name}; training stopped (${kept})`, "lower the learning rate (--lr), check the data, or resume from the last good checkpoint with --resume and a lower --lr");
          }
        }
        if (logNow) {
          const now = performance.now();
          const clipsPerSecond = ((step - windowStep) * batch) / Math.max((now - windowStart) / 1000, 1e-9);
          windowStart = now;
          windowStep = step;
          if (evalNow) {
            lastEval = await evaluateHeldOut(engine, data.heldOut, { batch, seed, inputs: stage.evalLoss.inputs, classes: stage.classes, classifies: stage.evalForward !== undefined, tokenizer: opts.tokenizer });
            windowStart = performance.now();
            evalSeconds += (windowStart - now) / 1000;
          }
          metrics.append({
            step,
            stage: stage.name,
            loss,
            lr,
            clips_per_s: Number(clipsPerSecond.toFixed(3)),
            ...(evalNow && lastEval ? { eval_loss: lastEval.loss, ...(lastEval.accuracy !== undefined ? { eval_accuracy: lastEval.accuracy } : {}) } : {}),
          });
          const perStep = (performance.now() - started) / 1000 / (step - startStep);
          progress.update({ stage: stage.name, step, total, loss, lr, clipsPerSecond, etaSeconds: perStep * (total - step) });
          if (evalNow && lastEval) log(`[${stage.name}] step ${step}: held-out loss ${lastEval.loss.toFixed(4)}${lastEval.accuracy !== undefined ? `, accuracy ${(100 * lastEval.accuracy).toFixed(1)}%` : ""} (${lastEval.clips} clips)`);
        } else if (progress.live) {
          const elapsed = (performance.now() - started) / 1000;
          const perStep = elapsed / (step - startStep);
          progress.update({ stage: stage.name, step, total, loss, lr, clipsPerSecond: batch / perStep, etaSeconds: perStep * (total - step) });
        }
        if (saveNow || interrupted) await snapshot(saveNow && !interrupted);
        if (interrupted) {
          flush();
          status = "interrupted";
          log(`[${stage.name}] interrupted at step ${step}; saved ${checkpointFile}, continue with --resume`);
          break training;
        }
        if (step >= stopAt) break;
      }
    }
    // The weights after the run's last step have no later training loss; the final evaluation ran on them.
    flush();
    progress.finish();
    // Evaluation time is excluded; checkpoint writes count.
    const secondsPerStep = ((performance.now() - started) / 1000 - evalSeconds) / Math.max(step - startStep, 1);
    finishFiles({ status, secondsPerStep });
    return { stage: stage.name, outDir, status, stepsDone: step, totalSteps: total, loss, eval: lastEval, secondsPerStep, weights: await paramWeights(engine, stage) };
  } finally {
    engine.dispose();
  }
}

async function paramWeights(engine: TrainEngine, stage: CompiledStage): Promise<Map<string, TensorArray>> {
  const state = await engine.state();
  return new Map(stage.params.map((p) => [p.path, state.get(p.path)!]));
}
