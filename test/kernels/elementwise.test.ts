import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import {
  elementwise,
  type ElementwiseParams,
  type EwExpr,
} from "../../compiler/codegen/elementwise.ts";
import { contiguousStrides, numel } from "../../compiler/codegen/index-map.ts";
import { evalElementwise } from "./elementwise-reference.ts";
import {
  openHarness,
  randomArray,
  relError,
  type HostArray,
  type KernelHarness,
} from "./harness.ts";

// A cold lavapipe JIT of each new shader can take seconds on a busy machine.
vi.setConfig({ testTimeout: 180_000 });

let h: KernelHarness;
beforeAll(async () => {
  h = await openHarness();
});
afterAll(() => h?.destroy());

const x: EwExpr = { op: "input", input: "x" };
const y: EwExpr = { op: "input", input: "y" };
const c = (value: number): EwExpr => ({ op: "const", value });
const un = (fn: any, a: EwExpr): EwExpr => ({ op: "unary", fn, x: a });
const bin = (fn: any, a: EwExpr, b: EwExpr): EwExpr => ({
  op: "binary",
  fn,
  a,
  b,
});

async function check(
  p: ElementwiseParams,
  data: Record<string, HostArray>,
  seed = 0,
) {
  const outSizes = Object.fromEntries(
    p.outputs.map((o) => [o.name, numel(p.shape)]),
  );
  const got = await h.run(
    [elementwise(p)],
    { ...data, ...outSizes },
    p.outputs.map((o) => o.name),
    { seed },
  );
  const want = evalElementwise(p, data, seed);
  for (const o of p.outputs) {
    const g =
      o.dtype === "f32" ? got[o.name] : new Int32Array(got[o.name].buffer);
    expect(relError(g, want[o.name]), o.name).toBeLessThan(1e-4);
  }
}

/** Strides of a tensor of shape `stored`, seen through `perm` (output axis d reads stored axis perm[d]). */
const permuted = (stored: number[], perm: number[]) =>
  perm.map((a) => contiguousStrides(stored)[a]);

describe("fused elementwise", () => {
  it("folds a broadcast and a permute, with two outputs (vec4 path)", async () => {
    const shape = [3, 5, 8];
    const p: ElementwiseParams = {
      shape,
      inputs: [
        { name: "x", dtype: "f32", strides: contiguousStrides(shape) },
        { name: "bias", dtype: "f32", strides: [0, 0, 1] },
        { name: "y", dtype: "f32", strides: permuted([8, 5, 3], [2, 1, 0]) },
      ],
      outputs: [
        {
          name: "out",
          dtype: "f32",
          expr: bin(
            "add",
            {
              op: "where",
              cond: { op: "compare", fn: "gt", a: x, b: c(0) },
              a: bin("mul", x, { op: "input", input: "bias" }),
              b: un("exp", y),
            },
            un("erf", x),
          ),
        },
        {
          name: "mask",
          dtype: "bool",
          expr: { op: "compare", fn: "lt", a: x, b: y },
        },
      ],
    };
    const elementwiseKernel = elementwise(p);
    expect(elementwiseKernel.wgsl).toContain("vec4<f32>");
    await check(p, {
      x: randomArray(120, 1),
      bias: randomArray(8, 2),
      y: randomArray(120, 3),
    });
  });

  it("handles odd shapes, a strided slice with offset, i32 inputs, casts and iota (scalar path)", async () => {
    const shape = [7, 13, 5];
    // y is the slice [1:8, ::2, 2:7] of a [9, 26, 8] tensor.
    const big = [9, 26, 8];
    const bs = contiguousStrides(big);
    const p: ElementwiseParams = {
      shape,
      inputs: [
        { name: "x", dtype: "f32", strides: contiguousStrides(shape) },
        {
          name: "y",
          dtype: "f32",
          strides: [bs[0], 2 * bs[1], bs[2]],
          offset: bs[0] + 2,
        },
        { name: "k", dtype: "i32", strides: [0, 1, 0] },
      ],
      outputs: [
        {
          name: "out",
          dtype: "f32",
          expr: bin(
            "add",
            bin("mul", un("tanh", bin("sub", x, y)), {
              op: "cast",
              to: "f32",
              x: { op: "input", input: "k" },
            }),
            un("sigmoid", { op: "iota", axis: 2, dtype: "f32" }),
          ),
        },
        {
          name: "idx",
          dtype: "i32",
          expr: bin(
            "add",
            { op: "iota", axis: 1 },
            { op: "cast", to: "i32", x: bin("mul", x, c(10)) },
          ),
        },
      ],
    };
    const k = new Int32Array(13).map((_, i) => i - 6);
    await check(p, {
      x: randomArray(numel(shape), 4),
      y: randomArray(numel(big), 5),
      k,
    });
  });

  it("covers the unary and binary ops on one element and on a vec4 row", async () => {
    const ops: EwExpr = bin(
      "add",
      bin(
        "add",
        un("sqrt", un("abs", x)),
        un("log", bin("add", un("abs", x), c(1))),
      ),
      bin(
        "add",
        bin(
          "max",
          un("rsqrt", bin("add", un("abs", x), c(0.5))),
          un("recip", bin("add", un("abs", y), c(2))),
        ),
        bin(
          "add",
          bin("min", un("sin", x), un("cos", y)),
          bin(
            "add",
            un("floor", x),
            bin(
              "add",
              un("sign", y),
              bin(
                "add",
                un("relu", x),
                bin("add", un("neg", y), bin("pow", x, c(3))),
              ),
            ),
          ),
        ),
      ),
    );
    for (const shape of [
      [1, 1, 1],
      [2, 12],
    ]) {
      const n = numel(shape);
      await check(
        {
          shape,
          inputs: [
            { name: "x", dtype: "f32", strides: contiguousStrides(shape) },
            { name: "y", dtype: "f32", strides: contiguousStrides(shape) },
          ],
          outputs: [{ name: "out", dtype: "f32", expr: ops }],
        },
        { x: randomArray(n, 6, -2, 2), y: randomArray(n, 7, -2, 2) },
      );
    }
  });

  it("covers every item when lanes take several items and the last workgroup is partial", async () => {
    for (const shape of [[3, 20004], [70001]]) {
      const n = numel(shape);
      await check(
        {
          shape,
          inputs: [
            { name: "x", dtype: "f32", strides: contiguousStrides(shape) },
          ],
          outputs: [{ name: "out", dtype: "f32", expr: bin("mul", x, c(3)) }],
        },
        { x: randomArray(n, 9) },
      );
    }
  });

  it("generates dropout from the step seed", async () => {
    const shape = [4, 16];
    const keep: EwExpr = {
      op: "compare",
      fn: "ge",
      a: { op: "random", dist: "uniform", stream: 11 },
      b: c(0.25),
    };
    const p: ElementwiseParams = {
      shape,
      inputs: [{ name: "x", dtype: "f32", strides: contiguousStrides(shape) }],
      outputs: [
        {
          name: "out",
          dtype: "f32",
          expr: { op: "where", cond: keep, a: bin("div", x, c(0.75)), b: c(0) },
        },
      ],
    };
    await check(p, { x: randomArray(64, 8) }, 1234);
  });
});
