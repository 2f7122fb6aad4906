/**
 * runTraining: the whole of `ivc train`. One stage, or, when the file defines several and none is
 * named, every stage in declaration order, each initialised from the previous stage's weights by path.
 */
import * as path from "node:path";
import { type CompileRequest, type DiagnosticsSink, compileStage, defaultDiagnosticsSink, stagesOf } from "./compile-stage.ts";
import { assertEngineAvailable, type TensorArray } from "./engine.ts";
import { Progress, type Output } from "./progress.ts";
import { type StageOptions, type StageResult, trainStage } from "./stage.ts";

export interface TrainOptions extends CompileRequest, Omit<StageOptions, "evalEvery" | "saveEvery" | "logEvery" | "evalClips"> {
  readonly stage?: string;
  /** Default runs/<model>-<stage> (one stage) or runs/<model> with a folder per stage. */
  readonly out?: string;
  readonly evalEvery?: number;
  readonly saveEvery?: number;
  readonly logEvery?: number;
  readonly evalClips?: number;
  /** Progress and log lines go here (a TTY gets a redrawn status line). */
  readonly output: Output;
  readonly diagnostics?: DiagnosticsSink;
}

export interface TrainSummary {
  readonly stages: readonly Omit<StageResult, "weights">[];
}

export async function runTraining(opts: TrainOptions): Promise<TrainSummary> {
  await assertEngineAvailable(opts.engine);
  const sink = opts.diagnostics ?? defaultDiagnosticsSink;
  const stageNames = opts.stage ? [opts.stage] : stagesOf(opts, sink);
  const progress = new Progress(opts.output);
  const stageOpts: StageOptions = {
    ...opts,
    evalEvery: opts.evalEvery,
    saveEvery: opts.saveEvery ?? 100,
    logEvery: opts.logEvery ?? 10,
    evalClips: opts.evalClips ?? 128,
  };
  if (stageNames.length > 1) progress.log(`training ${stageNames.length} stages in order: ${stageNames.join(" -> ")}`);
  const results: StageResult[] = [];
  let previous: Map<string, TensorArray> | undefined;
  for (const name of stageNames) {
    const compiled = compileStage(opts, name, sink);
    const outDir =
      stageNames.length === 1 ? (opts.out ?? path.join("runs", `${compiled.modelName.toLowerCase()}-${name}`)) : path.join(opts.out ?? path.join("runs", compiled.modelName.toLowerCase()), name);
    const result = await trainStage(compiled, { ...stageOpts, init: previous ? undefined : opts.init }, outDir, previous, progress);
    results.push(result);
    previous = result.weights;
    if (result.status === "interrupted" || result.status === "stopped early") break;
  }
  progress.log("");
  progress.log("summary");
  for (const r of results) {
    const evalText = r.eval ? `held-out loss ${r.eval.loss.toFixed(4)}${r.eval.accuracy !== undefined ? `, accuracy ${(100 * r.eval.accuracy).toFixed(1)}%` : ""}` : "no evaluation";
    const speed = r.secondsPerStep !== undefined ? `, ${r.secondsPerStep.toFixed(3)} s/step` : "";
    progress.log(`  ${r.stage.padEnd(16)} ${r.status.padEnd(16)} step ${r.stepsDone}/${r.totalSteps}  loss ${r.loss?.toFixed(4) ?? "-"}  ${evalText}${speed}  -> ${r.outDir}`);
  }
  return { stages: results.map(({ weights: _weights, ...rest }) => rest) };
}
