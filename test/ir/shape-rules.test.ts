import { describe, expect, it } from "vitest";
import { broadcastShapes, dimAdd, inferShape, isShapeError, type ShapeResult } from "../../compiler/ir/shape-rules.ts";
import type { Shape } from "../../compiler/ir/dims.ts";
import type { DType, Op } from "../../compiler/ir/types.ts";

function ok(r: ShapeResult): { shape: Shape; dtype: DType } {
  if (isShapeError(r)) throw new Error(`unexpected shape error: ${r.message}`);
  return r;
}
function err(r: ShapeResult): string {
  if (!isShapeError(r)) throw new Error(`expected a shape error, got ${JSON.stringify(r)}`);
  return r.message;
}
const f32 = (n: number): DType[] => Array(n).fill("f32");

describe("broadcasting", () => {
  it("right-aligns and stretches literal 1s", () => {
    expect(broadcastShapes([[4, 1, 3], [5, 1]])).toEqual([4, 5, 3]);
    expect(broadcastShapes([["B", 1, 8], [1, 16, 8]])).toEqual(["B", 16, 8]);
    expect(broadcastShapes([[], [2, 3]])).toEqual([2, 3]);
  });
  it("treats symbolic dims as equal only when canonically equal", () => {
    expect(broadcastShapes([["T*B", 4], ["B*T", 4]])).toEqual(["B*T", 4]);
    expect(broadcastShapes([["B", 4], [1, 4]])).toEqual(["B", 4]);
  });
  it("refuses symbolic against concrete and names both shapes and the axis", () => {
    const m = err(inferShape({ kind: "binary", op: "add" }, [["B", 4], [8, 4]], f32(2)));
    expect(m).toContain("[B, 4]");
    expect(m).toContain("[8, 4]");
    expect(m).toContain("axis 0");
    expect(err(inferShape({ kind: "binary", op: "mul" }, [["B"], ["T"]], f32(2)))).toContain("axis 0");
    expect(err(inferShape({ kind: "binary", op: "mul" }, [[2, 3], [4, 3]], f32(2)))).toMatch(/\[2, 3\].*\[4, 3\]/);
  });
  it("adds like monomials only", () => {
    expect(dimAdd("B", "B")).toBe("2*B");
    expect(dimAdd(3, 4)).toBe(7);
    expect(dimAdd("B", 0)).toBe("B");
    expect(dimAdd("B", "T")).toBeUndefined();
    expect(dimAdd("B", 1)).toBeUndefined();
  });
});

describe("elementwise rules", () => {
  it("unary keeps shape; float-only ops reject i32; bool rejected", () => {
    expect(ok(inferShape({ kind: "unary", op: "exp" }, [["B", 3]], ["f32"]))).toEqual({ shape: ["B", 3], dtype: "f32" });
    expect(ok(inferShape({ kind: "unary", op: "neg" }, [[3]], ["i32"])).dtype).toBe("i32");
    expect(err(inferShape({ kind: "unary", op: "exp" }, [[3]], ["i32"]))).toContain("f32");
    expect(err(inferShape({ kind: "unary", op: "abs" }, [[3]], ["bool"]))).toContain("bool");
  });
  it("binary and compare broadcast; compare yields bool; dtype mismatch is an error", () => {
    expect(ok(inferShape({ kind: "binary", op: "add" }, [[2, 1], [3]], f32(2)))).toEqual({ shape: [2, 3], dtype: "f32" });
    expect(ok(inferShape({ kind: "compare", op: "lt" }, [[2, 1], [3]], ["i32", "i32"]))).toEqual({ shape: [2, 3], dtype: "bool" });
    expect(err(inferShape({ kind: "binary", op: "add" }, [[2], [2]], ["f32", "i32"]))).toContain("cast");
    expect(err(inferShape({ kind: "binary", op: "pow" }, [[2], [2]], ["i32", "i32"]))).toContain("pow");
  });
  it("where broadcasts all three and needs a bool condition", () => {
    expect(ok(inferShape({ kind: "where" }, [[4, 1], [1, 5], []], ["bool", "f32", "f32"]))).toEqual({ shape: [4, 5], dtype: "f32" });
    expect(err(inferShape({ kind: "where" }, [[4], [4], [4]], f32(3)))).toContain("bool");
    expect(err(inferShape({ kind: "where" }, [[4], [3], [4]], ["bool", "f32", "f32"]))).toContain("broadcast");
  });
  it("cast changes only the dtype", () => {
    expect(ok(inferShape({ kind: "cast", to: "i32" }, [["B", 2]], ["f32"]))).toEqual({ shape: ["B", 2], dtype: "i32" });
  });
});

