import * as fs from "node:fs";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { UserError } from "../../cli/errors.ts";
import { compileModel } from "../../compiler/pipeline.ts";
import { initParams } from "../../runtime/init/index.ts";
import { readMetrics, tempDir, tensors, train, TINY_SET } from "./helpers.ts";

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

describe("training UniFormerV2 on the CPU engine", () => {
  it("lowers the training loss over a few dozen steps and writes the run files", async () => {
    const out = tempDir();
    const { run, output } = train(out, { steps: 48, batch: 8, lr: 3e-3, evalEvery: 24 });
    const summary = await run;
    expect(summary.stages[0]!.status).toBe("finished");
    const rows = readMetrics(out);
    expect(rows.map((r) => r.step)).toEqual(Array.from({ length: 48 }, (_, i) => i + 1));
    const losses = rows.map((r) => r.loss as number);
    expect(mean(losses.slice(-12))).toBeLessThan(mean(losses.slice(0, 12)) - 0.1);
    const evalRows = rows.filter((r) => "eval_loss" in r);
    expect(evalRows.map((r) => r.step)).toEqual([24, 48]);
    for (const r of evalRows) expect(r.eval_accuracy).toBeGreaterThanOrEqual(0);
    for (const file of ["checkpoint.safetensors", "checkpoints/step-000048.safetensors", "curves.svg", "run.json"]) expect(fs.existsSync(path.join(out, file)), file).toBe(true);
    const runJson = JSON.parse(fs.readFileSync(path.join(out, "run.json"), "utf8"));
    expect(runJson).toMatchObject({ model: "UniFormerV2", stage: "finetune", seed: 3, steps: 48, batch: 8, status: "finished" });
    expect(runJson.config.width).toBe(16);
    expect(fs.readFileSync(path.join(out, "curves.svg"), "utf8")).toMatch(/^<svg[^]*held-out accuracy[^]*<\/svg>/);
    expect(output.text()).toMatch(/51 parameter tensors train \(13,\d{3} values\), 0 frozen/);
  });

  it("resumes bit-identically: N steps straight equal N/2 + resume N/2 (BatchNorm stats and dropout included)", async () => {
    // LMHRA adds BatchNorm running statistics (buffers written back each step); dropout uses the step seeds.
    // The resumed run is given none of the first run's settings: seed, batch, steps and LR come from the checkpoint.
    const set = [...TINY_SET, "lmhra=true", "mlp_dropout=0.3"];
    const straight = tempDir();
    await train(straight, { set, steps: 10, saveEvery: 5, lr: 2e-3 }).run;
    const split = tempDir();
    await train(split, { set, steps: 10, saveEvery: 5, stopAt: 5, lr: 2e-3 }).run;
    const halfway = tensors(path.join(split, "checkpoint.safetensors"));
    expect(halfway.metadata.step).toBe("5");
    expect([...halfway.tensors.keys()].some((k) => k.endsWith("running_mean"))).toBe(true);
    const resumed = train(split, { set, resume: true, seed: undefined, batch: undefined, steps: undefined, saveEvery: 5 });
    await resumed.run;
    expect(resumed.output.text()).toContain("resuming at step 5");
    const a = fs.readFileSync(path.join(straight, "checkpoint.safetensors"));
    const b = fs.readFileSync(path.join(split, "checkpoint.safetensors"));
    expect(b.equals(a)).toBe(true);
    expect(fs.readFileSync(path.join(split, "checkpoints/step-000005.safetensors")).equals(fs.readFileSync(path.join(straight, "checkpoints/step-000005.safetensors")))).toBe(true);
    expect(readMetrics(split).map((r) => r.loss)).toEqual(readMetrics(straight).map((r) => r.loss));
  });

  it("keeps frozen parameters bit-identical and gives them no optimizer state", async () => {
    const set = [...TINY_SET, "frozen=true"];
    const out = tempDir();
    const { run, output } = train(out, { set, steps: 4, lr: 1e-2 });
    await run;
    const compiled = compileModel("models/uniformerv2.ivm", { preset: "tiny", set, stage: "finetune" });
    const params = compiled.elaborated!.graph.params;
    const frozen = params.filter((p) => p.kind === "param" && p.frozen).map((p) => p.path);
    expect(frozen.length).toBeGreaterThan(10);
    const initial = initParams(params, 3);
    const { tensors: saved } = tensors(path.join(out, "checkpoint.safetensors"));
    for (const p of frozen) {
      expect([...saved.get(p)!.data], p).toEqual([...initial.get(p)!]);
      expect(saved.has(`optim.exp_avg:${p}`)).toBe(false);
      expect(saved.has(`optim.exp_avg_sq:${p}`)).toBe(false);
    }
    const trained = params.filter((p) => p.kind === "param" && !p.frozen).map((p) => p.path);
    expect(trained.some((p) => saved.get(p)!.data.some((v, i) => v !== initial.get(p)![i]))).toBe(true);
    for (const p of trained) expect(saved.has(`optim.exp_avg:${p}`), p).toBe(true);
    expect(output.text()).toMatch(new RegExp(`${frozen.length} frozen`));
  });

  it("stops on a NaN loss with the step number and keeps the last good checkpoint", async () => {
    const out = tempDir();
    // The warmup goes from 1e-6 to 1e10 over 30 steps: finite for two steps, then the weights blow up.
    const error = await train(out, { steps: 40, lr: 1e10, saveEvery: 1 }).run.catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UserError);
    const match = /the loss is (NaN|-?Infinity) at step (\d+).*last good checkpoint is .*checkpoint\.safetensors \(step (\d+)\)/.exec((error as Error).message);
    expect(match, (error as Error).message).not.toBeNull();
    const badStep = Number(match![2]);
    const goodStep = Number(match![3]);
    // The weights saved after step s give the loss of step s + 1, so the last good checkpoint is two steps back.
    expect(goodStep).toBe(badStep - 2);
    const kept = tensors(path.join(out, "checkpoint.safetensors"));
    expect(kept.metadata.step).toBe(String(goodStep));
    for (const [key, t] of kept.tensors) expect(t.data.every(Number.isFinite), key).toBe(true);
    expect(fs.existsSync(path.join(out, `checkpoints/step-${String(badStep - 1).padStart(6, "0")}.safetensors`))).toBe(false);
    const rows = readMetrics(out);
    expect(rows.at(-1)).toMatchObject({ step: badStep, loss: null });
    expect(JSON.parse(fs.readFileSync(path.join(out, "run.json"), "utf8")).status).toBe("diverged");
  });

  it("refuses to overwrite a run, and to resume where there is nothing", async () => {
    const out = tempDir();
    await train(out, { steps: 2 }).run;
    await expect(train(out, { steps: 2 }).run).rejects.toThrow(/already holds a training checkpoint/);
    await expect(train(tempDir(), { resume: true }).run).rejects.toThrow(/nothing to resume/);
    await expect(train(out, { resume: true, seed: 4 }).run).rejects.toThrow(/--seed 3, not 4/);
    // Checked before any engine is built: bit-identity holds only in the precision the run started with.
    await expect(train(out, { resume: true, precision: "f16" }).run).rejects.toThrow(/--precision f32, not f16/);
  });
});
