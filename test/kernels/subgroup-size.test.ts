// The subgroup row schedule follows the adapter's subgroup size (8 on lavapipe, 32 on NVIDIA); an adapter
// whose size varies between pipelines gets the lane schedule. No GPU needed: this checks the generated WGSL.
// (On an NVIDIA H200 the 8-lane assumption summed four rows together; found by the Dawn tests there.)
import { describe, expect, it } from "vitest";
import { profileFor, type AdapterProfile } from "../../compiler/codegen/kernel.ts";
import { rowProgram, type RowProgram } from "../../compiler/codegen/row-program.ts";
import { fusionOptionsFor } from "../../compiler/schedule/program.ts";

const rowSum: RowProgram = {
  name: "row_sum",
  description: "sum of each row",
  rows: 5,
  length: 40,
  inputs: ["x"],
  rowOutputs: ["s"],
  passes: [{ reduce: [{ name: "acc", op: "sum", expr: "v_x" }], rowStore: [{ buffer: "s", expr: "acc" }] }],
};

function profile(subgroupSize: number): AdapterProfile {
  return { software: false, subgroups: true, subgroupSize };
}

describe("row programs and the subgroup size", () => {
  it("strides the row by the adapter's subgroup size and packs 64 / size rows per workgroup", () => {
    for (const size of [8, 32]) {
      const k = rowProgram(rowSum, profile(size), "subgroup");
      expect(k.wgsl).toContain(`j += ${size}u`);
      expect(k.wgsl).toContain(`/ ${size}u`);
      expect(k.wgsl).toContain("subgroupAdd(acc)");
      expect(k.dispatch()).toEqual(k.dispatch(5));
      const groups = k.dispatch(640);
      expect(groups[0] * (groups[1] ?? 1) * (groups[2] ?? 1)).toBe(Math.ceil(640 / (64 / size)));
    }
  });

  it("falls back to one lane per row when the size is unknown or does not divide the workgroup", () => {
    for (const p of [profile(0), profile(128), { ...profile(8), subgroups: false }]) {
      const k = rowProgram(rowSum, p, "subgroup");
      expect(k.wgsl).not.toContain("subgroupAdd");
      expect(k.wgsl).toContain("one lane per row");
    }
  });

  it("profileFor reports no fixed size for an adapter whose subgroups range over several sizes", () => {
    const features = new Set(["subgroups"]);
    expect(profileFor({ isSoftware: false, subgroupMinSize: 32, subgroupMaxSize: 32 }, features).subgroupSize).toBe(32);
    expect(profileFor({ isSoftware: false, subgroupMinSize: 32, subgroupMaxSize: 64 }, features).subgroupSize).toBe(0);
    expect(profileFor({ isSoftware: true, subgroupMinSize: 8, subgroupMaxSize: 8 }, new Set<string>()).subgroups).toBe(false);
  });

  it("profileFor carries the adapter's storage-buffer limit, which sets how far kernels merge", () => {
    const limits = { maxStorageBuffersPerShaderStage: 16 };
    expect(profileFor({ isSoftware: true, subgroupMinSize: 8, limits }, new Set()).maxStorageBuffers).toBe(16);
    expect(profileFor({ isSoftware: true, subgroupMinSize: 8 }, new Set()).maxStorageBuffers).toBeUndefined();
    expect(fusionOptionsFor({ software: false, subgroups: false, subgroupSize: 0 }).maxStorageBuffers).toBe(8);
    expect(fusionOptionsFor({ software: true, subgroups: true, subgroupSize: 8, maxStorageBuffers: 16 }).maxStorageBuffers).toBe(16);
  });
});
