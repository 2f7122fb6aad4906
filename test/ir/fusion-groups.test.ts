/**
 * The kernel grouping on its own (no GPU): index maps, the legality rules of a merge, and the plan
 * they produce on small graphs. test/backend/fusion.test.ts runs the same kinds of groups on Dawn.
 */
import { describe, expect, it } from "vitest";
import { GraphBuilder } from "../../compiler/ir/builder.ts";
import type { ParamInfo, ValueId } from "../../compiler/ir/types.ts";
import { identityMap, inputMaps, linear, reshapeMap } from "../../compiler/schedule/access.ts";
import { invertible } from "../../compiler/schedule/group-analysis.ts";
import { planFusion } from "../../compiler/schedule/plan.ts";

function param(b: GraphBuilder, path: string, shape: number[]): ValueId {
  const info: ParamInfo = { path, shape, dtype: "f32", init: { kind: "zeros" }, kind: "param", frozen: false, decay: true };
  return b.param(info);
}

const summary = (b: GraphBuilder, opts = {}) => planFusion(b.build(), opts).kernels.map((k) => `${k.kind}:${k.outputs.length}`);

describe("index maps", () => {
  it("a reshape that merges axes is affine; one that splits an axis is not", () => {
    const merged = reshapeMap(identityMap([2, 3, 4]), [2, 3, 4], [6, 4], [2, 3, 4])!;
    expect(linear(merged, [6, 4], [2, 3, 4])).toEqual({ c: 0, k: [12, 4, 1] });
    expect(reshapeMap(identityMap([6, 4]), [6, 4], [2, 3, 4], [6, 4])).toBeUndefined();
    // Splitting is exact where the iteration axes are already finer (a head split of [n, h*d]).
    expect(reshapeMap(identityMap([5, 2, 3]), [5, 2, 3], [5, 6], [5, 2, 3])).toBeDefined();
  });

  it("permute, slice and broadcasting rewrite the index; a pad makes it unknown", () => {
    const b = new GraphBuilder();
    const x = param(b, "x", [4, 6]);
    const t = b.permute(x, [1, 0]);
    const s = b.slice(x, [1, 2], [3, 6], [1, 2]);
    const p = b.pad(x, [1, 0], [0, 0], 0);
    const byId = new Map(b.build().nodes.map((n) => [n.id, n]));
    const at = (id: ValueId) => {
      const shape = byId.get(id)!.shape as number[];
      return linear(inputMaps(byId.get(id)!, identityMap(shape), byId, shape)[0]!, [4, 6], shape);
    };
    expect(at(t)).toEqual({ c: 0, k: [1, 6] });
    expect(at(s)).toEqual({ c: 8, k: [6, 2] });
    const pShape = byId.get(p)!.shape as number[];
    expect(inputMaps(byId.get(p)!, identityMap(pShape), byId, pShape)).toEqual([undefined]);
  });

  it("an epilogue store must hit each result element at most once", () => {
    expect(invertible({ c: 0, k: [1, 6] }, [6, 4])).toBe(true); // a transpose
    expect(invertible({ c: 256, k: [768, 64, 1] }, [392, 4, 64])).toBe(true); // one head of a qkv split
    expect(invertible({ c: 0, k: [1, 0] }, [6, 4])).toBe(false); // a broadcast
    expect(invertible({ c: 0, k: [4, 2] }, [3, 3])).toBe(false); // overlapping strides
  });
});

describe("kernel grouping", () => {
  it("a matmul's bias and activation run in its epilogue and its result is not stored", () => {
    const b = new GraphBuilder();
    const h = b.binary("add", b.matmul(param(b, "x", [5, 7]), param(b, "w", [7, 3])), param(b, "bias", [3]));
    const y = b.unary("tanh", h);
    b.output("y", y);
    const plan = planFusion(b.build());
    expect(plan.kernels).toEqual([expect.objectContaining({ kind: "matmul", outputs: [y] })]);
  });

  it("a LayerNorm is one row kernel of three passes; its statistics stay in registers", () => {
    const b = new GraphBuilder();
    const x = param(b, "x", [4, 8]);
    const mean = (v: ValueId) => b.binary("mul", b.reduce("sum", v, [1], true), b.constant(1 / 8, []));
    const c = b.binary("sub", x, mean(x));
    b.output("y", b.binary("mul", c, b.unary("rsqrt", b.binary("add", mean(b.binary("mul", c, c)), b.constant(1e-5, [])))));
    const [k] = planFusion(b.build()).kernels;
    if (k?.kind !== "reduce") throw new Error("expected a row kernel");
    expect(k.reduces.map((r) => r.pass)).toEqual([0, 1]);
    expect(k.stores.map((s) => s.pass)).toEqual([2]);
    expect(k.outputs).toHaveLength(1);
  });

  it("siblings with a kernel between them on a path stay apart", () => {
    const b = new GraphBuilder();
    const x = param(b, "x", [4, 6]);
    const first = b.unary("exp", x);
    // A matmul reads `first`; `second` (same shape as `first`) reads the matmul's [4, 1] result
    // broadcast along the rows, which is no epilogue (each result element feeds six of its elements).
    const m = b.matmul(first, param(b, "w", [6, 1]));
    const second = b.unary("sin", b.binary("add", x, m));
    b.output("first", first);
    b.output("second", second);
    expect(summary(b)).toEqual(["pointwise:1", "matmul:1", "pointwise:1"]);
  });

  it("a merge stays within the storage-buffer limit", () => {
    const b = new GraphBuilder();
    const xs = [0, 1, 2, 3].map((i) => param(b, `x${i}`, [3, 5]));
    xs.forEach((x, i) => b.output(`y${i}`, b.unary("exp", x)));
    expect(summary(b)).toEqual(["pointwise:4"]);
    expect(summary(b, { maxStorageBuffers: 4 })).toEqual(["pointwise:2", "pointwise:2"]);
  });
});
