import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { GraphBuilder, ShapeRuleError } from "../../compiler/ir/builder.ts";
import { parseGraph } from "../../compiler/ir/parse.ts";
import { printGraph } from "../../compiler/ir/printer.ts";
import type { Graph, ValueId } from "../../compiler/ir/types.ts";
import { interpret } from "../../compiler/interp/index.ts";
import { simplify } from "../../compiler/simplify/index.ts";
import { verifyGraph } from "../../compiler/ir/verify.ts";
import { randomData, rng } from "../autodiff/gradcheck.ts";

/** A random well-typed graph: random ops over earlier values, skipping any the shape rules refuse. */
function randomGraph(seed: number): { graph: Graph; feeds: Record<string, Float64Array> } {
  const next = rng(seed);
  const int = (n: number) => Math.floor(next() * n);
  const pick = <T>(xs: readonly T[]): T => xs[int(xs.length)]!;
  const b = new GraphBuilder();
  const values: ValueId[] = [];
  const feeds: Record<string, Float64Array> = {};
  for (let i = 0; i < 3; i++) {
    const shape = Array.from({ length: 1 + int(3) }, () => 1 + int(3));
    values.push(b.input(`in${i}`, shape));
    feeds[`in${i}`] = randomData({ shape }, next);
  }
  const steps: ((x: ValueId, y: ValueId) => ValueId)[] = [
    (x) => b.unary(pick(["tanh", "neg", "sin", "sigmoid", "abs"] as const), x),
    (x, y) => b.binary(pick(["add", "mul", "max", "sub"] as const), x, y),
    (x) => b.reduce(pick(["sum", "max"] as const), x, [int(b.shapeOf(x).length)], next() < 0.5),
    (x) => b.permute(x, [...b.shapeOf(x).keys()].reverse()),
    (x) => b.reshape(x, [(b.shapeOf(x) as number[]).reduce((a, d) => a * d, 1)]),
    (x) => b.slice(x, b.shapeOf(x).map(() => 0), b.shapeOf(x).map((d) => Math.max(1, (d as number) - 1)), b.shapeOf(x).map(() => 1 + int(2))),
    (x) => b.pad(x, b.shapeOf(x).map(() => int(2)), b.shapeOf(x).map(() => int(2)), 0.5),
    (x, y) => b.concat([x, y], 0),
    (x) => b.broadcast(x, [2, ...b.shapeOf(x)]),
    (x, y) => b.where(b.compare("gt", x, y), x, y),
    (x, y) => b.matmul(x, b.permute(y, [...b.shapeOf(y).keys()].map((i, _, a) => (i >= a.length - 2 ? a.length * 2 - 3 - i : i)))),
    (x) => b.binary("mul", x, b.constant(pick([0, 1, 2]))),
  ];
  for (let s = 0; s < 14; s++) {
    try {
      values.push(pick(steps)(pick(values), pick(values)));
    } catch (e) {
      if (!(e instanceof ShapeRuleError)) throw e;
    }
  }
  values.slice(3).forEach((v, i) => b.output(`v${i}`, v));
  return { graph: b.build(), feeds };
}

function sameValues(a: ArrayLike<number>, b: ArrayLike<number>): void {
  expect(a.length).toBe(b.length);
  for (let i = 0; i < a.length; i++) expect(a[i]!).toBeCloseTo(b[i]!, 12);
}

describe("properties of random graphs", () => {
  it("the interpreter produces exactly the shapes the shape rules predict", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 1e9 }), (seed) => {
        const { graph, feeds } = randomGraph(seed);
        const out = interpret(graph, { inputs: feeds, params: {}, precision: "f64" });
        for (const o of graph.outputs) expect(out[o.name]!.shape).toEqual(graph.nodes.find((n) => n.id === o.id)!.shape);
      }),
      { numRuns: 60 },
    );
  });
  it("printing then parsing gives the same graph back", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 1e9 }), (seed) => {
        const { graph } = randomGraph(seed);
        expect(parseGraph(printGraph(graph))).toEqual(graph);
      }),
      { numRuns: 60 },
    );
  });
  it("simplify never changes what the outputs compute", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 1e9 }), (seed) => {
        const { graph, feeds } = randomGraph(seed);
        const small = simplify(graph);
        expect(verifyGraph(graph)).toEqual([]);
        expect(verifyGraph(small)).toEqual([]);
        expect(small.nodes.length).toBeLessThanOrEqual(graph.nodes.length);
        const want = interpret(graph, { inputs: feeds, params: {}, precision: "f64" });
        const got = interpret(small, { inputs: feeds, params: {}, precision: "f64" });
        for (const o of graph.outputs) sameValues(got[o.name]!.data, want[o.name]!.data);
      }),
      { numRuns: 60 },
    );
  });
});
