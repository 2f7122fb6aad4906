import { describe, expect, it } from "vitest";
import { GraphBuilder } from "../../compiler/ir/builder.ts";
import { IrParseError, parseGraph } from "../../compiler/ir/parse.ts";
import { printGraph } from "../../compiler/ir/printer.ts";
import type { Graph } from "../../compiler/ir/types.ts";

const at = (line: number, col: number) => ({ file: "models/x.ivm", offset: 0, endOffset: 0, line, col, endLine: line, endCol: col });

/** Exercises every op kind so the round trip covers every attribute form. */
function everyOpGraph(): Graph {
  const b = new GraphBuilder();
  const x = b.input("video", ["B", 3, 4, 4, 4]);
  const ids = b.input("ids", ["B", 2], "i32");
  const w = b.param({
    path: "blocks.0.w", shape: [6, 3, 1, 2, 2], dtype: "f32", init: { kind: "trunc_normal", std: 0.02, mean: 0, a: -2, b: 2 },
    kind: "param", frozen: false, decay: true, span: at(3, 5),
  });
  const table = b.param({ path: "emb", shape: [10, 8], dtype: "f32", init: { kind: "zeros" }, kind: "buffer", frozen: true, decay: false });
  const c = b.conv3d(x, w, { stride: [1, 2, 2], padding: [0, 1, 1], dilation: [1, 1, 1], groups: 1 }, { spans: [at(14, 9), at(15, 2)], name: "blocks.0.attn.qkv" });
  const r = b.reshape(c, ["B", 6, 36]);
  const p = b.permute(r, [0, 2, 1]);
  const s = b.slice(p, [0, 1, 0], ["B", 36, 6], [1, 2, 1]);
  const pad = b.pad(s, [0, 0, 1], [0, 0, 1], -Infinity);
  const red = b.reduce("max", pad, [2], true);
  const e = b.unary("exp", b.binary("sub", pad, red));
  const sm = b.binary("div", e, b.reduce("sum", e, [-1], true));
  const k = b.constant([0.5, 1e-7, -3, 2], [4]);
  const cat = b.concat([b.slice(sm, [0, 0, 0], ["B", 18, 4]), b.broadcast(k, ["B", 18, 4])], 2);
  const mm = b.matmul(cat, b.constant(1, [8, 8]));
  const g = b.gather(table, ids, 0, { name: "tok emb" });
  const sc = b.scatterAdd(g, ids, 0, [10, 8]);
  const io = b.iota([10, 8], 1, "i32");
  const cond = b.compare("lt", b.cast(io, "f32"), b.random("uniform", [10, 8], { stream: 7 }));
  const wh = b.where(cond, sc, b.random("bernoulli", [10, 8], { p: 0.25, stream: 8 }));
  const heads = b.reshape(mm, ["B", 2, 9, 8]);
  const att = b.attention(heads, heads, b.slice(heads, [0, 0, 0, 0], ["B", 2, 9, 3]), { scale: 0.125, causal: true });
  const attrs = { scale: 0.125, causal: true };
  const stats = b.attentionBackward("attention_stats", [heads, heads, att, att], attrs);
  const dq = b.attentionBackward("attention_grad_q", [heads, heads, att, att, stats], attrs);
  const dkv = b.attentionBackward("attention_grad_kv", [dq, heads, att, att, stats], { scale: 1, causal: false });
  b.output("logits", mm);
  b.output("attention", dkv);
  b.output("heads_last", b.attention(heads, heads, heads, { scale: 0.5, causal: false, heads_last: true }));
  b.output("grad:emb", wh);
  return b.build();
}

describe("IR printer and parser", () => {
  it("prints declarations first, one line per node, names and spans in comments", () => {
    const b = new GraphBuilder();
    const x = b.input("x", ["B", 8, 16]);
    const w = b.param({ path: "blocks.0.attn.qkv.w", shape: [16, 64], dtype: "f32", init: { kind: "normal", std: 0.02, mean: 0 }, kind: "param", frozen: false, decay: true });
    const y = b.matmul(x, w, { spans: [at(14, 9)], name: "blocks.0.attn.qkv" });
    const z = b.reduce("sum", b.unary("tanh", y), [1, 2], false);
    b.output("loss", z);
    expect(printGraph(b.build())).toMatchInlineSnapshot(`
      "param blocks.0.attn.qkv.w: f32[16, 64] init=normal(std=0.02, mean=0) param trainable decay
      input x: f32[B, 8, 16]
      %0: f32[B, 8, 16] = input {name=x}   # x
      %1: f32[16, 64] = param {path=blocks.0.attn.qkv.w}   # blocks.0.attn.qkv.w
      %2: f32[B, 8, 64] = matmul %0, %1   # blocks.0.attn.qkv @ models/x.ivm:14:9
      %3: f32[B, 8, 64] = tanh %2
      %4: f32[B] = reduce_sum %3 {axes=[1, 2], keepdims=false}
      output loss = %4
      "
    `);
  });

  it("round-trips every op kind: parse(print(g)) equals g and prints identically", () => {
    const g = everyOpGraph();
    const text = printGraph(g);
    const back = parseGraph(text);
    expect(printGraph(back)).toBe(text);
    expect(back).toEqual(g);
  });

  it("round-trips symbolic dims, special floats and quoted names", () => {
    const b = new GraphBuilder();
    const x = b.input("x", ["T*B", 2]);
    const y = b.reshape(x, ["B", "T", 2], { name: "has space" });
    const z = b.binary("max", y, b.constant([Infinity, NaN], [2]));
    b.output("out", z);
    const g = b.build();
    const text = printGraph(g);
    expect(text).toContain('"has space"');
    expect(text).toContain("value=[inf, nan]");
    expect(parseGraph(text)).toEqual(g);
  });

  it("rejects text whose declared shape disagrees with the shape rule", () => {
    const text = "input x: f32[2, 3]\n%0: f32[2, 3] = input {name=x}\n%1: f32[3, 3] = exp %0\n";
    expect(() => parseGraph(text)).toThrow(IrParseError);
    expect(() => parseGraph(text)).toThrow(/line 3/);
    expect(() => parseGraph("%0: f32[2] = exp %5\n")).toThrow(/before it is defined/);
    expect(() => parseGraph("%0: f32[2] = frobnicate\n")).toThrow(/unknown op/);
  });
});
