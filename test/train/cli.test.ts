import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { tempDir, TINY_SET } from "./helpers.ts";

const ivc = (...args: string[]) => spawnSync(process.execPath, ["bin/ivc.mjs", ...args], { encoding: "utf8", env: { ...process.env, NO_COLOR: "1" } });
const tinySet = TINY_SET.flatMap((s) => ["--set", s]);

describe("ivc train", () => {
  it("trains UniFormerV2 end to end and writes checkpoints, metrics, curves and run.json", () => {
    const out = path.join(tempDir(), "run");
    const r = ivc("train", "models/uniformerv2.ivm", ...tinySet, "--engine", "cpu", "--steps", "6", "--batch", "4", "--eval-every", "3", "--save-every", "3", "--log-every", "2", "--eval-clips", "8", "--out", out);
    expect(r.status, r.stderr).toBe(0);
    for (const file of ["checkpoint.safetensors", "checkpoints/step-000003.safetensors", "checkpoints/step-000006.safetensors", "metrics.jsonl", "curves.svg", "run.json"]) {
      expect(fs.existsSync(path.join(out, file)), file).toBe(true);
    }
    const rows = fs.readFileSync(path.join(out, "metrics.jsonl"), "utf8").trim().split("\n").map((l) => JSON.parse(l));
    expect(rows.map((r: { step: number }) => r.step)).toEqual([2, 3, 4, 6]);
    for (const row of rows) {
      expect(row.stage).toBe("finetune");
      expect(Number.isFinite(row.loss) && Number.isFinite(row.lr) && row.clips_per_s > 0).toBe(true);
    }
    expect(rows[1].eval_accuracy).toBeGreaterThanOrEqual(0);
    expect(fs.readFileSync(path.join(out, "curves.svg"), "utf8")).toContain("<svg");
    expect(JSON.parse(fs.readFileSync(path.join(out, "run.json"), "utf8")).engine).toMatch(/^cpu/);
    // Not a terminal: plain lines, no carriage-return redraws.
    expect(r.stdout).not.toContain("\r");
    expect(r.stdout).toMatch(/\[finetune\] step 6\/6 {2}loss \d/);
    expect(r.stdout).toMatch(/0 frozen/);
  });

  // Lavapipe compiles every kernel of the train and eval programs on first use: minutes under load.
  it("trains on the GPU engine by default where an adapter exists", { timeout: 300_000 }, () => {
    const out = path.join(tempDir(), "run");
    const r = ivc("train", "models/uniformerv2.ivm", ...tinySet, "--steps", "4", "--batch", "4", "--eval-every", "4", "--eval-clips", "8", "--out", out);
    expect(r.status, r.stderr).toBe(0);
    expect(JSON.parse(fs.readFileSync(path.join(out, "run.json"), "utf8")).engine).toMatch(/^gpu/);
    const rows = fs.readFileSync(path.join(out, "metrics.jsonl"), "utf8").trim().split("\n").map((l) => JSON.parse(l));
    expect(rows.every((row: { loss: number }) => Number.isFinite(row.loss))).toBe(true);
  });

  it("uses no preset for a file without a `tiny` one", () => {
    const out = path.join(tempDir(), "run");
    const r = ivc("train", "test/train/fixtures/two-stage.ivm", "--engine", "cpu", "--stage", "probe", "--steps", "4", "--log-every", "1", "--eval-clips", "4", "--out", out);
    expect(r.status, r.stderr).toBe(0);
    expect(fs.existsSync(path.join(out, "checkpoint.safetensors"))).toBe(true);
    // The stage's `eval_every 2` applies when --eval-every is not given.
    const rows = fs.readFileSync(path.join(out, "metrics.jsonl"), "utf8").trim().split("\n").map((l) => JSON.parse(l));
    expect(rows.filter((row: { eval_loss?: number }) => row.eval_loss !== undefined).map((row: { step: number }) => row.step)).toEqual([2, 4]);
    expect(JSON.parse(fs.readFileSync(path.join(out, "run.json"), "utf8")).eval_every).toBe(2);
  });

  it("--shuffle-frames trains on clips with their frames in random order, synthetic data only", () => {
    const out = path.join(tempDir(), "run");
    const r = ivc("train", "models/uniformerv2.ivm", ...tinySet, "--engine", "cpu", "--steps", "1", "--batch", "2", "--eval-clips", "2", "--shuffle-frames", "--out", out);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toContain("frames shuffled");
    const bad = ivc("train", "models/uniformerv2.ivm", ...tinySet, "--engine", "cpu", "--shuffle-frames", "--data", "test/train/fixtures", "--out", path.join(tempDir(), "run"));
    expect(bad.status).toBe(1);
    expect(bad.stderr).toContain("--shuffle-frames applies to the synthetic motion data only");
  });

  it("explains bad requests without a stack trace", () => {
    const out = path.join(tempDir(), "run");
    const engine = ivc("train", "models/uniformerv2.ivm", "--engine", "tpu", "--out", out);
    expect(engine.status).toBe(2);
    expect(engine.stderr).toContain("--engine must be cpu or gpu");
    const both = ivc("train", "models/uniformerv2.ivm", "--steps", "2", "--epochs", "1");
    expect(both.status).toBe(2);
    const data = ivc("train", "models/uniformerv2.ivm", ...tinySet, "--data", "no/such/annotations.csv", "--out", out);
    expect(data.status).toBe(1);
    expect(data.stderr).toContain("error: data not found: no/such/annotations.csv");
    fs.mkdirSync(out, { recursive: true });
    fs.writeFileSync(path.join(out, "checkpoint.safetensors"), "not a checkpoint at all");
    const corrupt = ivc("train", "models/uniformerv2.ivm", ...tinySet, "--resume", "--out", out);
    expect(corrupt.status).toBe(1);
    expect(corrupt.stderr).toMatch(/^error: .*checkpoint\.safetensors/m);
    const precision = ivc("train", "models/uniformerv2.ivm", "--precision", "bf16", "--out", out);
    expect(precision.status).toBe(2);
    expect(precision.stderr).toContain("--precision must be f32 or f16, got 'bf16'");
    const cpuHalf = ivc("train", "models/uniformerv2.ivm", ...tinySet, "--engine", "cpu", "--precision", "f16", "--out", path.join(tempDir(), "run"));
    expect(cpuHalf.status).toBe(1);
    expect(cpuHalf.stderr).toContain("--precision f16 needs the gpu engine");
    const cpuTune = ivc("train", "models/uniformerv2.ivm", ...tinySet, "--engine", "cpu", "--autotune", "--out", path.join(tempDir(), "run"));
    expect(cpuTune.status).toBe(1);
    expect(cpuTune.stderr).toContain("--autotune needs the gpu engine");
    for (const r of [engine, data, corrupt, precision, cpuHalf, cpuTune]) expect(r.stderr).not.toMatch(/\n\s+at /);
  });
});
