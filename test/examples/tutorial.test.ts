import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { missingCommands, runExample } from "./run-example.ts";

const skip = missingCommands("tutorial", ["check", "info", "graph", "train", "compile"]);

describe.skipIf(skip !== undefined)("examples/tutorial", () => {
  it("checks, draws, trains and compiles the 40-line video transformer", () => {
    const r = runExample("tutorial");
    expect(r.status).toBe(0);
    expect(r.stdout).toContain("ok: 1 file checked");
    expect(r.stdout).toMatch(/model VideoTransformer \(preset tiny\)\nparams\s+61,416/);
    const svg = readFileSync(join(r.out, "model.svg"), "utf8");
    expect(svg).toContain('data-path="blocks.0"');
    expect(svg).toContain("<title>blocks.0: DividedBlock</title>");
    const metrics = readFileSync(join(r.out, "run", "metrics.jsonl"), "utf8").trim().split("\n").map((l) => JSON.parse(l));
    expect(metrics.filter((m) => typeof m.loss === "number").map((m) => m.step)).toEqual([2, 4]);
    expect(existsSync(join(r.out, "run", "checkpoint.safetensors"))).toBe(true);
    const manifest = JSON.parse(readFileSync(join(r.out, "bundle", "manifest.json"), "utf8"));
    expect(manifest.model).toBe("VideoTransformer");
    expect(manifest.weights).toBe("weights.safetensors");
  }, 120_000);
});
