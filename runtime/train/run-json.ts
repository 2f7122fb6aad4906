/** run.json: what a run was (resolved config, stage, seed, engine, versions) and how it ended. */
import * as fs from "node:fs";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import type { CompiledStage } from "./compile-stage.ts";
import type { OptimizerSpec } from "./optim.ts";
import type { ScheduleSpec } from "./schedule.ts";
import type { StageOptions } from "./stage.ts";

export interface RunDescription {
  readonly stage: CompiledStage;
  readonly opts: StageOptions;
  readonly outDir: string;
  readonly seed: number;
  readonly batch: number;
  readonly total: number;
  readonly perEpoch: number;
  readonly optimizer: OptimizerSpec;
  readonly schedule: ScheduleSpec;
  readonly data: string;
  readonly engine: string;
}

let cachedVersion: string | undefined;

function ivcVersion(): string {
  if (cachedVersion === undefined) {
    try {
      const pkg = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..", "package.json");
      cachedVersion = String((JSON.parse(fs.readFileSync(pkg, "utf8")) as { version?: string }).version ?? "unknown");
    } catch {
      cachedVersion = "unknown";
    }
  }
  return cachedVersion;
}

/** The file is rewritten whole: at the start (status running) and at the end. */
export function writeRunJson(run: RunDescription, state: Record<string, unknown>): void {
  const { stage, opts } = run;
  const body = {
    model: stage.modelName,
    stage: stage.name,
    stage_chain: stage.spec.chain,
    seed: run.seed,
    steps: run.total,
    batch: run.batch,
    steps_per_epoch: run.perEpoch,
    optimizer: run.optimizer,
    schedule: run.schedule,
    clip_grad_norm: stage.settings.clipGradNorm,
    ema: stage.settings.ema ?? null,
    data: run.data,
    data_call: stage.spec.data ? { name: stage.spec.data.name, args: stage.spec.data.args } : null,
    eval_every: opts.evalEvery ?? stage.settings.evalEvery ?? 50,
    save_every: opts.saveEvery,
    init: opts.init ?? null,
    engine: run.engine,
    params: { trainable_tensors: stage.trainable.length, trainable: stage.trainableCount, frozen_tensors: stage.frozen.length, frozen: stage.frozenCount },
    frozen_paths: stage.frozen,
    config: stage.config,
    versions: { ivc: ivcVersion(), node: process.version, platform: `${process.platform}-${process.arch}` },
    updated: new Date().toISOString(),
    ...state,
  };
  fs.mkdirSync(run.outDir, { recursive: true });
  fs.writeFileSync(path.join(run.outDir, "run.json"), `${JSON.stringify(body, (_, v) => (typeof v === "number" && !Number.isFinite(v) ? null : v), 2)}\n`);
}
