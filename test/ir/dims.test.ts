import { describe, expect, it } from "vitest";
import { canonDim, dimDiv, dimEq, dimMul, evalShape, numel } from "../../compiler/ir/dims.ts";

describe("symbolic dims", () => {
  it("canonicalises products so order does not matter", () => {
    expect(canonDim("T*B")).toBe("B*T");
    expect(dimEq("8*B", "B*8")).toBe(true);
    expect(dimEq("B", 8)).toBe(false);
  });
  it("multiplies and divides exactly", () => {
    expect(dimMul("B", 8)).toBe("8*B");
    expect(dimMul(2, 3)).toBe(6);
    expect(dimDiv("8*B", 8)).toBe("B");
    expect(dimDiv("8*B", "B")).toBe(8);
    expect(dimDiv("8*B", 3)).toBeUndefined();
    expect(dimDiv("B", "T")).toBeUndefined();
  });
  it("evaluates against bindings", () => {
    expect(evalShape(["B", "4*B", 3], { B: 2 })).toEqual([2, 8, 3]);
    expect(numel(["B", 4, 5])).toBe("20*B");
    expect(() => evalShape(["T"], { B: 1 })).toThrow(/no value/);
  });
});
