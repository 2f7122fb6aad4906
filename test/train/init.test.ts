import { describe, expect, it } from "vitest";
import type { Init, ParamInfo } from "../../compiler/ir/types.ts";
import { initParams } from "../../runtime/init/index.ts";
import { erfinv, normalCdf } from "../../runtime/init/random.ts";

const param = (path: string, shape: number[], init: Init, dtype: "f32" | "i32" = "f32"): ParamInfo => ({
  path,
  shape,
  dtype,
  init,
  kind: "param",
  frozen: false,
  decay: true,
});

function stats(values: Float32Array | Int32Array) {
  let sum = 0;
  let min = Infinity;
  let max = -Infinity;
  for (const v of values) {
    sum += v;
    min = Math.min(min, v);
    max = Math.max(max, v);
  }
  const mean = sum / values.length;
  let sq = 0;
  for (const v of values) sq += (v - mean) ** 2;
  return { mean, std: Math.sqrt(sq / values.length), min, max };
}

const N = 40_000;
const only = (init: Init, shape = [N]) => initParams([param("w", shape, init)], 7).get("w")!;

describe("initParams", () => {
  it("fills constants exactly", () => {
    expect([...only({ kind: "zeros" }, [3])]).toEqual([0, 0, 0]);
    expect([...only({ kind: "ones" }, [2])]).toEqual([1, 1]);
    expect([...only({ kind: "constant", value: 0.25 }, [2])]).toEqual([0.25, 0.25]);
    const ints = initParams([param("n", [2], { kind: "constant", value: 3 }, "i32")], 0).get("n")!;
    expect(ints).toBeInstanceOf(Int32Array);
    expect([...ints]).toEqual([3, 3]);
  });

  it("normal has the requested mean and std", () => {
    const s = stats(only({ kind: "normal", mean: 0.5, std: 2 }));
    expect(s.mean).toBeCloseTo(0.5, 1);
    expect(s.std).toBeGreaterThan(1.96);
    expect(s.std).toBeLessThan(2.04);
  });

  it("trunc_normal treats a, b as absolute bounds (PyTorch semantics)", () => {
    // std 1 with bounds [-2, 2]: the standard truncated normal, variance 1 - 2*2*phi(2)/(Phi(2)-Phi(-2)).
    const phi2 = Math.exp(-2) / Math.sqrt(2 * Math.PI);
    const expectedStd = Math.sqrt(1 - (4 * phi2) / (normalCdf(2) - normalCdf(-2)));
    const s = stats(only({ kind: "trunc_normal", mean: 0, std: 1, a: -2, b: 2 }));
    expect(s.min).toBeGreaterThanOrEqual(-2);
    expect(s.max).toBeLessThanOrEqual(2);
    expect(s.std).toBeCloseTo(expectedStd, 2);
    // std 0.02 with the default bounds +-2: the bounds are 100 std away, so it is a plain normal.
    const narrow = stats(only({ kind: "trunc_normal", mean: 0, std: 0.02, a: -2, b: 2 }));
    expect(narrow.std).toBeCloseTo(0.02, 3);
    // A one-sided window far in the tail still lands inside it.
    const tail = stats(only({ kind: "trunc_normal", mean: 0, std: 1, a: 3, b: 3.5 }, [1000]));
    expect(tail.min).toBeGreaterThanOrEqual(3);
    expect(tail.max).toBeLessThanOrEqual(3.5);
  });

  it("uniform, xavier_uniform and kaiming_uniform stay in their bounds with the uniform variance", () => {
    const u = stats(only({ kind: "uniform", low: -1, high: 3 }));
    expect(u.min).toBeGreaterThanOrEqual(-1);
    expect(u.max).toBeLessThan(3);
    expect(u.mean).toBeCloseTo(1, 1);
    const xavierBound = Math.sqrt(6 / (100 + 300));
    const x = stats(only({ kind: "xavier_uniform", fanIn: 100, fanOut: 300 }));
    expect(x.max).toBeLessThanOrEqual(xavierBound);
    expect(x.max).toBeGreaterThan(0.99 * xavierBound);
    expect(x.std).toBeCloseTo(xavierBound / Math.sqrt(3), 3);
    // PyTorch's default Linear init: kaiming_uniform(a = sqrt(5)) gives the bound 1 / sqrt(fanIn).
    const k = stats(only({ kind: "kaiming_uniform", fanIn: 64, a: Math.sqrt(5) }));
    expect(k.max).toBeLessThanOrEqual(1 / 8 + 1e-7);
    expect(k.min).toBeGreaterThanOrEqual(-1 / 8 - 1e-7);
    expect(k.std).toBeCloseTo(1 / 8 / Math.sqrt(3), 3);
    const relu = stats(only({ kind: "kaiming_uniform", fanIn: 50, a: 0 }));
    expect(relu.max).toBeGreaterThan(0.99 * Math.sqrt(6 / 50));
  });

  it("sinusoidal is the VideoMAE table: sin on even, cos on odd channels", () => {
    const table = only({ kind: "sinusoidal", positions: 5, dim: 8 }, [5, 8]);
    expect([...table.slice(0, 8)]).toEqual([0, 1, 0, 1, 0, 1, 0, 1]);
    const p = 3;
    for (let j = 0; j < 8; j++) {
      const angle = p / 10000 ** ((2 * Math.floor(j / 2)) / 8);
      expect(table[p * 8 + j]).toBeCloseTo(j % 2 === 0 ? Math.sin(angle) : Math.cos(angle), 6);
    }
  });

  it("is deterministic per (seed, path): other parameters do not shift a parameter's values", () => {
    const init: Init = { kind: "normal", mean: 0, std: 1 };
    const alone = initParams([param("blocks.0.w", [16], init)], 3).get("blocks.0.w")!;
    const withOthers = initParams([param("a", [100], init), param("blocks.0.w", [16], init), param("z", [4], init)], 3).get("blocks.0.w")!;
    expect([...withOthers]).toEqual([...alone]);
    const otherSeed = initParams([param("blocks.0.w", [16], init)], 4).get("blocks.0.w")!;
    expect([...otherSeed]).not.toEqual([...alone]);
    const otherPath = initParams([param("blocks.1.w", [16], init)], 3).get("blocks.1.w")!;
    expect([...otherPath]).not.toEqual([...alone]);
  });

  it("erfinv inverts erf", () => {
    for (const y of [-0.999999, -0.7, -0.1, 0, 0.3, 0.95, 0.9999999]) {
      const x = erfinv(y);
      expect(2 * normalCdf(x * Math.SQRT2) - 1).toBeCloseTo(y, 12);
    }
  });
});
