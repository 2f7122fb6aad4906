import { describe, expect, it } from "vitest";
import { GraphBuilder } from "../../compiler/ir/builder.ts";
import { verifyGraph } from "../../compiler/ir/verify.ts";
import type { Graph } from "../../compiler/ir/types.ts";

function small(): Graph {
  const b = new GraphBuilder();
  const x = b.input("x", ["B", 3]);
  b.output("y", b.unary("exp", x));
  return b.build();
}

describe("verifyGraph", () => {
  it("accepts what the builder builds", () => {
    expect(verifyGraph(small())).toEqual([]);
  });
  it("reports out-of-order uses, wrong recorded shapes, undeclared inputs and dangling outputs", () => {
    const g = small();
    const [input, exp] = g.nodes as [Graph["nodes"][0], Graph["nodes"][0]];
    expect(verifyGraph({ ...g, nodes: [exp, input] })).toEqual([expect.stringContaining("before definition")]);
    expect(verifyGraph({ ...g, nodes: [input, { ...exp, shape: ["B", 4] }] })).toEqual([expect.stringContaining("shape rule gives f32[B, 3]")]);
    expect(verifyGraph({ ...g, inputs: [] })).toEqual([expect.stringContaining("input 'x' is not declared")]);
    expect(verifyGraph({ ...g, outputs: [...g.outputs, { name: "z", id: 99 }] })).toEqual([expect.stringContaining("missing %99")]);
    expect(verifyGraph({ ...g, nodes: [input, input] })).toContainEqual(expect.stringContaining("defined twice"));
  });
});
