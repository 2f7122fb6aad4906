import { describe, expect, it } from "vitest";
import { GraphBuilder, ShapeRuleError } from "../../compiler/ir/builder.ts";
import type { ParamInfo } from "../../compiler/ir/types.ts";

const span = { file: "m.ivm", offset: 3, endOffset: 9, line: 2, col: 4, endLine: 2, endCol: 10 };

function paramInfo(path: string, shape: (number | string)[], frozen = false): ParamInfo {
  return { path, shape, dtype: "f32", init: { kind: "zeros" }, kind: "param", frozen, decay: shape.length > 1 };
}

describe("GraphBuilder", () => {
  it("builds a typed graph with inputs, params and outputs", () => {
    const b = new GraphBuilder();
    const x = b.input("x", ["B", 8]);
    const w = b.param(paramInfo("fc.w", [8, 4]));
    const y = b.matmul(x, w, { spans: [span], name: "fc" });
    b.output("y", y);
    const g = b.build();
    expect(g.nodes.map((n) => n.op.kind)).toEqual(["input", "param", "matmul"]);
    expect(g.nodes[2]!.shape).toEqual(["B", 4]);
    expect(g.nodes[2]!.spans).toEqual([span]);
    expect(g.nodes[2]!.name).toBe("fc");
    expect(g.inputs).toEqual([{ name: "x", shape: ["B", 8], dtype: "f32" }]);
    expect(g.params.map((p) => p.path)).toEqual(["fc.w"]);
    expect(g.outputs).toEqual([{ name: "y", id: y }]);
  });
  it("deduplicates params by path", () => {
    const b = new GraphBuilder();
    const a = b.param(paramInfo("w", [2]));
    const c = b.param(paramInfo("w", [2]));
    expect(a).toBe(c);
    expect(b.build().params).toHaveLength(1);
    expect(b.build().nodes).toHaveLength(1);
    expect(() => b.param(paramInfo("w", [3]))).toThrow(/declared as f32\[2\] and again as f32\[3\]/);
  });
  it("throws ShapeRuleError carrying the message and the spans", () => {
    const b = new GraphBuilder();
    const x = b.input("x", [2, 3]);
    const y = b.input("y", [4, 3]);
    try {
      b.binary("add", x, y, { spans: [span] });
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(ShapeRuleError);
      expect((e as ShapeRuleError).message).toContain("[2, 3]");
      expect((e as ShapeRuleError).spans).toEqual([span]);
    }
  });
  it("normalises negative reduce axes and applies provenance to untagged nodes", () => {
    const b = new GraphBuilder();
    const x = b.input("x", [2, 3, 4]);
    b.provenance = { spans: [span], name: "ln" };
    const r = b.reduce("sum", x, [-1, 0], true);
    const n = b.node(r);
    expect(n.op).toMatchObject({ axes: [0, 2], keepdims: true });
    expect(n.shape).toEqual([1, 3, 1]);
    expect(n.spans).toEqual([span]);
    expect(n.name).toBe("ln");
  });
  it("continues an existing graph without changing it", () => {
    const b = new GraphBuilder();
    const x = b.input("x", [3]);
    b.output("x", x);
    const g = b.build();
    const b2 = GraphBuilder.from(g);
    const y = b2.unary("exp", x);
    b2.output("y", y);
    expect(b2.build().nodes).toHaveLength(2);
    expect(g.nodes).toHaveLength(1);
    expect(b2.input("x", [3])).toBe(x);
  });
});
