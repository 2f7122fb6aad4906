import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { missingCommands, runExample } from "./run-example.ts";

const skip = missingCommands("explain", ["compile", "graph"]);

describe.skipIf(skip !== undefined)("examples/explain", () => {
  it("prints the kernel tables of the eval forward and the training step", () => {
    const r = runExample("explain");
    expect(r.status).toBe(0);
    const table = readFileSync(join(r.out, "eval.txt"), "utf8");
    const rows = table.split("\n").filter((l) => /^k\d{3}_/.test(l));
    const dispatches = Number(/dispatches (\d+) \(/.exec(table)![1]);
    expect(rows).toHaveLength(dispatches);
    expect(rows.every((l) => / forward /.test(l))).toBe(true);
    const counts = /forward (\d+), backward (\d+), optimizer (\d+) kernels/.exec(r.stdout)!.slice(1).map(Number);
    expect(counts[1]).toBeGreaterThan(0);
    // One packed optimizer update for all 55 trainable tensors of the tutorial model.
    expect(counts[2]).toBe(1);
    expect(readFileSync(join(r.out, "kernels.svg"), "utf8")).toContain('data-kind="kernel"');
  }, 120_000);
});
