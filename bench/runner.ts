/**
 * Runs a list of workloads one after another (each takes the whole machine), adds the peer figure
 * right after each ivc figure so both see the same load, prints the table and writes results.json.
 */
import { closeSharedGpu } from "./common.ts";
import { currentLoad, formatTable, type BenchResult, writeResults } from "./harness.ts";
import { runTorchPeer, TORCH_WORKLOADS, withPeer } from "./peers.ts";
import type { Registered } from "./workloads/index.ts";

export interface RunnerOptions {
  /** results.json path; undefined writes nothing. */
  readonly out?: string;
  /** Overrides every workload's sample count / warm-up. */
  readonly runs?: number;
  readonly warmup?: number;
  readonly peers: boolean;
  readonly log: (msg: string) => void;
  /** Train workloads tune their kernels' tile widths first (`--autotune`). */
  readonly autotune?: boolean;
}

export interface RunnerReport {
  readonly results: BenchResult[];
  readonly failures: { readonly workload: string; readonly error: string }[];
  readonly table: string;
}

export async function runBench(entries: readonly Registered[], opts: RunnerOptions): Promise<RunnerReport> {
  const results: BenchResult[] = [];
  const failures: RunnerReport["failures"] = [];
  try {
    for (const { workload, runs, warmup } of entries) {
      const n = opts.runs ?? runs;
      const w = opts.warmup ?? warmup;
      opts.log(`${workload.name}: ${workload.description} (${w} warm-up, ${n} runs; load ${currentLoad().join(" ")})`);
      const t0 = performance.now();
      try {
        let r = await workload.run({ runs: n, warmup: w, log: opts.log, autotune: opts.autotune });
        if (opts.peers && TORCH_WORKLOADS.includes(workload.name)) {
          const outcome = runTorchPeer(workload.name, n, w);
          r = withPeer(r, outcome);
          opts.log(outcome.ok ? `  peer ${outcome.figure.name}: ${outcome.figure.median.toFixed(1)} ms` : `  peer skipped: ${outcome.reason}`);
        }
        results.push(r);
        opts.log(`  ${r.median.toFixed(r.unit === "s" ? 2 : 1)} ${r.unit} median (${((performance.now() - t0) / 1000).toFixed(0)} s in all)`);
      } catch (e) {
        const error = e instanceof Error ? (e.stack ?? e.message) : String(e);
        failures.push({ workload: workload.name, error });
        opts.log(`  FAILED: ${error}`);
      }
    }
  } finally {
    await closeSharedGpu();
  }
  if (opts.out) writeResults(opts.out, results);
  return { results, failures, table: formatTable(results) };
}
