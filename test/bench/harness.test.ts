import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { formatTable, schemaProblems, summarize, type BenchResult } from "../../bench/harness.ts";
import { withPeer } from "../../bench/peers.ts";
import { runBench } from "../../bench/runner.ts";
import { WORKLOADS, compileWorkload, matmulWorkload } from "../../bench/workloads/index.ts";

describe("bench harness", () => {
  it("summarises samples as median and min-max", () => {
    expect(summarize([5, 1, 3])).toEqual({ median: 3, min: 1, max: 5, runs: 3 });
    expect(summarize([4, 1, 2, 3]).median).toBe(2.5);
    expect(() => summarize([])).toThrow();
  });

  it("the schema check rejects malformed results", () => {
    const good: BenchResult = { workload: "w", median: 2, min: 1, max: 3, unit: "ms", runs: 3, gflops: 1.5 };
    expect(schemaProblems(good)).toEqual([]);
    expect(schemaProblems({ ...good, workload: "" })).not.toEqual([]);
    expect(schemaProblems({ ...good, median: Number.NaN })).not.toEqual([]);
    expect(schemaProblems({ ...good, min: 4 })).not.toEqual([]);
    expect(schemaProblems({ ...good, gflops: "fast" })).not.toEqual([]);
    const peered = withPeer(good, { ok: true, figure: { name: "p", median: 1, min: 1, max: 1, unit: "ms" } });
    expect(peered.peer?.ratio).toBe(2);
    expect(schemaProblems(peered)).toEqual([]);
    expect(withPeer(good, { ok: false, reason: "no torch" }).notes).toContain("peer skipped: no torch");
  });

  it("registers the workloads the issue names", () => {
    const names = WORKLOADS.map((w) => w.workload.name);
    for (const n of ["matmul_1024", "vit_block_step", "uniformerv2_tiny_step", "uniformerv2_k400_b16_forward", "compile_internvideo_full"]) expect(names).toContain(n);
    expect(new Set(names).size).toBe(names.length);
  });

  it("runs tiny workloads end to end and writes results.json", { timeout: 180_000 }, async () => {
    const dir = mkdtempSync(join(tmpdir(), "ivc-bench-"));
    try {
      const out = join(dir, "results.json");
      const report = await runBench(
        [
          { workload: matmulWorkload(64), runs: 3, warmup: 1 },
          { workload: compileWorkload({ name: "compile_vit_block", file: "bench/vit_block.ivm", preset: "bench", stage: "step", targetSeconds: 60 }), runs: 2, warmup: 0 },
        ],
        { out, peers: false, log: () => {} },
      );
      expect(report.failures).toEqual([]);
      const written = JSON.parse(readFileSync(out, "utf8")) as Record<string, unknown>[];
      expect(Array.isArray(written)).toBe(true);
      expect(written.map((r) => r.workload)).toEqual(["matmul_64", "compile_vit_block"]);
      for (const r of written) expect(schemaProblems(r)).toEqual([]);
      const [mm, compile] = written as unknown as BenchResult[];
      expect(mm!.unit).toBe("ms");
      expect(mm!.runs).toBe(3);
      expect(mm!.gflops).toBeGreaterThan(0);
      expect(mm!.dispatches_per_step).toBe(1);
      expect(mm!.submits_per_step).toBe(1);
      expect(mm!.peak_bytes).toBe(3 * 4 * 64 * 64);
      expect(compile!.unit).toBe("s");
      expect(compile!.dispatches_per_step).toBeGreaterThan(10);
      expect(compile!.peak_bytes).toBeGreaterThan(0);
      expect(compile!.met).toBe(true);
      expect(report.table).toContain("matmul_64");
      expect(formatTable(report.results).split("\n")).toHaveLength(3);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
