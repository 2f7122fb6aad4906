import { describe, expect, it } from "vitest";
import { randomUniform } from "../../compiler/ir/philox.ts";
import { erf } from "../../compiler/interp/elementwise.ts";
import { run } from "./helpers.ts";

const close = (got: number[], want: number[], digits = 12) => {
  expect(got.length).toBe(want.length);
  got.forEach((g, i) => expect(g).toBeCloseTo(want[i]!, digits));
};

describe("elementwise", () => {
  it("unary ops", () => {
    const x = { shape: [4], data: [-1.5, -0.25, 0.5, 2] };
    const u = (op: Parameters<typeof run>[1] extends never ? never : string) => op;
    const cases: [string, (v: number) => number][] = [
      ["neg", (v) => -v], ["abs", Math.abs], ["exp", Math.exp], ["sin", Math.sin], ["cos", Math.cos],
      ["tanh", Math.tanh], ["sigmoid", (v) => 1 / (1 + Math.exp(-v))], ["floor", Math.floor],
      ["sign", Math.sign], ["relu", (v) => Math.max(v, 0)], ["recip", (v) => 1 / v],
    ];
    for (const [op, f] of cases) close(run([x], (b, a) => b.unary(u(op) as "neg", a)).data, x.data.map(f));
    const pos = { shape: [3], data: [0.25, 1, 4] };
    close(run([pos], (b, a) => b.unary("log", a)).data, [Math.log(0.25), 0, Math.log(4)]);
    close(run([pos], (b, a) => b.unary("sqrt", a)).data, [0.5, 1, 2]);
    close(run([pos], (b, a) => b.unary("rsqrt", a)).data, [2, 1, 0.5]);
  });
  it("erf matches reference values to double precision", () => {
    expect(erf(0)).toBe(0);
    expect(erf(0.5)).toBeCloseTo(0.5204998778130465, 15);
    expect(erf(1)).toBeCloseTo(0.8427007929497149, 15);
    expect(erf(-2)).toBeCloseTo(-0.9953222650189527, 15);
    expect(erf(3.5)).toBeCloseTo(0.9999992569016276, 14);
    expect(erf(7)).toBe(1);
  });
  it("binary ops broadcast right-aligned", () => {
    const a = { shape: [2, 1], data: [1, 2] };
    const b = { shape: [3], data: [10, 20, 30] };
    expect(run([a, b], (g, x, y) => g.binary("add", x, y))).toEqual({ shape: [2, 3], data: [11, 21, 31, 12, 22, 32] });
    expect(run([a, b], (g, x, y) => g.binary("sub", x, y)).data).toEqual([-9, -19, -29, -8, -18, -28]);
    expect(run([a, b], (g, x, y) => g.binary("mul", x, y)).data).toEqual([10, 20, 30, 20, 40, 60]);
    expect(run([b, a], (g, x, y) => g.binary("div", x, y)).data).toEqual([10, 20, 30, 5, 10, 15]);
    expect(run([{ shape: [3], data: [1, 5, 3] }, { shape: [3], data: [2, 4, 3] }], (g, x, y) => g.binary("max", x, y)).data).toEqual([2, 5, 3]);
    expect(run([{ shape: [3], data: [1, 5, 3] }, { shape: [3], data: [2, 4, 3] }], (g, x, y) => g.binary("min", x, y)).data).toEqual([1, 4, 3]);
    close(run([{ shape: [2], data: [4, 9] }, { shape: [], data: [0.5] }], (g, x, y) => g.binary("pow", x, y)).data, [2, 3]);
  });
  it("integer arithmetic truncates like WGSL", () => {
    const a = { shape: [3], data: [7, -7, 5], dtype: "i32" as const };
    const b = { shape: [3], data: [2, 2, -3], dtype: "i32" as const };
    expect(run([a, b], (g, x, y) => g.binary("div", x, y)).data).toEqual([3, -3, -1]);
    expect(run([a, b], (g, x, y) => g.binary("mul", x, y)).data).toEqual([14, -14, -15]);
  });
  it("compare, where and cast", () => {
    const a = { shape: [3], data: [1, 2, 3] };
    const b = { shape: [], data: [2] };
    expect(run([a, b], (g, x, y) => g.compare("lt", x, y)).data).toEqual([1, 0, 0]);
    expect(run([a, b], (g, x, y) => g.compare("le", x, y)).data).toEqual([1, 1, 0]);
    expect(run([a, b], (g, x, y) => g.compare("gt", x, y)).data).toEqual([0, 0, 1]);
    expect(run([a, b], (g, x, y) => g.compare("ge", x, y)).data).toEqual([0, 1, 1]);
    expect(run([a, b], (g, x, y) => g.compare("eq", x, y)).data).toEqual([0, 1, 0]);
    expect(run([a, b], (g, x, y) => g.compare("ne", x, y)).data).toEqual([1, 0, 1]);
    expect(run([a, b], (g, x, y) => g.where(g.compare("gt", x, y), x, g.unary("neg", x))).data).toEqual([-1, -2, 3]);
    expect(run([{ shape: [4], data: [-1.7, 1.7, 0, 2.5] }], (g, x) => g.cast(x, "i32")).data).toEqual([-1, 1, 0, 2]);
    expect(run([{ shape: [3], data: [0, 2, -1], dtype: "i32" }], (g, x) => g.cast(g.cast(x, "bool"), "f32")).data).toEqual([0, 1, 1]);
  });
  it("f32 mode rounds every stored result", () => {
    const r = run([{ shape: [1], data: [0.1] }], (g, x) => g.binary("add", x, g.constant(0.2)), { precision: "f32" });
    expect(r.data[0]).toBe(Math.fround(Math.fround(0.1) + Math.fround(0.2)));
  });
});

