import { describe, expect, it } from "vitest";
import { interpret } from "../../compiler/interp/index.ts";
import { GraphBuilder } from "../../compiler/ir/builder.ts";
import { bindDims } from "../../compiler/schedule/bind.ts";

describe("bindDims", () => {
  it("makes every shape concrete and folds a mean's element count over the bound batch", () => {
    const b = new GraphBuilder();
    const x = b.input("x", ["B", 3]);
    const count = b.reduce("sum", b.broadcast(b.constant(1, []), ["B", 3]), [0, 1]);
    const peak = b.reduce("max", b.broadcast(b.constant(-2, []), ["B", 3]), [0]);
    b.output("mean", b.binary("div", b.reduce("sum", x, [0, 1]), count));
    b.output("peak", peak);
    const graph = b.build();
    const bound = bindDims(graph, { B: 5 });
    expect(bound.nodes.every((n) => n.shape.every((d) => typeof d === "number"))).toBe(true);
    const byId = new Map(bound.nodes.map((n) => [n.id, n]));
    expect(byId.get(count)!.op).toEqual({ kind: "const", value: [15] });
    expect(byId.get(peak)!.op).toEqual({ kind: "const", value: [-2] });
    // The folded graph computes what the symbolic one does.
    const inputs = { x: Float32Array.from({ length: 15 }, (_, i) => i) };
    const want = interpret(graph, { inputs, params: {}, dims: { B: 5 } });
    const got = interpret(bound, { inputs, params: {}, dims: {} });
    expect(got.mean!.data).toEqual(want.mean!.data);
    expect(Array.from(got.peak!.data)).toEqual([-2, -2, -2]);
  });

  it("keeps a sum that float32 accumulation would not give exactly", () => {
    const b = new GraphBuilder();
    const s = b.reduce("sum", b.broadcast(b.constant(0.1, []), ["B", 7]), [0, 1]);
    b.output("s", s);
    expect(bindDims(b.build(), { B: 3 }).nodes.find((n) => n.id === s)!.op.kind).toBe("reduce");
  });
});
