import { describe, expect, it } from "vitest";
import { differentiate } from "../../compiler/autodiff/index.ts";
import { GraphBuilder } from "../../compiler/ir/builder.ts";
import { parseGraph } from "../../compiler/ir/parse.ts";
import { printGraph } from "../../compiler/ir/printer.ts";
import { interpret } from "../../compiler/interp/index.ts";
import { simplify } from "../../compiler/simplify/index.ts";
import { paramInfo, randomData, rng } from "../autodiff/gradcheck.ts";
import { layerNorm, multiHeadAttention } from "../autodiff/nn.ts";

/** Runs simplify on IR text and returns IR text, so expectations read as before/after programs. */
function pass(text: string): string {
  return printGraph(simplify(parseGraph(text)));
}
const lines = (...ls: string[]) => ls.join("\n") + "\n";

describe("simplify", () => {
  it("merges common subexpressions and their spans", () => {
    const before = lines(
      "input x: f32[B, 4]",
      "%0: f32[B, 4] = input {name=x}",
      "%1: f32[B, 4] = exp %0   # a @ m.ivm:1:1",
      "%2: f32[B, 4] = exp %0   # b @ m.ivm:2:1",
      "%3: f32[B, 4] = add %1, %2",
      "output y = %3",
    );
    expect(pass(before)).toBe(lines(
      "input x: f32[B, 4]",
      "%0: f32[B, 4] = input {name=x}",
      "%1: f32[B, 4] = exp %0   # a @ m.ivm:1:1, m.ivm:2:1",
      "%2: f32[B, 4] = add %1, %1",
      "output y = %2",
    ));
  });

  it("removes dead code but keeps every output", () => {
    const before = lines(
      "input x: f32[3]",
      "%0: f32[3] = input {name=x}",
      "%1: f32[3] = tanh %0",
      "%2: f32[3] = sin %0",
      "%3: f32[3] = cos %2",
      "output y = %1",
      "output z = %0",
    );
    expect(pass(before)).toBe(lines("input x: f32[3]", "%0: f32[3] = input {name=x}", "%1: f32[3] = tanh %0", "output y = %1", "output z = %0"));
  });

  it("folds small constant expressions and keeps the spans of what it folded", () => {
    const before = lines(
      "%0: f32[2] = const {value=[1, 2]}   # @ m.ivm:1:1",
      "%1: f32[] = const {value=[3]}",
      "%2: f32[2] = mul %0, %1   # @ m.ivm:2:1",
      "%3: f32[2] = exp %2",
      "output y = %3",
    );
    const out = simplify(parseGraph(before));
    expect(out.nodes).toHaveLength(1);
    expect(out.nodes[0]!.op).toEqual({ kind: "const", value: [Math.fround(Math.exp(3)), Math.fround(Math.exp(6))] });
    expect(out.nodes[0]!.spans.map((s) => s.line).sort()).toEqual([1, 2]);
  });

  it("does not fold constants above the size limit", () => {
    const b = new GraphBuilder();
    b.output("y", b.unary("exp", b.constant(1, [10, 10])));
    expect(simplify(b.build()).nodes.map((n) => n.op.kind)).toEqual(["const", "unary"]);
  });

  it("folds reshape of reshape, permute of permute and identity views", () => {
    const before = lines(
      "input x: f32[2, 3, 4]",
      "%0: f32[2, 3, 4] = input {name=x}",
      "%1: f32[6, 4] = reshape %0 {shape=[6, 4]}   # @ m.ivm:1:1",
      "%2: f32[24] = reshape %1 {shape=[24]}   # @ m.ivm:2:1",
      "%3: f32[3, 4, 2] = permute %0 {perm=[1, 2, 0]}",
      "%4: f32[2, 3, 4] = permute %3 {perm=[2, 0, 1]}",
      "%5: f32[2, 3, 4] = broadcast %4 {shape=[2, 3, 4]}",
      "%6: f32[2, 3, 4] = reshape %5 {shape=[2, 3, 4]}",
      "%7: f32[4, 2, 3] = permute %6 {perm=[2, 0, 1]}",
      "%8: f32[4, 3, 2] = permute %7 {perm=[0, 2, 1]}",
      "output flat = %2",
      "output same = %6",
      "output twice = %8",
    );
    expect(pass(before)).toBe(lines(
      "input x: f32[2, 3, 4]",
      "%0: f32[2, 3, 4] = input {name=x}",
      "%1: f32[24] = reshape %0 {shape=[24]}   # @ m.ivm:2:1, m.ivm:1:1",
      "%2: f32[4, 3, 2] = permute %0 {perm=[2, 1, 0]}",
      "output flat = %1",
      "output same = %0",
      "output twice = %2",
    ));
  });

  it("drops x*1, x+0, x-0, x/1 and double negation; broadcasts when the result is wider", () => {
    const before = lines(
      "input x: f32[2, 3]",
      "input v: f32[3]",
      "%0: f32[2, 3] = input {name=x}",
      "%1: f32[3] = input {name=v}",
      "%2: f32[] = const {value=[1]}",
      "%3: f32[] = const {value=[0]}",
      "%4: f32[2, 3] = mul %0, %2",
      "%5: f32[2, 3] = add %3, %4",
      "%6: f32[2, 3] = sub %5, %3",
      "%7: f32[2, 3] = div %6, %2",
      "%8: f32[2, 3] = neg %7",
      "%9: f32[2, 3] = neg %8",
      "%10: f32[2, 3] = const {value=[1]}",
      "%11: f32[2, 3] = mul %1, %10",
      "output y = %9",
      "output w = %11",
    );
    expect(pass(before)).toBe(lines(
      "input x: f32[2, 3]",
      "input v: f32[3]",
      "%0: f32[2, 3] = input {name=x}",
      "%1: f32[3] = input {name=v}",
      "%2: f32[2, 3] = broadcast %1 {shape=[2, 3]}",
      "output y = %0",
      "output w = %2",
    ));
  });

  it("folds x*0 only where it is finite-safe", () => {
    const before = lines(
      "input x: f32[3]",
      "input k: i32[3]",
      "%0: f32[3] = input {name=x}",
      "%1: i32[3] = input {name=k}",
      "%2: f32[] = const {value=[0]}",
      "%3: i32[] = const {value=[0]}",
      "%4: f32[3] = mul %0, %2",
      "%5: i32[3] = mul %1, %3",
      "%6: f32[100] = const {value=[2]}",
      "%7: f32[100] = mul %6, %2",
      "output float = %4",
      "output int = %5",
      "output finite = %7",
    );
    const out = simplify(parseGraph(before));
    const kind = (name: string) => out.nodes[out.outputs.find((o) => o.name === name)!.id]!.op;
    expect(kind("float")).toEqual({ kind: "binary", op: "mul" });
    expect(kind("int")).toEqual({ kind: "const", value: [0] });
    expect(kind("finite")).toEqual({ kind: "const", value: [0] });
  });

  it("leaves the original graph untouched and is idempotent", () => {
    const b = new GraphBuilder();
    const x = b.input("x", [4]);
    b.output("y", b.unary("neg", b.unary("neg", x)));
    const g = b.build();
    const before = printGraph(g);
    const once = simplify(g);
    expect(printGraph(g)).toBe(before);
    expect(printGraph(simplify(once))).toBe(printGraph(once));
  });

  it("preserves results and spans on a differentiated attention block, and shrinks it", () => {
    const span = (line: number) => ({ file: "m.ivm", offset: line, endOffset: line + 1, line, col: 1, endLine: line, endCol: 2 });
    const b = new GraphBuilder();
    const shapes: Record<string, number[]> = { x: [2, 3, 8], wqkv: [8, 24], wo: [8, 8], g: [8], beta: [8] };
    const p = Object.fromEntries(Object.entries(shapes).map(([k, s]) => [k, b.param(paramInfo(k, s))]));
    b.provenance = { spans: [span(10)] };
    const h = layerNorm(b, p.x!, p.g!, p.beta!);
    b.provenance = { spans: [span(20)] };
    const y = multiHeadAttention(b, h, p.wqkv!, p.wo!, 2);
    b.output("loss", b.reduce("sum", b.binary("mul", y, y), [0, 1, 2]));
    const { graph } = differentiate(b.build(), { loss: "loss", wrt: () => true });
    const small = simplify(graph);
    expect(small.nodes.length).toBeLessThan(graph.nodes.length);
    const next = rng(5);
    const params = Object.fromEntries(Object.entries(shapes).map(([k, s]) => [k, randomData({ shape: s }, next)]));
    const ref = interpret(graph, { inputs: {}, params, precision: "f64" });
    const got = interpret(small, { inputs: {}, params, precision: "f64" });
    for (const o of graph.outputs) {
      const r = Array.from(ref[o.name]!.data);
      Array.from(got[o.name]!.data).forEach((v, i) => expect(v).toBeCloseTo(r[i]!, 10));
    }
    const lineSet = (gr: typeof graph) => new Set(gr.nodes.flatMap((n) => n.spans.map((s) => s.line)));
    expect(lineSet(small)).toEqual(lineSet(graph));
  });
});