describe("reductions, matmul, conv3d", () => {
  const x = { shape: [2, 3], data: [1, 5, 2, -4, 0, 3] };
  it("reduce sum and max over axes, with and without keepdims", () => {
    expect(run([x], (g, a) => g.reduce("sum", a, [1]))).toEqual({ shape: [2], data: [8, -1] });
    expect(run([x], (g, a) => g.reduce("max", a, [0], true))).toEqual({ shape: [1, 3], data: [1, 5, 3] });
    expect(run([x], (g, a) => g.reduce("sum", a, [0, 1]))).toEqual({ shape: [], data: [7] });
  });
  it("matmul with broadcast batch dims", () => {
    const a = { shape: [2, 1, 2, 2], data: [1, 2, 3, 4, 0, 1, 1, 0] };
    const b = { shape: [3, 2, 1], data: [1, 1, 2, 0, 0, 3] };
    const r = run([a, b], (g, p, q) => g.matmul(p, q));
    expect(r.shape).toEqual([2, 3, 2, 1]);
    expect(r.data).toEqual([3, 7, 2, 6, 6, 12, 1, 1, 0, 2, 3, 0]);
  });
  it("conv3d: a 1x2x2 kernel with stride, padding, dilation and groups against hand results", () => {
    // x: one sample, 2 channels, T=1, 3x3 spatial; channel 1 = channel 0 * 10.
    const plane = [1, 2, 3, 4, 5, 6, 7, 8, 9];
    const xs = { shape: [1, 2, 1, 3, 3], data: [...plane, ...plane.map((v) => v * 10)] };
    const sumKernel = { shape: [1, 2, 1, 2, 2], data: [1, 1, 1, 1, 1, 1, 1, 1] };
    // Plain: each output sums a 2x2 window of both channels (x11).
    const plain = run([xs, sumKernel], (g, a, w) => g.conv3d(a, w));
    expect(plain).toEqual({ shape: [1, 1, 1, 2, 2], data: [12, 16, 24, 28].map((v) => v * 11) });
    const strided = run([xs, sumKernel], (g, a, w) => g.conv3d(a, w, { stride: [1, 2, 2], padding: [0, 1, 1] }));
    // Padded 5x5, windows at (0,0), (0,2), (2,0), (2,2) of the padded grid.
    expect(strided).toEqual({ shape: [1, 1, 1, 2, 2], data: [1, 2 + 3, 4 + 7, 5 + 6 + 8 + 9].map((v) => v * 11) });
    const dilated = run([xs, sumKernel], (g, a, w) => g.conv3d(a, w, { dilation: [1, 2, 2] }));
    expect(dilated).toEqual({ shape: [1, 1, 1, 1, 1], data: [(1 + 3 + 7 + 9) * 11] });
    const depthwise = { shape: [2, 1, 1, 1, 1], data: [2, -1] };
    const dw = run([xs, depthwise], (g, a, w) => g.conv3d(a, w, { groups: 2 }));
    expect(dw.data).toEqual([...plane.map((v) => 2 * v), ...plane.map((v) => -10 * v)]);
  });
  it("conv3d along time with padding", () => {
    const xt = { shape: [1, 1, 3, 1, 1], data: [1, 2, 3] };
    const k = { shape: [1, 1, 3, 1, 1], data: [1, 10, 100] };
    expect(run([xt, k], (g, a, w) => g.conv3d(a, w, { padding: [1, 0, 0] })).data).toEqual([210, 321, 32]);
  });
});

