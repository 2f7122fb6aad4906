/**
 * `npm run bench [-- --only NAME[,NAME]] [--runs N] [--warmup N] [--no-peer] [--out PATH] [--list]`
 *
 * Runs the benchmark workloads (bench/workloads/index.ts), prints a table and writes
 * bench/results.json. Timings depend on machine load: the load average is printed and stored with
 * every figure, and the PyTorch peer (when /usr/bin/python3 has torch) runs right after each workload.
 */
import { Command, InvalidArgumentError } from "commander";
import { repoPath } from "./common.ts";
import { currentLoad } from "./harness.ts";
import { runBench } from "./runner.ts";
import { WORKLOADS } from "./workloads/index.ts";

function count(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError("expected a non-negative integer");
  return n;
}

const cmd = new Command("bench")
  .option("--only <names...>", "run only these workloads (names, comma- or space-separated)")
  .option("--runs <n>", "timed runs per workload (default: per workload)", count)
  .option("--warmup <n>", "untimed runs first (default: per workload)", count)
  .option("--no-peer", "skip the PyTorch CPU peer")
  .option("--out <path>", "where to write the results", repoPath("bench/results.json"))
  .option("--autotune", "train workloads tune their matmul tile widths on this adapter first (cached in the ivc cache)")
  .option("--list", "list the workloads and exit")
  .parse(process.argv);

const opts = cmd.opts<{ only?: string[]; runs?: number; warmup?: number; peer: boolean; out: string; list?: boolean; autotune?: boolean }>();

if (opts.list) {
  for (const { workload } of WORKLOADS) console.log(`${workload.name.padEnd(30)} ${workload.description}`);
  process.exit(0);
}

const wanted = opts.only?.flatMap((s) => s.split(",")).filter(Boolean);
const unknown = (wanted ?? []).filter((n) => !WORKLOADS.some((w) => w.workload.name === n));
if (unknown.length) {
  console.error(`unknown workload${unknown.length > 1 ? "s" : ""} ${unknown.join(", ")}; the workloads are ${WORKLOADS.map((w) => w.workload.name).join(", ")}`);
  process.exit(2);
}
if (opts.runs === 0) {
  console.error("--runs must be at least 1");
  process.exit(2);
}
const entries = wanted ? WORKLOADS.filter((w) => wanted.includes(w.workload.name)) : WORKLOADS;

const started = new Date();
console.log(`ivc bench, ${started.toISOString()}, load average ${currentLoad().join(" ")}`);
const report = await runBench(entries, { out: opts.out, runs: opts.runs, warmup: opts.warmup, peers: opts.peer, log: (m) => console.error(m), autotune: opts.autotune === true });
console.log("");
console.log(report.table);
for (const r of report.results) if (r.notes) console.log(`  ${r.workload}: ${r.notes}`);
console.log(`load average at the end ${currentLoad().join(" ")}; results in ${opts.out}`);
if (report.failures.length) {
  console.error(`\n${report.failures.length} workload(s) failed: ${report.failures.map((f) => f.workload).join(", ")}`);
  process.exitCode = 1;
}
