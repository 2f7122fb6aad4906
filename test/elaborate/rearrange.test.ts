import { describe, expect, it } from "vitest";
import { planRearrange } from "../../compiler/elaborate/rearrange.ts";

describe("rearrange patterns", () => {
  it("merges axes", () => {
    expect(planRearrange("b t h w c -> (b t) (h w) c", ["B", 8, 4, 4, 64], {})).toEqual({
      split: ["B", 8, 4, 4, 64],
      perm: [0, 1, 2, 3, 4],
      output: ["8*B", 16, 64],
    });
  });
  it("splits a grouped axis using the given sizes, symbolic dims included", () => {
    const plan = planRearrange("(b t) n c -> b t n c", ["8*B", 17, 64], { t: 8 });
    expect(plan).toEqual({ split: ["B", 8, 17, 64], perm: [0, 1, 2, 3], output: ["B", 8, 17, 64] });
  });
  it("permutes and handles ellipsis and unit axes", () => {
    expect(planRearrange("... n c -> ... c n", [2, 3, 5, 7], {})).toMatchObject({ perm: [0, 1, 3, 2], output: [2, 3, 7, 5] });
    expect(planRearrange("b 1 c -> b c 1", [2, 1, 4], {})).toMatchObject({ output: [2, 4, 1] });
  });
  it("reports errors as values", () => {
    expect(planRearrange("b c", [1, 2], {})).toMatch(/exactly one '->'/);
    expect(planRearrange("b (t n) c -> b t n c", [2, 10, 3], {})).toMatch(/two axes of unknown size/);
    expect(planRearrange("b (t n) c -> b t n c", [2, 10, 3], { t: 3 })).toMatch(/cannot be split/);
    expect(planRearrange("b c -> b c d", [2, 3], {})).toMatch(/only on the right/);
    expect(planRearrange("b c -> b", [2, 3], {})).toMatch(/only on the left/);
    expect(planRearrange("b c d -> b c d", [2, 3], {})).toMatch(/3 axes but the tensor has 2/);
  });
});