describe("views and data movement", () => {
  const x = { shape: [2, 3], data: [0, 1, 2, 3, 4, 5] };
  it("reshape, permute, slice, broadcast", () => {
    expect(run([x], (g, a) => g.reshape(a, [3, 2]))).toEqual({ shape: [3, 2], data: [0, 1, 2, 3, 4, 5] });
    expect(run([x], (g, a) => g.permute(a, [1, 0]))).toEqual({ shape: [3, 2], data: [0, 3, 1, 4, 2, 5] });
    expect(run([x], (g, a) => g.slice(a, [0, 0], [2, 3], [1, 2]))).toEqual({ shape: [2, 2], data: [0, 2, 3, 5] });
    expect(run([x], (g, a) => g.slice(a, [1, 1], [2, 3]))).toEqual({ shape: [1, 2], data: [4, 5] });
    expect(run([{ shape: [2, 1], data: [7, 8] }], (g, a) => g.broadcast(a, [2, 2, 3])).data).toEqual([7, 7, 7, 8, 8, 8, 7, 7, 7, 8, 8, 8]);
  });
  it("pad and concat", () => {
    expect(run([x], (g, a) => g.pad(a, [0, 1], [1, 0], -1))).toEqual({ shape: [3, 4], data: [-1, 0, 1, 2, -1, 3, 4, 5, -1, -1, -1, -1] });
    const y = { shape: [2, 1], data: [9, 8] };
    expect(run([x, y], (g, a, c) => g.concat([a, c], 1))).toEqual({ shape: [2, 4], data: [0, 1, 2, 9, 3, 4, 5, 8] });
    expect(run([x, x], (g, a, c) => g.concat([a, c], 0)).shape).toEqual([4, 3]);
  });
  it("gather and scatter_add are adjoint", () => {
    const table = { shape: [3, 2], data: [10, 11, 20, 21, 30, 31] };
    const idx = { shape: [2, 2], data: [2, 0, 2, 1], dtype: "i32" as const };
    expect(run([table, idx], (g, t, i) => g.gather(t, i, 0))).toEqual({ shape: [2, 2, 2], data: [30, 31, 10, 11, 30, 31, 20, 21] });
    expect(run([table, { shape: [1], data: [1], dtype: "i32" }], (g, t, i) => g.gather(t, i, 1)).data).toEqual([11, 21, 31]);
    const src = { shape: [2, 2, 2], data: [1, 2, 3, 4, 5, 6, 7, 8] };
    expect(run([src, idx], (g, s, i) => g.scatterAdd(s, i, 0, [3, 2]))).toEqual({ shape: [3, 2], data: [3, 4, 7, 8, 6, 8] });
    expect(() => run([table, { shape: [1], data: [3], dtype: "i32" }], (g, t, i) => g.gather(t, i, 0))).toThrow(/out of range/);
  });
  it("iota, constants, random and symbolic dims", () => {
    expect(run([], (g) => g.iota([2, 3], 1))).toEqual({ shape: [2, 3], data: [0, 1, 2, 0, 1, 2] });
    expect(run([], (g) => g.iota([2, 3], 0, "f32")).data).toEqual([0, 0, 0, 1, 1, 1]);
    expect(run([], (g) => g.constant([1, 2, 3, 4], [2, 2])).data).toEqual([1, 2, 3, 4]);
    expect(run([], (g) => g.constant(5, ["B", 2]), { dims: { B: 2 } })).toEqual({ shape: [2, 2], data: [5, 5, 5, 5] });
    const r = run([], (g) => g.random("uniform", [4], { stream: 3 }), { seed: 9 });
    expect(r.data).toEqual([0, 1, 2, 3].map((i) => randomUniform(9, 3, i)));
    const bern = run([], (g) => g.random("bernoulli", [1000], { stream: 1, p: 0.5 }));
    expect(bern.data.every((v) => v === 0 || v === 1)).toBe(true);
  });
});

