import { describe, expect, it } from "vitest";
import { mulhi32, philox4x32_10, randomBernoulli, randomNormal, randomUniform } from "../../compiler/ir/philox.ts";

describe("Philox4x32-10", () => {
  it("matches the Random123 known-answer vectors", () => {
    expect(philox4x32_10([0, 0, 0, 0], [0, 0])).toEqual([0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8]);
    expect(philox4x32_10([0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff], [0xffffffff, 0xffffffff])).toEqual([
      0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd,
    ]);
    expect(philox4x32_10([0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344], [0xa4093822, 0x299f31d0])).toEqual([
      0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1,
    ]);
  });
  it("computes the high word of 32x32 products exactly", () => {
    for (const [a, b] of [[0xffffffff, 0xffffffff], [0xd2511f53, 0x12345678], [65536, 65536], [3, 5]] as const) {
      expect(mulhi32(a, b)).toBe(Number((BigInt(a) * BigInt(b)) >> 32n));
    }
  });
  it("gives distributions with the right moments, and depends on seed, stream and index", () => {
    const n = 20000;
    let su = 0, sn = 0, sn2 = 0, sb = 0;
    for (let i = 0; i < n; i++) {
      const u = randomUniform(1, 2, i);
      expect(u >= 0 && u < 1).toBe(true);
      su += u;
      const z = randomNormal(1, 2, i);
      sn += z;
      sn2 += z * z;
      sb += randomBernoulli(1, 2, i, 0.3);
    }
    expect(su / n).toBeCloseTo(0.5, 1);
    expect(sn / n).toBeCloseTo(0, 1);
    expect(sn2 / n).toBeCloseTo(1, 1);
    expect(sb / n).toBeCloseTo(0.3, 1);
    expect(randomUniform(1, 2, 5)).not.toBe(randomUniform(2, 2, 5));
    expect(randomUniform(1, 2, 5)).not.toBe(randomUniform(1, 3, 5));
    expect(randomUniform(1, 2, 5)).toBe(randomUniform(1, 2, 5));
  });
});
