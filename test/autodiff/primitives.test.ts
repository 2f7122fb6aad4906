import { describe, it } from "vitest";
import type { BinaryOp, UnaryOp } from "../../compiler/ir/types.ts";
import { gradCheck, rng } from "./gradcheck.ts";

const UNARY_CASES: [UnaryOp, { low?: number; high?: number; awayFromZero?: boolean }][] = [
  ["neg", {}], ["abs", { awayFromZero: true }], ["exp", {}], ["log", { low: 0.5, high: 2 }],
  ["sqrt", { low: 0.5, high: 2 }], ["rsqrt", { low: 0.5, high: 2 }], ["recip", { low: 0.5, high: 2 }],
  ["tanh", {}], ["sigmoid", {}], ["erf", { low: -2, high: 2 }], ["sin", {}], ["cos", {}], ["relu", { awayFromZero: true }],
];

describe("gradients of elementwise primitives (float64 finite differences)", () => {
  for (const [op, range] of UNARY_CASES) {
    it(`unary ${op}`, () => {
      gradCheck({ params: { x: { shape: [3, 4], ...range } }, build: (b, p) => b.unary(op, p.x!) });
    });
  }
  const BINARY: [BinaryOp, { low?: number; high?: number }][] = [
    ["add", {}], ["sub", {}], ["mul", {}], ["div", { low: 0.5, high: 2 }], ["max", {}], ["min", {}], ["pow", { low: 0.5, high: 2 }],
  ];
  for (const [op, range] of BINARY) {
    it(`binary ${op} with broadcasting on both sides`, () => {
      gradCheck({ params: { a: { shape: [3, 1, 4], ...range }, b: { shape: [2, 4], ...range } }, build: (g, p) => g.binary(op, p.a!, p.b!) });
      gradCheck({ params: { a: { shape: [2, 3], ...range }, s: { shape: [], ...range } }, build: (g, p) => g.binary(op, p.s!, p.a!), seed: 7 });
    });
  }
  it("where routes the cotangent by the condition, with broadcast branches", () => {
    gradCheck({
      params: { a: { shape: [3, 4] }, b: { shape: [4] }, c: { shape: [3, 1], frozen: true } },
      build: (g, p) => g.where(g.compare("gt", p.a!, p.c!), p.a!, p.b!),
    });
  });
  it("cast f32 -> f32 passes the cotangent through", () => {
    gradCheck({ params: { x: { shape: [5] } }, build: (b, p) => b.unary("exp", b.cast(p.x!, "f32")) });
  });
});

describe("gradients of reductions and matmul", () => {
  it("reduce sum over several axes, with and without keepdims", () => {
    gradCheck({ params: { x: { shape: [2, 3, 4] } }, build: (b, p) => b.reduce("sum", p.x!, [0, 2]) });
    gradCheck({ params: { x: { shape: [2, 3, 4] } }, build: (b, p) => b.reduce("sum", p.x!, [1], true) });
  });
  it("reduce max via the equality mask", () => {
    gradCheck({ params: { x: { shape: [3, 5] } }, build: (b, p) => b.reduce("max", p.x!, [1]) });
    gradCheck({ params: { x: { shape: [2, 3, 4] } }, build: (b, p) => b.reduce("max", p.x!, [0, 2], true) });
  });
  it("matmul, plain and with broadcast batch dims", () => {
    gradCheck({ params: { a: { shape: [3, 4] }, b: { shape: [4, 2] } }, build: (g, p) => g.matmul(p.a!, p.b!) });
    gradCheck({ params: { a: { shape: [2, 1, 3, 4] }, b: { shape: [5, 4, 2] } }, build: (g, p) => g.matmul(p.a!, p.b!) });
    gradCheck({ params: { a: { shape: [3, 4] }, b: { shape: [2, 4, 5] } }, build: (g, p) => g.matmul(p.a!, p.b!) });
  });
});

describe("gradients of conv3d", () => {
  type Opts = { stride?: [number, number, number]; padding?: [number, number, number]; dilation?: [number, number, number]; groups?: number };
  const cases: [string, number[], number[], Opts][] = [
    ["plain", [2, 2, 3, 4, 4], [3, 2, 2, 2, 2], {}],
    ["strided", [1, 2, 5, 6, 5], [2, 2, 2, 3, 2], { stride: [2, 2, 3] }],
    ["padded", [1, 2, 3, 4, 4], [2, 2, 3, 3, 1], { padding: [1, 2, 0] }],
    ["dilated", [1, 1, 5, 6, 5], [2, 1, 2, 2, 3], { dilation: [2, 3, 1] }],
    ["grouped", [1, 4, 3, 4, 3], [6, 2, 2, 2, 1], { groups: 2 }],
    ["depthwise", [2, 3, 4, 3, 3], [3, 1, 3, 1, 1], { groups: 3, padding: [1, 0, 0] }],
    ["strided+padded+dilated+grouped", [1, 4, 6, 7, 5], [4, 2, 2, 3, 2], { stride: [2, 1, 2], padding: [1, 2, 1], dilation: [2, 2, 1], groups: 2 }],
    ["patch embedding (stride = kernel)", [1, 3, 4, 4, 4], [4, 3, 2, 2, 2], { stride: [2, 2, 2] }],
  ];
  for (const [name, xs, ws, opts] of cases) {
    it(name, () => {
      gradCheck({ params: { x: { shape: xs }, w: { shape: ws } }, build: (b, p) => b.conv3d(p.x!, p.w!, opts) });
    });
  }
});

