import { describe, expect, it } from "vitest";
import { interpret, type HostArray } from "../../compiler/interp/index.ts";
import { evalShape } from "../../compiler/ir/dims.ts";
import { compileModel } from "../../compiler/pipeline.ts";
import { verifyGraph } from "../../compiler/ir/verify.ts";
import { randomData, rng } from "./gradcheck.ts";

/**
 * End to end: real model specs (tiny presets, dropout and masking included) are elaborated,
 * differentiated and simplified by the pipeline; each whole gradient is checked along one random
 * direction in parameter space against central differences in float64.
 */
const MODELS: [string, string][] = [
  ["models/uniformerv2.ivm", "finetune"],
  ["models/videomae.ivm", "pretrain"],
  ["models/videomae.ivm", "finetune"],
];

describe("real models (tiny presets) from their .ivm specs", () => {
  it.each(MODELS)("%s stage %s: the full gradient matches finite differences along a random direction", (file, stage) => {
    const compiled = compileModel(file, { preset: "tiny", stage, differentiate: true });
    const graph = compiled.graph!;
    expect(graph, "the model compiles").toBeDefined();
    expect(verifyGraph(graph)).toEqual([]);
    const gradOutputs = graph.outputs.filter((o) => o.name.startsWith("grad:")).map((o) => o.name);
    expect(gradOutputs.length).toBeGreaterThan(50);
    const dims = { B: 2 };
    const next = rng(1);
    const inputs: Record<string, HostArray> = {};
    for (const i of graph.inputs) {
      const data = randomData({ shape: evalShape(i.shape, dims) }, next);
      inputs[i.name] = i.dtype === "i32" ? Int32Array.from(data, (v) => Math.floor(Math.abs(v) * 3)) : data;
    }
    const params: Record<string, Float64Array> = {};
    const direction: Record<string, Float64Array> = {};
    for (const p of graph.params) {
      const shape = evalShape(p.shape, dims);
      params[p.path] = randomData({ shape }, next).map((v) => v * 0.3);
      direction[p.path] = gradOutputs.includes(`grad:${p.path}`) ? randomData({ shape }, next) : new Float64Array(params[p.path]!.length);
    }
    const run = (values: Record<string, Float64Array>, outputs?: string[]) =>
      interpret(graph, { inputs, params: values, dims, precision: "f64", seed: 3, outputs });
    const out = run(params, gradOutputs);
    let analytic = 0;
    for (const name of gradOutputs) out[name]!.data.forEach((v, i) => (analytic += v * direction[name.slice(5)]![i]!));
    const h = 1e-6;
    const shifted = (sign: number) =>
      Object.fromEntries(Object.entries(params).map(([k, v]) => [k, v.map((x, i) => x + sign * h * direction[k]![i]!)]));
    const loss = (values: Record<string, Float64Array>) => run(values, ["loss"])["loss"]!.data[0]!;
    const numeric = (loss(shifted(1)) - loss(shifted(-1))) / (2 * h);
    expect(Math.abs(numeric)).toBeGreaterThan(1e-3);
    expect(Math.abs(analytic - numeric) / Math.abs(numeric)).toBeLessThan(1e-6);
  });
});