describe("attention", () => {
  // One head, two queries, three keys: scores by hand, then softmax and the weighted sum of v.
  const q = { shape: [2, 2], data: [1, 0, 0, 2] };
  const k = { shape: [3, 2], data: [1, 1, 2, 0, 0, -1] };
  const v = { shape: [3, 1], data: [1, 10, 100] };
  const softmaxDot = (s: number[], w: number[]) => {
    const e = s.map(Math.exp);
    const z = e.reduce((a, x) => a + x, 0);
    return e.reduce((a, x, j) => a + (x / z) * w[j]!, 0);
  };
  it("is softmax(q k^T * scale) v", () => {
    const out = run([q, k, v], (b, x, y, z) => b.attention(x, y, z, { scale: 0.5 }));
    expect(out.shape).toEqual([2, 1]);
    close(out.data, [softmaxDot([0.5, 1, 0], [1, 10, 100]), softmaxDot([1, 0, -1], [1, 10, 100])]);
  });
  it("masks keys after the query when causal (aligned top-left)", () => {
    const out = run([q, k, v], (b, x, y, z) => b.attention(x, y, z, { scale: 0.5, causal: true }));
    close(out.data, [1, softmaxDot([1, 0], [1, 10])]);
  });
  it("stats are the logsumexp of the scores and rowsum(dO * o); the gradients match the formulas", () => {
    const attrs = { scale: 0.5, causal: false };
    const o = { shape: [2, 1], data: [2, 3] };
    const dO = { shape: [2, 1], data: [0.5, -1] };
    const stats = run([q, k, o, dO], (b, ...x) => b.attentionBackward("attention_stats", x, attrs));
    const lse = (s: number[]) => Math.log(s.reduce((a, x) => a + Math.exp(x), 0));
    close(stats.data, [lse([0.5, 1, 0]), 1, lse([1, 0, -1]), -3]);
    // With lse = 0 and D = 0 the probabilities are exp(s) and ds = p (dO . v).
    const zero = { shape: [2, 2], data: [0, 0, 0, 0] };
    const dq = run([q, k, v, dO, zero], (b, ...x) => b.attentionBackward("attention_grad_q", x, attrs));
    const p = [[0.5, 1, 0], [1, 0, -1]].map((r) => r.map(Math.exp));
    const ds = p.map((r, i) => r.map((pj, j) => pj * dO.data[i]! * v.data[j]!));
    const kRow = (j: number) => [k.data[2 * j]!, k.data[2 * j + 1]!];
    const want = ds.flatMap((r) => [0, 1].map((c) => 0.5 * r.reduce((a, x, j) => a + x * kRow(j)[c]!, 0)));
    close(dq.data, want);
    const dkv = run([q, k, v, dO, zero], (b, ...x) => b.attentionBackward("attention_grad_kv", x, attrs));
    expect(dkv.shape).toEqual([3, 3]);
    const wantKv = [0, 1, 2].flatMap((j) => [
      ...[0, 1].map((c) => 0.5 * (ds[0]![j]! * q.data[c]! + ds[1]![j]! * q.data[2 + c]!)),
      p[0]![j]! * dO.data[0]! + p[1]![j]! * dO.data[1]!,
    ]);
    close(dkv.data, wantKv);
  });
});
