import { describe, expect, it } from "vitest";
import { differentiate } from "../../compiler/autodiff/index.ts";
import { interpret } from "../../compiler/interp/index.ts";
import { simplify } from "../../compiler/simplify/index.ts";
import { verifyGraph } from "../../compiler/ir/verify.ts";
import { randomData, rng } from "../autodiff/gradcheck.ts";
import { buildUniformerTiny, TINY } from "./uniformer-tiny.ts";

/** Directional derivative check over all parameters at once: grad . v against central differences along v. */
function directionalError(): number {
  const cfg = { batch: 2, frames: 2, size: 8, patch: 4, width: 12, layers: 2, heads: 2, globalLayers: 1, classes: 3 };
  const { graph, params } = buildUniformerTiny(cfg);
  const { graph: full, grads } = differentiate(graph, { loss: "loss", wrt: () => true });
  const next = rng(4);
  const values = Object.fromEntries(params.map((p) => [p.path, randomData({ shape: p.shape as number[] }, next)]));
  const dir = Object.fromEntries(params.map((p) => [p.path, randomData({ shape: p.shape as number[] }, next)]));
  const video = randomData({ shape: [2, 3, 2, 8, 8] }, next);
  const label = Float64Array.from([1, 0, 0, 0, 0, 1]);
  const run = (vals: Record<string, Float64Array>, outputs: string[]) =>
    interpret(full, { inputs: { video, label }, params: vals, precision: "f64", outputs });
  const g = run(values, [...grads.keys()].map((p) => `grad:${p}`));
  let analytic = 0;
  for (const path of grads.keys()) g[`grad:${path}`]!.data.forEach((v, i) => (analytic += v * dir[path]![i]!));
  const h = 1e-6;
  const shifted = (sign: number) =>
    Object.fromEntries(Object.entries(values).map(([k, v]) => [k, v.map((x, i) => x + sign * h * dir[k]![i]!)]));
  const numeric = (run(shifted(1), ["loss"])["loss"]!.data[0]! - run(shifted(-1), ["loss"])["loss"]!.data[0]!) / (2 * h);
  expect(Math.abs(numeric)).toBeGreaterThan(1e-3);
  return Math.abs(analytic - numeric) / Math.max(Math.abs(numeric), 1e-12);
}

describe("tiny UniFormerV2 on the interpreter", () => {
  it("runs forward + backward in a few seconds and produces a gradient for every parameter", () => {
    const { graph, params } = buildUniformerTiny();
    const { graph: full, grads, unreachable } = differentiate(graph, { loss: "loss", wrt: (p) => !p.frozen });
    expect(unreachable).toEqual([]);
    const small = simplify(full);
    expect(verifyGraph(full)).toEqual([]);
    expect(verifyGraph(small)).toEqual([]);
    const next = rng(11);
    const values = Object.fromEntries(
      params.map((p) => [p.path, Float32Array.from(randomData({ shape: p.shape as number[] }, next), (v) => v * (p.init.kind === "normal" ? 0.2 : 1))]),
    );
    for (const p of params) if (p.path.endsWith(".g")) values[p.path]!.fill(1);
    const { batch: B, frames: T, size: S, classes: K } = TINY;
    const video = Float32Array.from(randomData({ shape: [B, 3, T, S, S] }, next));
    const label = new Float32Array(B * K);
    label[3] = 1;
    label[K + 7] = 1;
    const start = performance.now();
    const out = interpret(small, { inputs: { video, label }, params: values, precision: "f32" });
    const seconds = (performance.now() - start) / 1000;
    console.log(`tiny UniFormerV2 fwd+bwd: ${seconds.toFixed(2)} s, ${full.nodes.length} nodes (${small.nodes.length} after simplify), ${grads.size} grads`);
    expect(seconds).toBeLessThan(8);
    expect(Number.isFinite(out["loss"]!.data[0]!)).toBe(true);
    for (const path of grads.keys()) {
      const g = out[`grad:${path}`]!.data;
      expect(g.every(Number.isFinite), path).toBe(true);
    }
  });

  it("its full gradient agrees with finite differences along a random direction (float64)", () => {
    const err = directionalError();
    console.log(`directional relative error ${err.toExponential(2)}`);
    expect(err).toBeLessThan(1e-6);
  });
});