describe("gradients of views and data movement", () => {
  it("reshape and permute", () => {
    gradCheck({ params: { x: { shape: [2, 3, 4] } }, build: (b, p) => b.unary("tanh", b.permute(b.reshape(p.x!, [6, 2, 2]), [2, 0, 1])) });
  });
  it("slice with starts and steps", () => {
    gradCheck({ params: { x: { shape: [5, 7, 3] } }, build: (b, p) => b.slice(p.x!, [1, 0, 1], [5, 7, 3], [2, 3, 1]) });
    gradCheck({ params: { x: { shape: [4, 6] } }, build: (b, p) => b.slice(p.x!, [1, 2], [3, 6], [1, 2]) });
  });
  it("pad", () => {
    gradCheck({ params: { x: { shape: [2, 3] } }, build: (b, p) => b.unary("exp", b.pad(p.x!, [1, 0], [2, 1], 0.5)) });
  });
  it("concat of three inputs", () => {
    gradCheck({
      params: { a: { shape: [2, 1, 3] }, b: { shape: [2, 2, 3] }, c: { shape: [2, 3, 3] } },
      build: (g, p) => g.concat([p.a!, p.b!, p.c!], 1),
    });
  });
  it("broadcast", () => {
    gradCheck({ params: { x: { shape: [3, 1] } }, build: (b, p) => b.broadcast(p.x!, [2, 3, 4]) });
  });
  it("gather (table gradient through scatter_add), with repeated indices", () => {
    const idx = Int32Array.from([2, 0, 2, 1, 3, 2]);
    gradCheck({
      params: { t: { shape: [4, 3] } },
      inputs: { idx: { shape: [2, 3], data: idx, dtype: "i32" } },
      build: (b, p, x) => b.gather(p.t!, x.idx!, 0),
    });
    gradCheck({
      params: { t: { shape: [2, 5] } },
      inputs: { idx: { shape: [3], data: Int32Array.from([4, 0, 4]), dtype: "i32" } },
      build: (b, p, x) => b.gather(p.t!, x.idx!, 1),
    });
  });
  it("scatter_add (source gradient through gather)", () => {
    gradCheck({
      params: { s: { shape: [3, 2] } },
      inputs: { idx: { shape: [3], data: Int32Array.from([1, 1, 0]), dtype: "i32" } },
      build: (b, p, x) => b.scatterAdd(p.s!, x.idx!, 0, [4, 2]),
    });
  });
  it("random shapes for broadcasting binary ops", () => {
    const next = rng(42);
    const pick = (n: number) => 1 + Math.floor(next() * n);
    for (let trial = 0; trial < 6; trial++) {
      const rank = 1 + Math.floor(next() * 3);
      const full = Array.from({ length: rank }, () => pick(3));
      const a = full.map((d) => (next() < 0.3 ? 1 : d));
      const bs = full.slice(Math.floor(next() * rank)).map((d) => (next() < 0.3 ? 1 : d));
      gradCheck({ params: { a: { shape: a }, b: { shape: bs, low: 0.5, high: 2 } }, build: (g, p) => g.binary("div", g.binary("mul", p.a!, p.b!), g.binary("add", p.b!, p.a!)), seed: trial });
    }
  });
});

describe("gradients of attention and its backward companions", () => {
  const scale = 0.7;
  it("attention: cross-attention (M != N) with Dv != D, plain and causal", () => {
    for (const causal of [false, true]) {
      gradCheck({
        params: { q: { shape: [2, 3, 4] }, k: { shape: [2, 5, 4] }, v: { shape: [2, 5, 3] } },
        build: (b, p) => b.attention(p.q!, p.k!, p.v!, { scale, causal }),
      });
      gradCheck({
        params: { q: { shape: [1, 2, 5, 3] }, k: { shape: [1, 2, 3, 3] }, v: { shape: [1, 2, 3, 2] } },
        build: (b, p) => b.attention(p.q!, p.k!, p.v!, { scale, causal }),
        seed: 3,
      });
    }
  });
  it("attention laid out heads-last ([..., M, H, Dv]), plain and causal", () => {
    for (const causal of [false, true]) {
      gradCheck({
        params: { q: { shape: [2, 3, 4, 2] }, k: { shape: [2, 3, 5, 2] }, v: { shape: [2, 3, 5, 3] } },
        build: (b, p) => b.attention(p.q!, p.k!, p.v!, { scale, causal, heads_last: true }),
      });
    }
  });
  it("attention: one tensor as q, k and v (its cotangents summed)", () => {
    gradCheck({ params: { x: { shape: [2, 4, 3] } }, build: (b, p) => b.attention(p.x!, p.x!, p.x!, { causal: true }) });
  });
  it("the companions (a second derivative of attention) through their expansion, stats included", () => {
    const shapes = { q: { shape: [2, 3, 4] }, k: { shape: [2, 5, 4] }, v: { shape: [2, 5, 3] }, o: { shape: [2, 3, 3] }, dO: { shape: [2, 3, 3] } };
    const stats = { shape: [2, 3, 2], low: 0.5, high: 1.5 };
    for (const causal of [false, true]) {
      const attrs = { scale, causal };
      gradCheck({
        params: { q: shapes.q, k: shapes.k, o: shapes.o, dO: shapes.dO },
        build: (b, p) => b.attentionBackward("attention_stats", [p.q!, p.k!, p.o!, p.dO!], attrs),
      });
      for (const kind of ["attention_grad_q", "attention_grad_kv"] as const) {
        gradCheck({
          params: { q: shapes.q, k: shapes.k, v: shapes.v, dO: shapes.dO, stats },
          build: (b, p) => b.attentionBackward(kind, [p.q!, p.k!, p.v!, p.dO!, p.stats!], attrs),
        });
      }
    }
  });
});
