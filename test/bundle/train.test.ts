import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { interpret } from "../../compiler/interp/index.ts";
import { compileModel } from "../../compiler/pipeline.ts";
import { clipGradNorm, Optimizer, optimizerFromCall } from "../../runtime/train/optim.ts";
import { randomArray } from "../backend/gpu-helpers.ts";
import { ivc, relError, runNode, workDir } from "./helpers.ts";

const TOY = "test/bundle/fixtures/toy.ivm";
const LR = 1e-2;

let work: ReturnType<typeof workDir>;
beforeAll(() => {
  work = workDir("train");
});
afterAll(() => work?.cleanup());

describe("ivc compile --train", () => {
  it("one step in a plain Node process matches interpreter gradients + AdamW with global-norm clipping", () => {
    const bundle = join(work.dir, "fit");
    const r = ivc("compile", TOY, "--stage", "fit", "--train", "-o", bundle);
    expect(r.status, r.stderr).toBe(0);
    const m = JSON.parse(readFileSync(join(bundle, "manifest.json"), "utf8"));
    expect(m.mode).toBe("train");
    expect(m.batch).toBe(3); // the stage's `batch` setting
    expect(m.optimizer).toMatchObject({
      kind: "adamw",
      clipGradNorm: 0.5,
      trainable: expect.arrayContaining(["embed.weight", "head.bias"]),
    });
    const passes = new Set(m.kernels.map((k: { pass: string }) => k.pass));
    expect(passes).toEqual(new Set(["forward", "backward", "optimizer"]));
    expect(m.schedule.some((s: object) => "copy" in s)).toBe(true);

    const compiled = compileModel(TOY, { stage: "fit", differentiate: true });
    const graph = compiled.graph!;
    const params: Record<string, Float32Array> = {};
    graph.params.forEach(
      (p, k) =>
        (params[p.path] = randomArray(
          (p.shape as number[]).reduce((a, b) => a * b, 1),
          3 + k,
        )),
    );
    const clip = randomArray(3 * 3 * 2 * 4 * 4, 9);
    const label = Int32Array.from([0, 2, 1]);
    writeFileSync(
      join(work.dir, "fit-params.json"),
      JSON.stringify({
        params: Object.fromEntries(Object.entries(params).map(([k, v]) => [k, [...v]])),
        clip: [...clip],
        label: [...label],
      }),
    );

    const got = runNode<{ loss: number; after: Record<string, number[]>; losses: number[] }>(
      work.dir,
      "run-train.mjs",
      `import { readFileSync } from "node:fs";
import { load } from "./fit/index.js";
const d = JSON.parse(readFileSync(new URL("./fit-params.json", import.meta.url), "utf8"));
const weights = Object.fromEntries(Object.entries(d.params).map(([k, v]) => [k, Float32Array.from(v)]));
const m = await load({ weights });
const batch = { clip: Float32Array.from(d.clip), label: Int32Array.from(d.label) };
m.step(batch, { lr: ${LR}, step: 0 });
const loss = await m.loss();
const after = {};
for (const path of Object.keys(weights)) after[path] = [...(await m.parameter(path))];
const losses = [];
for (let s = 1; s < 8; s++) { m.step(batch, { lr: ${LR}, step: s }); losses.push(await m.loss()); }
m.destroy();
console.log(JSON.stringify({ loss, after, losses }));
`,
    );

    const ref = interpret(graph, { inputs: { clip, label }, params, dims: { B: 3 } });
    expect(Math.abs(got.loss - ref.loss!.data[0]!)).toBeLessThan(1e-4 * Math.max(1, Math.abs(ref.loss!.data[0]!)));
    const trainable = graph.outputs.filter((o) => o.name.startsWith("grad:")).map((o) => o.name.slice(5));
    const grads = new Map(trainable.map((p) => [p, Float32Array.from(ref[`grad:${p}`]!.data)]));
    clipGradNorm([...grads.values()], 0.5);
    const spec = optimizerFromCall(compiled.elaborated!.stage!.optim);
    const info = new Map(graph.params.map((p) => [p.path, p]));
    const values = new Map(trainable.map((p) => [p, Float32Array.from(params[p]!)]));
    const opt = new Optimizer(
      spec,
      trainable.map((p) => ({ path: p, decay: info.get(p)!.decay, lrScale: 1 })),
      new Map(trainable.map((p) => [p, params[p]!.length])),
    );
    opt.update(values, grads, LR, 1);
    for (const p of trainable) expect(relError(got.after[p]!, values.get(p)!), p).toBeLessThan(1e-4);
    // Parameters without a gradient are untouched.
    for (const p of Object.keys(params).filter((x) => !trainable.includes(x))) expect(got.after[p]).toEqual([...params[p]!]);
    expect(got.losses.at(-1)!).toBeLessThan(got.loss);
  });

  it("a stage's freezes and SGD reach the manifest: no gradient or update for frozen parameters", () => {
    const bundle = join(work.dir, "probe");
    const r = ivc("compile", TOY, "--stage", "probe", "--train", "--batch", "2", "-o", bundle);
    expect(r.status, r.stderr).toBe(0);
    const m = JSON.parse(readFileSync(join(bundle, "manifest.json"), "utf8"));
    expect(m.batch).toBe(2);
    expect(m.optimizer.kind).toBe("sgd");
    expect(m.optimizer.clipGradNorm).toBe(0);
    expect(m.optimizer.trainable).not.toContain("embed.weight");
    expect(m.parameters.find((p: { path: string }) => p.path === "embed.weight").frozen).toBe(true);
    const updates = m.kernels.filter((k: { pass: string }) => k.pass === "optimizer").map((k: { name: string }) => k.name);
    expect(updates.length).toBe(m.optimizer.trainable.length);
    expect(updates.some((n: string) => n.includes("embed"))).toBe(false);
    const ts = readFileSync(join(bundle, "index.ts"), "utf8");
    expect(ts).toMatch(/step\(batch: Inputs, options: StepOptions\): void;/);
    expect(ts).toMatch(/loss\(\): Promise<number>;/);
    expect(ts).toMatch(/readonly label: Int32Array \| ArrayLike<number>;/);
  });
});
