import { describe, expect, it } from "vitest";
import { GraphBuilder } from "../../compiler/ir/builder.ts";
import { interpret } from "../../compiler/interp/index.ts";

function graph() {
  const b = new GraphBuilder();
  const x = b.input("x", ["B", 2]);
  const w = b.param({ path: "w", shape: [2], dtype: "f32", init: { kind: "ones" }, kind: "param", frozen: false, decay: false });
  const y = b.binary("mul", x, w);
  b.output("y", y);
  b.output("s", b.reduce("sum", y, [0, 1]));
  return b.build();
}

describe("interpret", () => {
  it("accepts a Map or a Record, binds symbolic dims, and returns typed arrays per precision", () => {
    const g = graph();
    const viaMap = interpret(g, { inputs: new Map([["x", Float32Array.from([1, 2, 3, 4])]]), params: new Map([["w", Float64Array.from([10, 100])]]), dims: { B: 2 } });
    expect(viaMap["y"]!.shape).toEqual([2, 2]);
    expect(viaMap["y"]!.data).toBeInstanceOf(Float32Array);
    expect(Array.from(viaMap["y"]!.data)).toEqual([10, 200, 30, 400]);
    const viaRecord = interpret(g, { inputs: { x: Float64Array.from([1, 2, 3, 4]) }, params: { w: Float32Array.from([10, 100]) }, dims: { B: 2 }, precision: "f64" });
    expect(viaRecord["s"]!.data).toBeInstanceOf(Float64Array);
    expect(viaRecord["s"]!.data[0]).toBe(640);
  });
  it("computes only the requested outputs", () => {
    const out = interpret(graph(), { inputs: { x: new Float32Array(2) }, params: { w: new Float32Array(2) }, dims: { B: 1 }, outputs: ["s"] });
    expect(Object.keys(out)).toEqual(["s"]);
    expect(() => interpret(graph(), { inputs: {}, params: {}, outputs: ["nope"] })).toThrow(/no output 'nope'/);
  });
  it("says which feed is missing or has the wrong size", () => {
    expect(() => interpret(graph(), { inputs: {}, params: { w: new Float32Array(2) }, dims: { B: 1 } })).toThrow(/input 'x' was not provided/);
    expect(() => interpret(graph(), { inputs: { x: new Float32Array(3) }, params: { w: new Float32Array(2) }, dims: { B: 2 } })).toThrow(/input 'x' has 3 values but f32\[2, 2\] needs 4/);
    expect(() => interpret(graph(), { inputs: { x: new Float32Array(2) }, params: {}, dims: { B: 1 } })).toThrow(/parameter 'w'/);
    expect(() => interpret(graph(), { inputs: { x: new Float32Array(2) }, params: { w: new Float32Array(2) } })).toThrow(/'B' has no value/);
  });
});