describe("reductions and matmul", () => {
  it("reduce drops or keeps axes and checks them", () => {
    const r = (axes: number[], keepdims: boolean): Op => ({ kind: "reduce", op: "sum", axes, keepdims });
    expect(ok(inferShape(r([1], false), [["B", 4, 5]], ["f32"])).shape).toEqual(["B", 5]);
    expect(ok(inferShape(r([0, 2], true), [["B", 4, 5]], ["f32"])).shape).toEqual([1, 4, 1]);
    expect(err(inferShape(r([3], false), [[1, 2, 3]], ["f32"]))).toContain("out of range");
    expect(err(inferShape(r([1, 1], false), [[1, 2, 3]], ["f32"]))).toContain("twice");
  });
  it("matmul contracts K and broadcasts batch dims", () => {
    expect(ok(inferShape({ kind: "matmul" }, [["B", 8, 16], [16, 4]], f32(2))).shape).toEqual(["B", 8, 4]);
    expect(ok(inferShape({ kind: "matmul" }, [[2, 1, 3, 5], [7, 5, 6]], f32(2))).shape).toEqual([2, 7, 3, 6]);
    expect(err(inferShape({ kind: "matmul" }, [[3, 5], [4, 6]], f32(2)))).toMatch(/\[3, 5\].*\[4, 6\].*5 vs 4/);
    expect(err(inferShape({ kind: "matmul" }, [[2, 3, 5], [3, 5, 6]], f32(2)))).toContain("batch");
    expect(err(inferShape({ kind: "matmul" }, [[5], [5, 6]], f32(2)))).toContain("rank");
  });
});

describe("conv3d", () => {
  const conv = (stride: number[], padding: number[], dilation: number[], groups: number): Op => ({
    kind: "conv3d",
    stride: stride as [number, number, number],
    padding: padding as [number, number, number],
    dilation: dilation as [number, number, number],
    groups,
  });
  it("computes output sizes with stride, padding and dilation", () => {
    const r = ok(inferShape(conv([1, 2, 2], [1, 1, 0], [1, 1, 2], 1), [["B", 3, 8, 9, 10], [6, 3, 3, 3, 3]], f32(2)));
    // T: (8+2-3)/1+1 = 8; H: floor((9+2-3)/2)+1 = 5; W: floor((10-5)/2)+1 = 3
    expect(r.shape).toEqual(["B", 6, 8, 5, 3]);
  });
  it("supports grouped and depthwise weights", () => {
    expect(ok(inferShape(conv([1, 1, 1], [1, 0, 0], [1, 1, 1], 8), [[2, 8, 4, 4, 4], [8, 1, 3, 1, 1]], f32(2))).shape).toEqual([2, 8, 4, 4, 4]);
    expect(err(inferShape(conv([1, 1, 1], [0, 0, 0], [1, 1, 1], 2), [[2, 8, 4, 4, 4], [8, 8, 1, 1, 1]], f32(2)))).toContain("channels");
    expect(err(inferShape(conv([1, 1, 1], [0, 0, 0], [1, 1, 1], 2), [[2, 8, 4, 4, 4], [5, 4, 1, 1, 1]], f32(2)))).toContain("divisible");
  });
  it("keeps a symbolic spatial axis only when the kernel preserves it", () => {
    expect(ok(inferShape(conv([1, 1, 1], [1, 0, 0], [1, 1, 1], 1), [[1, 2, "T", 4, 4], [2, 2, 3, 1, 1]], f32(2))).shape).toEqual([1, 2, "T", 4, 4]);
    expect(err(inferShape(conv([2, 1, 1], [1, 0, 0], [1, 1, 1], 1), [[1, 2, "T", 4, 4], [2, 2, 3, 1, 1]], f32(2)))).toContain("symbolic");
    expect(err(inferShape(conv([1, 1, 1], [0, 0, 0], [1, 1, 1], 1), [[1, 2, 2, 4, 4], [2, 2, 3, 1, 1]], f32(2)))).toContain("too small");
  });
});

