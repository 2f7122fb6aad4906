/**
 * The benchmark harness behind `npm run bench`: workloads are sampled after warm-up, summarised as
 * median and min-max, printed as a table and written to bench/results.json. Speed targets are only
 * recorded beside the figures (never asserted): timings here vary with machine load.
 */
import { writeFileSync } from "node:fs";
import { loadavg } from "node:os";

export interface PeerFigure {
  /** e.g. "pytorch 1.13 cpu, 2 threads". */
  readonly name: string;
  readonly median: number;
  readonly min: number;
  readonly max: number;
  readonly unit: string;
  /** ivc median / peer median (> 1: ivc is slower). */
  readonly ratio: number;
  readonly note?: string;
}

export interface BenchResult {
  readonly workload: string;
  readonly median: number;
  readonly min: number;
  readonly max: number;
  /** Unit of median/min/max: "ms" per step or run, "s" for compile times. */
  readonly unit: string;
  readonly runs: number;
  readonly gflops?: number;
  readonly gbps?: number;
  readonly dispatches_per_step?: number;
  readonly submits_per_step?: number;
  readonly peak_bytes?: number;
  /** The target this workload is held to, as text (recorded, not asserted). */
  readonly target?: string;
  readonly met?: boolean;
  readonly peer?: PeerFigure;
  /** 1, 5 and 15 minute load averages when the workload finished: timings scale with machine load. */
  readonly loadavg?: readonly number[];
  readonly notes?: string;
}

export interface BenchOptions {
  /** Timed samples after warm-up. */
  readonly runs: number;
  readonly warmup: number;
  readonly log: (msg: string) => void;
  /** Tune tile widths on this adapter first (runtime/autotune.ts; results cached across runs). */
  readonly autotune?: boolean;
}

export interface Workload {
  readonly name: string;
  /** One line: what is measured. */
  readonly description: string;
  /** Samples and figures of the workload (peers are added by the caller). */
  run(opts: BenchOptions): Promise<BenchResult>;
}

export interface Summary {
  readonly median: number;
  readonly min: number;
  readonly max: number;
  readonly runs: number;
}

export function summarize(samples: readonly number[]): Summary {
  if (samples.length === 0) throw new Error("no samples");
  const s = [...samples].sort((a, b) => a - b);
  const mid = s.length >> 1;
  const median = s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
  return { median, min: s[0]!, max: s[s.length - 1]!, runs: s.length };
}

/**
 * Wall-clock milliseconds of `once` (which must include its own wait for the device), `warmup`
 * untimed calls first: the first GPU run compiles every pipeline on lavapipe.
 */
export async function sampleMs(once: () => Promise<void>, opts: Pick<BenchOptions, "runs" | "warmup">): Promise<number[]> {
  for (let i = 0; i < opts.warmup; i++) await once();
  const out: number[] = [];
  for (let i = 0; i < opts.runs; i++) {
    const t0 = performance.now();
    await once();
    out.push(performance.now() - t0);
  }
  return out;
}

/** Seconds per run in the summary's unit. */
function seconds(value: number, unit: string): number {
  return unit === "s" ? value : value / 1000;
}

/** GFLOP/s at the median, from FLOPs per run. */
export function gflopsAt(s: Summary, unit: string, flops: number): number {
  return flops / seconds(s.median, unit) / 1e9;
}

export function gbpsAt(s: Summary, unit: string, bytes: number): number {
  return bytes / seconds(s.median, unit) / 1e9;
}

const REQUIRED_NUMBERS = ["median", "min", "max", "runs"] as const;
const OPTIONAL_NUMBERS = ["gflops", "gbps", "dispatches_per_step", "submits_per_step", "peak_bytes"] as const;

/** Problems with one result object (empty when it follows the results.json schema). */
export function schemaProblems(r: unknown): string[] {
  const out: string[] = [];
  if (typeof r !== "object" || r === null) return ["not an object"];
  const o = r as Record<string, unknown>;
  if (typeof o.workload !== "string" || !o.workload) out.push("workload: not a non-empty string");
  if (typeof o.unit !== "string" || !o.unit) out.push("unit: not a non-empty string");
  for (const k of REQUIRED_NUMBERS) if (typeof o[k] !== "number" || !Number.isFinite(o[k]) || (o[k] as number) < 0) out.push(`${k}: not a finite non-negative number`);
  for (const k of OPTIONAL_NUMBERS) if (k in o && (typeof o[k] !== "number" || !Number.isFinite(o[k]))) out.push(`${k}: present but not a finite number`);
  if (out.length === 0 && !((o.min as number) <= (o.median as number) && (o.median as number) <= (o.max as number))) out.push("not min <= median <= max");
  if ("peer" in o) {
    const p = o.peer as Record<string, unknown>;
    if (typeof p?.name !== "string" || typeof p.median !== "number" || typeof p.ratio !== "number") out.push("peer: needs name, median, ratio");
  }
  return out;
}

export function currentLoad(): number[] {
  return loadavg().map((x) => Math.round(x * 100) / 100);
}

/** results.json: the array of results the issue specifies; run context goes to the console only. */
export function writeResults(path: string, results: readonly BenchResult[]): void {
  for (const r of results) {
    const bad = schemaProblems(r);
    if (bad.length) throw new Error(`internal: result ${r.workload} breaks the schema: ${bad.join("; ")}`);
  }
  writeFileSync(path, `${JSON.stringify(results, null, 2)}\n`);
}

function fmt(v: number | undefined, digits = 1): string {
  if (v === undefined) return "-";
  if (Math.abs(v) >= 1000) return v.toFixed(0);
  if (Math.abs(v) >= 100) return v.toFixed(digits === 0 ? 0 : 1);
  return v.toFixed(Math.max(digits, Math.abs(v) < 1 ? 3 : 1));
}

function mib(bytes: number | undefined): string {
  if (bytes === undefined) return "-";
  return bytes >= 2 ** 30 ? `${(bytes / 2 ** 30).toFixed(2)}G` : `${(bytes / 2 ** 20).toFixed(1)}M`;
}

export function formatTable(results: readonly BenchResult[]): string {
  const header = ["workload", "median", "min-max", "unit", "GFLOP/s", "GB/s", "disp/step", "submit/step", "peak", "peer median", "x peer", "target"];
  const rows = results.map((r) => [
    r.workload,
    fmt(r.median),
    `${fmt(r.min)}-${fmt(r.max)}`,
    r.unit,
    fmt(r.gflops),
    fmt(r.gbps),
    r.dispatches_per_step === undefined ? "-" : fmt(r.dispatches_per_step, 0),
    r.submits_per_step === undefined ? "-" : fmt(r.submits_per_step, 0),
    mib(r.peak_bytes),
    r.peer ? `${fmt(r.peer.median)} ${r.peer.unit}` : "-",
    r.peer ? `${r.peer.ratio.toFixed(2)}x` : "-",
    r.target ? `${r.target} ${r.met ? "ok" : "MISSED"}` : "-",
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
  const line = (row: string[]) => row.map((v, i) => (i === 0 || i === row.length - 1 ? v.padEnd(widths[i]!) : v.padStart(widths[i]!))).join("  ").trimEnd();
  return [line(header), ...rows.map(line)].join("\n");
}
