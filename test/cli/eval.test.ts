// `ivc eval`: held-out accuracy of a checkpoint, checked against the interpreter run clip by clip here.
import { spawnSync } from "node:child_process";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { compileModel } from "../../compiler/pipeline.ts";
import { interpret } from "../../compiler/interp/index.ts";
import { SyntheticMotionDataset } from "../../runtime/data/synthetic.ts";
import { readSafetensors } from "../../runtime/io/safetensors.ts";
import { tempDir, TINY_SET } from "../train/helpers.ts";

const ivc = (...args: string[]) => spawnSync(process.execPath, ["bin/ivc.mjs", ...args], { encoding: "utf8", env: { ...process.env, NO_COLOR: "1" } });
const tinySet = TINY_SET.flatMap((s) => ["--set", s]);

describe("ivc eval", () => {
  it("scores a training checkpoint on the stage's held-out clips, a short last batch included", () => {
    const out = path.join(tempDir(), "run");
    const trained = ivc("train", "models/uniformerv2.ivm", ...tinySet, "--engine", "cpu", "--steps", "3", "--batch", "4", "--eval-every", "3", "--eval-clips", "4", "--out", out);
    expect(trained.status, trained.stderr).toBe(0);
    const checkpoint = path.join(out, "checkpoint.safetensors");
    // 11 clips in batches of 4: the last batch holds 3 clips and one padding row that must not count.
    const r = ivc("eval", "models/uniformerv2.ivm", ...tinySet, "--weights", checkpoint, "--engine", "cpu", "--clips", "11", "--batch", "4", "--json");
    expect(r.status, r.stderr).toBe(0);
    const report = JSON.parse(r.stdout) as { stage: string; results: { forward: string; accuracy: number; loss: number; clips: number }[] };
    expect(report.stage).toBe("finetune");
    expect(report.results).toHaveLength(1);
    const got = report.results[0]!;
    expect(got.clips).toBe(11);

    // The same clips through the interpreter one at a time, with the checkpoint's weights.
    const graph = compileModel("models/uniformerv2.ivm", { preset: "tiny", set: TINY_SET }).graph!;
    const tensors = readSafetensors(checkpoint).tensors;
    const params = new Map(graph.params.map((p) => [p.path, tensors.get(p.path)!.data as Float32Array]));
    const val = new SyntheticMotionDataset({ frames: 4, size: 16, classes: 4, split: "val", count: 11 });
    let correct = 0;
    let loss = 0;
    for (let i = 0; i < 11; i++) {
      const { clip, label } = val.get(i);
      const channelsFirst = new Float32Array(clip.length);
      const plane = 4 * 16 * 16;
      for (let p = 0; p < plane; p++) for (let c = 0; c < 3; c++) channelsFirst[c * plane + p] = clip[p * 3 + c]!;
      const logits = interpret(graph, { inputs: { clip: channelsFirst }, params, dims: { B: 1 } }).output!.data as Float32Array;
      const max = Math.max(...logits);
      if (logits.indexOf(max) === label) correct++;
      loss += Math.log(logits.reduce((s, v) => s + Math.exp(v - max), 0)) + max - logits[label]!;
    }
    expect(got.accuracy).toBeCloseTo(correct / 11, 10);
    expect(got.loss).toBeCloseTo(loss / 11, 4);
  });

  it("names a missing forward and lists the model's forwards, without a stack trace", () => {
    const r = ivc("eval", "models/internvideo.ivm", "--weights", "package.json", "--forward", "mae_logit", "--engine", "cpu");
    expect(r.status).toBe(1);
    expect(r.stderr).toContain("error[IV2009]");
    expect(r.stderr).toContain("has no member `forward mae_logit`");
    expect(r.stderr).toContain("mae_logits, mml_logits");
    expect(r.stderr).not.toMatch(/\n\s+at /);
    const none = ivc("eval", "models/uniformerv2.ivm");
    expect(none.status).toBe(2);
    expect(none.stderr).toContain("--weights is required");
  });
});