describe("views", () => {
  it("reshape preserves element count, symbolic included", () => {
    expect(ok(inferShape({ kind: "reshape", shape: ["B*T", 16] }, [["B", "T", 4, 4]], ["f32"])).shape).toEqual(["B*T", 16]);
    expect(err(inferShape({ kind: "reshape", shape: ["B", 15] }, [["B", 4, 4]], ["f32"]))).toContain("elements");
  });
  it("permute must be a permutation", () => {
    expect(ok(inferShape({ kind: "permute", perm: [2, 0, 1] }, [["B", 3, 4]], ["f32"])).shape).toEqual([4, "B", 3]);
    expect(err(inferShape({ kind: "permute", perm: [0, 0, 1] }, [[2, 3, 4]], ["f32"]))).toContain("permutation");
  });
  it("slice with steps, and full symbolic axes", () => {
    const s: Op = { kind: "slice", starts: [0, 1, 0], ends: ["B", 7, 5], steps: [1, 2, 1] };
    expect(ok(inferShape(s, [["B", 8, 5]], ["f32"])).shape).toEqual(["B", 3, 5]);
    expect(err(inferShape({ kind: "slice", starts: [0], ends: [9], steps: [1] }, [[8]], ["f32"]))).toContain("out of range");
    expect(err(inferShape({ kind: "slice", starts: [1], ends: ["B"], steps: [1] }, [["B"]], ["f32"]))).toContain("whole axis");
  });
  it("concat sums the axis, like symbolic monomials included", () => {
    expect(ok(inferShape({ kind: "concat", axis: 1 }, [["B", 2], ["B", 3]], f32(2))).shape).toEqual(["B", 5]);
    expect(ok(inferShape({ kind: "concat", axis: 0 }, [["B", 2], ["B", 2]], f32(2))).shape).toEqual(["2*B", 2]);
    expect(err(inferShape({ kind: "concat", axis: 1 }, [["B", 2], [4, 3]], f32(2)))).toContain("axis 0");
  });
  it("pad grows concrete axes and refuses padding symbolic ones", () => {
    expect(ok(inferShape({ kind: "pad", before: [0, 1], after: [0, 2], value: 0 }, [["B", 3]], ["f32"])).shape).toEqual(["B", 6]);
    expect(err(inferShape({ kind: "pad", before: [1, 0], after: [0, 0], value: 0 }, [["B", 3]], ["f32"]))).toContain("symbolic");
  });
  it("broadcast expands 1s and prepends axes", () => {
    expect(ok(inferShape({ kind: "broadcast", shape: [2, "B", 4] }, [[1, 4]], ["f32"])).shape).toEqual([2, "B", 4]);
    expect(err(inferShape({ kind: "broadcast", shape: [2, 4] }, [[3, 4]], ["f32"]))).toContain("axis 0");
  });
  it("gather splices the index shape in; scatter_add checks its source", () => {
    expect(ok(inferShape({ kind: "gather", axis: 0 }, [[100, 16], ["B", 7]], ["f32", "i32"])).shape).toEqual(["B", 7, 16]);
    expect(err(inferShape({ kind: "gather", axis: 0 }, [[100, 16], [7]], ["f32", "f32"]))).toContain("i32");
    expect(ok(inferShape({ kind: "scatter_add", axis: 1, shape: [3, 10] }, [[3, 4, 2], [4, 2]], ["f32", "i32"])).shape).toEqual([3, 10]);
    expect(err(inferShape({ kind: "scatter_add", axis: 1, shape: [3, 10] }, [[3, 4], [5]], ["f32", "i32"]))).toContain("does not match");
  });
});