describe("simplify on autodiff output", () => {
  it("turns views of splat constants into splats and reshaped keepdims reductions into plain ones", () => {
    const before = lines(
      "input x: f32[N, 3]",
      "%0: f32[N, 3] = input {name=x}",
      "%1: f32[1, 1] = const {value=[1]}   # @ m.ivm:1:1",
      "%2: f32[N, 3] = broadcast %1 {shape=[N, 3]}",
      "%3: f32[N, 3] = mul %2, %0",
      "%4: f32[1, 3] = reduce_sum %3 {axes=[0], keepdims=true}   # @ m.ivm:2:1",
      "%5: f32[3] = reshape %4 {shape=[3]}",
      "output y = %5",
    );
    expect(pass(before)).toBe(lines(
      "input x: f32[N, 3]",
      "%0: f32[N, 3] = input {name=x}   # @ m.ivm:1:1",
      "%1: f32[3] = reduce_sum %0 {axes=[0], keepdims=false}   # @ m.ivm:2:1",
      "output y = %1",
    ));
  });

  it("the backward of an MLP with a frozen first layer reads as the minimal program", () => {
    const b = new GraphBuilder();
    const x = b.input("x", ["N", 5]);
    const y = b.input("y", ["N", 3]);
    const w1 = b.param(paramInfo("fc1.w", [5, 7], true));
    const b1 = b.param(paramInfo("fc1.b", [7], true));
    const w2 = b.param(paramInfo("fc2.w", [7, 3]));
    const b2 = b.param(paramInfo("fc2.b", [3]));
    const h = b.unary("relu", b.binary("add", b.matmul(x, w1), b1), { name: "fc1" });
    const err = b.binary("sub", b.binary("add", b.matmul(h, w2), b2, { name: "fc2" }), y);
    b.output("loss", b.reduce("sum", b.binary("mul", err, err), [0, 1]));
    const { graph } = differentiate(b.build(), { loss: "loss", wrt: (p) => !p.frozen });
    const text = printGraph(simplify(graph));
    expect(text.slice(text.indexOf("%6:"))).toMatchInlineSnapshot(`
      "%6: f32[N, 7] = matmul %0, %2
      %7: f32[N, 7] = add %6, %3
      %8: f32[N, 7] = relu %7   # fc1
      %9: f32[N, 3] = matmul %8, %4
      %10: f32[N, 3] = add %9, %5   # fc2
      %11: f32[N, 3] = sub %10, %1
      %12: f32[N, 3] = mul %11, %11
      %13: f32[] = reduce_sum %12 {axes=[0, 1], keepdims=false}
      %14: f32[N, 3] = add %11, %11
      %15: f32[3] = reduce_sum %14 {axes=[0], keepdims=false}   # grad.fc2
      %16: f32[7, N] = permute %8 {perm=[1, 0]}
      %17: f32[7, 3] = matmul %16, %14
      output loss = %13
      output grad:fc2.w = %17
      output grad:fc2.b = %15
      "
    `);
  });
});
