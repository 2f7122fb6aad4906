import * as fs from "node:fs";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { writeSafetensors } from "../../runtime/io/safetensors.ts";
import { runTraining, type TrainOptions } from "../../runtime/train/run.ts";
import { collectingOutput, readMetrics, tempDir, tensors } from "./helpers.ts";

const TOY = "test/train/fixtures/two-stage.ivm";

function trainToy(extra: Partial<TrainOptions>) {
  const output = collectingOutput();
  const run = runTraining({ file: TOY, set: [], resume: false, engine: "cpu", output, evalClips: 8, logEvery: 1, ...extra });
  return { run, output };
}

describe("multi-stage runs and --init", () => {
  it("runs every stage in order, each starting from the previous stage's weights", async () => {
    const out = tempDir();
    const { run, output } = trainToy({ out });
    const summary = await run;
    expect(summary.stages.map((s) => [s.stage, s.status, s.stepsDone])).toEqual([["pretrain", "finished", 6], ["probe", "finished", 4]]);
    const pretrain = tensors(path.join(out, "pretrain", "checkpoint.safetensors")).tensors;
    const probe = tensors(path.join(out, "probe", "checkpoint.safetensors")).tensors;
    // `probe` freezes the embedding: it must be exactly what pretrain ended with.
    expect([...probe.get("embed.weight")!.data]).toEqual([...pretrain.get("embed.weight")!.data]);
    expect(probe.has("optim.momentum_buffer:embed.weight")).toBe(false);
    expect(probe.has("optim.momentum_buffer:head.weight")).toBe(true);
    expect([...probe.get("head.weight")!.data]).not.toEqual([...pretrain.get("head.weight")!.data]);
    // The EMA covers the trained weights only, and lags behind them.
    expect([...probe.keys()].filter((k) => k.startsWith("ema:")).sort()).toEqual(["ema:head.bias", "ema:head.weight", "ema:norm.bias", "ema:norm.weight"]);
    expect([...probe.get("ema:head.weight")!.data]).not.toEqual([...probe.get("head.weight")!.data]);
    expect(readMetrics(path.join(out, "probe")).every((r) => r.stage === "probe")).toBe(true);
    const text = output.text();
    expect(text).toContain("training 2 stages in order: pretrain -> probe");
    expect(text).toMatch(/\[probe\] Toy: 4 parameter tensors train \(52 values\), 2 frozen \(24,584 values\)/);
    expect(text).toMatch(/summary\n\s+pretrain\s+finished[^\n]*\n\s+probe\s+finished/);
  });

  it("an interrupt saves a checkpoint after the current step, and --resume finishes the run identically", async () => {
    const straight = tempDir();
    await trainToy({ out: straight, stage: "pretrain" }).run;
    const interrupted = tempDir();
    const stop = new AbortController();
    stop.abort();
    const first = await trainToy({ out: interrupted, stage: "pretrain", signal: stop.signal }).run;
    expect(first.stages[0]).toMatchObject({ status: "interrupted", stepsDone: 1 });
    expect(tensors(path.join(interrupted, "checkpoint.safetensors")).metadata.step).toBe("1");
    await trainToy({ out: interrupted, stage: "pretrain", resume: true }).run;
    const a = fs.readFileSync(path.join(straight, "checkpoint.safetensors"));
    expect(fs.readFileSync(path.join(interrupted, "checkpoint.safetensors")).equals(a)).toBe(true);
  });

  it("--epochs counts whole passes over the training set", async () => {
    const out = tempDir();
    const summary = await trainToy({ out, stage: "probe", epochs: 1, batch: 8 }).run;
    // 64 clips in batches of 8.
    expect(summary.stages[0]!.stepsDone).toBe(8);
  });

  it("--init loads weights by path and names the missing and extra keys", async () => {
    const out = tempDir();
    const ckpt = path.join(out, "partial.safetensors");
    const head = new Float32Array(32).fill(0.25);
    writeSafetensors(ckpt, { "head.weight": { dtype: "F32", shape: [4, 8], data: head }, "decoder.extra": { dtype: "F32", shape: [2], data: new Float32Array(2) } });
    const { run, output } = trainToy({ out: path.join(out, "run"), stage: "probe", init: ckpt, steps: 1 });
    await run;
    const text = output.text();
    expect(text).toContain("loaded 1 tensors");
    expect(text).toMatch(/missing from the checkpoint[^\n]*embed\.weight \[8, 3072\]/);
    expect(text).toMatch(/not in the model \(ignored\): decoder\.extra/);
  });

  it("--init with the wrong shapes lists every mismatch with the expected shape", async () => {
    const out = tempDir();
    await trainToy({ out: path.join(out, "wide"), stage: "pretrain", set: ["width=16"], steps: 1 }).run;
    const error = await trainToy({ out: path.join(out, "narrow"), stage: "probe", init: path.join(out, "wide", "checkpoint.safetensors"), steps: 1 }).run.catch((e: Error) => e);
    expect(error).toBeInstanceOf(Error);
    expect((error as Error).message).toMatch(/embed\.weight: the checkpoint has \[16, 3072\], the model expects \[8, 3072\]/);
    expect((error as Error).message).toMatch(/head\.weight: the checkpoint has \[4, 16\], the model expects \[4, 8\]/);
  });
});

describe("--data PATH", () => {
  it("trains on a folder of frame images, holding out every 10th sample", async () => {
    const { default: pngjs } = await import("pngjs");
    const root = tempDir();
    const lines: string[] = [];
    for (let s = 0; s < 20; s++) {
      const dir = path.join(root, `clip${s}`);
      fs.mkdirSync(dir);
      for (let f = 0; f < 4; f++) {
        const rgba = new Uint8Array(20 * 20 * 4).map((_, i) => (i % 4 === 3 ? 255 : (s * 13 + f * 29 + i) % 256));
        fs.writeFileSync(path.join(dir, `f${f}.png`), pngjs.PNG.sync.write({ width: 20, height: 20, data: rgba }));
      }
      lines.push(`clip${s} ${s % 4}`);
    }
    const list = path.join(root, "train.txt");
    fs.writeFileSync(list, `${lines.join("\n")}\n`);
    const out = path.join(root, "run");
    const { run, output } = trainToy({ out, stage: "pretrain", data: list, steps: 3, evalEvery: 3 });
    const summary = await run;
    expect(summary.stages[0]!.eval?.clips).toBe(2);
    expect(output.text()).toContain("18 train / 2 held-out clips (every 10th sample)");
    expect(readMetrics(out).at(-1)).toHaveProperty("eval_accuracy");
  });
});