describe("attention", () => {
  const attrs = { scale: 0.5, causal: false };
  it("maps q [..., M, D], k [..., N, D], v [..., N, Dv] to [..., M, Dv]; the companions to stats, dq and [dk | dv]", () => {
    const [q, k, v, o] = [["B", 4, 7, 8], ["B", 4, 5, 8], ["B", 4, 5, 3], ["B", 4, 7, 3]] as Shape[];
    expect(ok(inferShape({ kind: "attention", ...attrs }, [q, k, v], f32(3)))).toEqual({ shape: ["B", 4, 7, 3], dtype: "f32" });
    expect(ok(inferShape({ kind: "attention_stats", ...attrs }, [q, k, o, o], f32(4))).shape).toEqual(["B", 4, 7, 2]);
    const stats: Shape = ["B", 4, 7, 2];
    expect(ok(inferShape({ kind: "attention_grad_q", ...attrs }, [q, k, v, o, stats], f32(5))).shape).toEqual(["B", 4, 7, 8]);
    expect(ok(inferShape({ kind: "attention_grad_kv", ...attrs }, [q, k, v, o, stats], f32(5))).shape).toEqual(["B", 4, 5, 11]);
    expect(ok(inferShape({ kind: "attention", ...attrs }, [[7, 8], [5, 8], [5, 8]], f32(3))).shape).toEqual([7, 8]);
  });
  it("heads_last lays the result out [..., M, H, Dv] and needs a heads axis", () => {
    const [q, k, v] = [["B", 4, 7, 8], ["B", 4, 5, 8], ["B", 4, 5, 3]] as Shape[];
    expect(ok(inferShape({ kind: "attention", ...attrs, heads_last: true }, [q, k, v], f32(3))).shape).toEqual(["B", 7, 4, 3]);
    expect(err(inferShape({ kind: "attention", ...attrs, heads_last: true }, [[7, 8], [5, 8], [5, 8]], f32(3)))).toMatch(/heads_last needs a heads axis/);
  });
  it("names the operand and the axis that disagree", () => {
    const op: Op = { kind: "attention", ...attrs };
    expect(err(inferShape(op, [[2, 7, 8], [2, 5, 6], [2, 5, 8]], f32(3)))).toMatch(/q \[2, 7, 8\] and k \[2, 5, 6\] differ in width/);
    expect(err(inferShape(op, [[2, 7, 8], [2, 5, 8], [2, 6, 8]], f32(3)))).toMatch(/differ in rows/);
    expect(err(inferShape(op, [[2, 7, 8], [3, 5, 8], [3, 5, 8]], f32(3)))).toMatch(/k \[3, 5, 8\] and q \[2, 7, 8\] differ on leading axis 0/);
    expect(err(inferShape(op, [[7, 8], [2, 5, 8], [2, 5, 8]], f32(3)))).toMatch(/one rank >= 2/);
    expect(err(inferShape(op, [[7, 8], [5, 8]], f32(2)))).toMatch(/takes 3 inputs/);
    expect(err(inferShape(op, [[7, 8], [5, 8], [5, 8]], ["f32", "i32", "f32"]))).toMatch(/needs f32/);
    expect(err(inferShape({ ...op, scale: NaN }, [[7, 8], [5, 8], [5, 8]], f32(3)))).toMatch(/finite scale/);
    const stats = { kind: "attention_stats", ...attrs } as const;
    expect(err(inferShape(stats, [[7, 8], [5, 8], [7, 3], [7, 4]], f32(4)))).toMatch(/o \[7, 3\] must be \[\.\.\., 7, 4\]/);
    const gq = { kind: "attention_grad_q", ...attrs } as const;
    expect(err(inferShape(gq, [[7, 8], [5, 8], [5, 3], [7, 3], [7, 3]], f32(5)))).toMatch(/stats \[7, 3\] must be \[\.\.\., 7, 2\]/);
  });
});

describe("source ops", () => {
  it("take their declared shape and validate it", () => {
    expect(ok(inferShape({ kind: "const", value: [1, 2, 3, 4] }, [], [], { shape: [2, 2], dtype: "f32" })).shape).toEqual([2, 2]);
    expect(ok(inferShape({ kind: "const", value: [0] }, [], [], { shape: ["B", 2], dtype: "f32" })).shape).toEqual(["B", 2]);
    expect(err(inferShape({ kind: "const", value: [1, 2, 3] }, [], [], { shape: [2, 2], dtype: "f32" }))).toContain("3 values");
    expect(err(inferShape({ kind: "random", dist: "bernoulli", p: 1.5, stream: 0 }, [], [], { shape: [2], dtype: "f32" }))).toContain("p=1.5");
    expect(err(inferShape({ kind: "iota", axis: 2 }, [], [], { shape: [2, 2], dtype: "i32" }))).toContain("out of range");
    expect(err(inferShape({ kind: "input", name: "x" }, [], []))).toContain("declared");
  });
});
