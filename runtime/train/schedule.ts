/**
 * Learning-rate schedules, evaluated per step (0-based: the LR that step `s` uses).
 *
 *   cosine(warmup_steps = W, warmup_start_lr = S, end_lr = E)
 *     s < W:  S + (base - S) * s / W                                  linear warmup
 *     s >= W: E + (base - E) * (1 + cos(pi * (s - W) / (N - W))) / 2  cosine from the end of the warmup
 *   constant(warmup_steps = W, warmup_start_lr = S)
 *     the same warmup, then base
 *
 * N is the run's total number of steps. This is the UniFormerV2 recipe (fact sheet 4.1): warmup from
 * WARMUP_START_LR to the base LR, then cosine to COSINE_END_LR measured from the end of the warmup.
 */
import { UserError } from "../../cli/errors.ts";
import type { CallSpec } from "../../compiler/elaborate/stage.ts";

export interface ScheduleSpec {
  readonly kind: "cosine" | "constant";
  readonly warmupSteps: number;
  readonly warmupStartLr: number;
  readonly endLr: number;
}

const SCHEDULE_ARGS: Readonly<Record<ScheduleSpec["kind"], readonly string[]>> = {
  cosine: ["warmup_steps", "warmup_start_lr", "end_lr"],
  constant: ["warmup_steps", "warmup_start_lr"],
};

/** The stage's `schedule` call; no call means a constant LR. */
export function scheduleFromCall(call: CallSpec | undefined): ScheduleSpec {
  if (!call) return { kind: "constant", warmupSteps: 0, warmupStartLr: 0, endLr: 0 };
  const where = `${call.span.file}:${call.span.line}`;
  if (call.name !== "cosine" && call.name !== "constant") throw new UserError(`unknown schedule \`${call.name}\` (${where})`, "the schedules are cosine and constant");
  const kind = call.name;
  const num = (key: string, fallback: number) => {
    const v = call.args[key] ?? fallback;
    if (typeof v !== "number" || !Number.isFinite(v) || v < 0) throw new UserError(`schedule ${kind}: \`${key}\` must be a non-negative number, got ${JSON.stringify(v)} (${where})`);
    return v;
  };
  for (const key of Object.keys(call.args)) {
    if (!SCHEDULE_ARGS[kind].includes(key)) throw new UserError(`schedule ${kind}: unknown argument \`${key}\` (${where})`, `${kind} takes ${SCHEDULE_ARGS[kind].join(", ")}`);
  }
  const warmupSteps = num("warmup_steps", 0);
  if (!Number.isInteger(warmupSteps)) throw new UserError(`schedule ${kind}: \`warmup_steps\` must be an integer, got ${warmupSteps} (${where})`);
  return { kind, warmupSteps, warmupStartLr: num("warmup_start_lr", 0), endLr: kind === "cosine" ? num("end_lr", 0) : 0 };
}

/** The LR of step `step` (0-based) of a `totalSteps`-step run. */
export function learningRate(spec: ScheduleSpec, baseLr: number, step: number, totalSteps: number): number {
  // A warmup longer than the run is cut to the run, so the last step still reaches the base LR.
  const warmup = Math.min(spec.warmupSteps, Math.max(totalSteps - 1, 0));
  if (step < warmup) return spec.warmupStartLr + ((baseLr - spec.warmupStartLr) * step) / warmup;
  if (spec.kind === "constant") return baseLr;
  const progress = Math.min(1, (step - warmup) / Math.max(1, totalSteps - warmup));
  return spec.endLr + ((baseLr - spec.endLr) * (1 + Math.cos(Math.PI * progress))) / 2;
}
