import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { bundleCode } from "../../compiler/bundle/entry.ts";
import { compileBundle } from "../../compiler/bundle/index.ts";
import { LAVAPIPE_PROFILE } from "../../compiler/codegen/kernel.ts";
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
    // Clipping's norm (partials, total) and one packed AdamW update: three dispatches for the model.
    expect(m.kernels.filter((k: { pass: string }) => k.pass === "optimizer")).toHaveLength(3);
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

  it("--precision f16: a train bundle stores its activations as f16 and its first step stays within f16 precision", (t) => {
    const bundle = join(work.dir, "fit16");
    const r = ivc("compile", TOY, "--stage", "fit", "--train", "--precision", "f16", "-o", bundle);
    expect(r.status, r.stderr).toBe(0);
    const m = JSON.parse(readFileSync(join(bundle, "manifest.json"), "utf8"));
    expect(m.precision).toBe("f16");
    expect(m.features).toContain("shader-f16");
    const halfKernels = m.kernels.filter((k: { file: string }) => /array<(vec4<)?f16>/.test(readFileSync(join(bundle, k.file), "utf8")));
    expect(halfKernels.length).toBeGreaterThan(2);
    const graph = compileModel(TOY, { stage: "fit", differentiate: true }).graph!;
    const params = Object.fromEntries(graph.params.map((p, k) => [p.path, randomArray((p.shape as number[]).reduce((a, b) => a * b, 1), 60 + k)]));
    const clip = randomArray(3 * 3 * 2 * 4 * 4, 61);
    const label = Int32Array.from([1, 0, 2]);
    writeFileSync(join(work.dir, "fit16.json"), JSON.stringify({ params: Object.fromEntries(Object.entries(params).map(([k, v]) => [k, [...v]])), clip: [...clip], label: [...label] }));
    let got: { loss: number };
    try {
      got = runNode<{ loss: number }>(
        work.dir,
        "run-fit16.mjs",
        `import { readFileSync } from "node:fs";
import { load } from "./fit16/index.js";
const d = JSON.parse(readFileSync(new URL("./fit16.json", import.meta.url), "utf8"));
const m = await load({ weights: d.params });
m.step({ clip: d.clip, label: d.label }, { lr: ${LR}, step: 0 });
const loss = await m.loss();
m.destroy();
console.log(JSON.stringify({ loss }));
`,
      );
    } catch (e) {
      if (/shader-f16/.test((e as Error).message)) t.skip();
      throw e;
    }
    const want = interpret(graph, { inputs: { clip, label }, params, dims: { B: 3 } }).loss!.data[0]!;
    expect(Math.abs(got.loss - want) / Math.abs(want)).toBeLessThan(5e-3);
  });

  it("BatchNorm running statistics and SGD momentum over two steps match the interpreter + reference SGD", () => {
    const file = "test/bundle/fixtures/toy-bn.ivm";
    const bundle = join(work.dir, "bn");
    const r = ivc("compile", file, "--stage", "fit", "--train", "-o", bundle);
    expect(r.status, r.stderr).toBe(0);
    const compiled = compileModel(file, { stage: "fit", differentiate: true });
    const graph = compiled.graph!;
    const params: Record<string, Float32Array> = {};
    graph.params.forEach(
      (p, k) =>
        (params[p.path] = randomArray(
          (p.shape as number[]).reduce((a, b) => a * b, 1),
          40 + k,
        )),
    );
    params["bn.running_var"] = params["bn.running_var"]!.map((x) => 1 + Math.abs(x));
    const clip = randomArray(4 * 3 * 2 * 4 * 4, 41);
    const label = Int32Array.from([0, 2, 1, 1]);
    writeFileSync(
      join(work.dir, "bn-params.json"),
      JSON.stringify({
        params: Object.fromEntries(Object.entries(params).map(([k, v]) => [k, [...v]])),
        clip: [...clip],
        label: [...label],
      }),
    );
    const got = runNode<Record<string, number[]>>(
      work.dir,
      "run-bn.mjs",
      `import { readFileSync } from "node:fs";
import { load } from "./bn/index.js";
const d = JSON.parse(readFileSync(new URL("./bn-params.json", import.meta.url), "utf8"));
const m = await load({ weights: d.params });
const batch = { clip: d.clip, label: d.label };
m.step(batch, { lr: 0.1, step: 0 });
m.step(batch, { lr: 0.05, step: 1 });
const out = {};
for (const path of Object.keys(d.params)) out[path] = [...(await m.parameter(path))];
m.destroy();
console.log(JSON.stringify(out));
`,
    );

    const values = new Map(Object.entries(params).map(([k, v]) => [k, Float32Array.from(v)]));
    const trainable = graph.outputs.filter((o) => o.name.startsWith("grad:")).map((o) => o.name.slice(5));
    const info = new Map(graph.params.map((p) => [p.path, p]));
    const opt = new Optimizer(
      optimizerFromCall(compiled.elaborated!.stage!.optim),
      trainable.map((p) => ({ path: p, decay: info.get(p)!.decay, lrScale: 1 })),
      new Map(trainable.map((p) => [p, values.get(p)!.length])),
    );
    [0.1, 0.05].forEach((lr, t) => {
      const ref = interpret(graph, { inputs: { clip, label }, params: Object.fromEntries(values), dims: { B: 4 } });
      for (const o of graph.outputs.filter((x) => x.name.startsWith("state:")))
        values.set(o.name.slice(6), Float32Array.from(ref[o.name]!.data));
      opt.update(values, new Map(trainable.map((p) => [p, Float32Array.from(ref[`grad:${p}`]!.data)])), lr, t + 1);
    });
    expect(relError(got["bn.running_mean"]!, values.get("bn.running_mean")!)).toBeLessThan(1e-5);
    expect(relError(got["bn.running_var"]!, values.get("bn.running_var")!)).toBeLessThan(1e-5);
    expect(got["bn.running_mean"]).not.toEqual([...params["bn.running_mean"]!]);
    for (const p of trainable) expect(relError(got[p]!, values.get(p)!), p).toBeLessThan(1e-4);
  });

  it("a stage's freezes and SGD reach the manifest: no gradient or update for frozen parameters", async () => {
    // In-process: the same compileBundle/bundleCode `ivc compile` runs, without a process and a device.
    const adapter = async () => ({ profile: LAVAPIPE_PROFILE, name: "test" });
    const result = await compileBundle({ file: TOY, stage: "probe", train: true, batch: 2, adapter });
    expect(result.failed).toBeUndefined();
    const m = result.manifest!;
    expect(m.batch).toBe(2);
    expect(m.optimizer).toMatchObject({ kind: "sgd", clipGradNorm: 0 });
    expect(m.optimizer!.trainable).not.toContain("embed.weight");
    expect(m.parameters.find((p) => p.path === "embed.weight")!.frozen).toBe(true);
    // One update dispatch over the packed trainable tensors (no clipping here), as in the engine.
    const updates = m.kernels.filter((k) => k.pass === "optimizer").map((k) => k.name);
    expect(updates).toEqual(["opt_sgd_packed"]);
    const state = m.optimizer!.state as Record<string, { offset: number; length: number }>;
    expect(Object.keys(state).sort()).toEqual([...(m.optimizer!.trainable as string[])].sort());
    expect(Object.values(state).reduce((a, t) => a + t.length, 0)).toBe(m.buffers.plan.find((b) => b.id === "opt.buf")!.bytes / 4);
    const ts = (await bundleCode(m))["index.ts"];
    expect(ts).toMatch(/step\(batch: Inputs, options: StepOptions\): void;/);
    expect(ts).toMatch(/loss\(\): Promise<number>;/);
    expect(ts).toMatch(/readonly label: Int32Array \| ArrayLike<number>;/);
  });
});
