import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { randomFill } from "../../compiler/codegen/rng.ts";
import {
  randomBernoulli,
  randomNormal,
  randomUniform,
} from "../../compiler/ir/philox.ts";
import { openHarness, type KernelHarness } from "./harness.ts";

// A cold lavapipe JIT of each new shader can take seconds on a busy machine.
vi.setConfig({ testTimeout: 180_000 });

let h: KernelHarness;
beforeAll(async () => {
  h = await openHarness();
});
afterAll(() => h?.destroy());

describe("philox rng in WGSL", () => {
  const n = 1000;
  const seed = 0xdeadbeef;

  it("uniform is bit-exact with compiler/ir/philox.ts", async () => {
    const out = await h.run(
      [randomFill({ count: n, dist: "uniform", stream: 7 })],
      { out: n },
      ["out"],
      { seed },
    );
    for (let i = 0; i < n; i++)
      expect(out.out[i]).toBe(Math.fround(randomUniform(seed, 7, i)));
  });

  it("bernoulli is bit-exact and normal agrees within f32 log/cos precision", async () => {
    const out = await h.run(
      [
        randomFill({
          count: n,
          dist: "bernoulli",
          stream: 3,
          p: 0.3,
          name: "b",
        }),
        {
          kernel: randomFill({ count: n, dist: "normal", stream: 3 }),
          buffers: { out: "z" },
        },
      ],
      { out: n, z: n },
      ["out", "z"],
      { seed },
    );
    for (let i = 0; i < n; i++) {
      expect(out.out[i]).toBe(randomBernoulli(seed, 3, i, 0.3));
      expect(Math.abs(out.z[i] - randomNormal(seed, 3, i))).toBeLessThan(
        1e-4 * Math.max(1, Math.abs(randomNormal(seed, 3, i))),
      );
    }
  });

  it("changes with the step seed", async () => {
    const a = await h.run(
      [randomFill({ count: 16, dist: "uniform", stream: 0 })],
      { out: 16 },
      ["out"],
      { seed: 1 },
    );
    const b = await h.run(
      [randomFill({ count: 16, dist: "uniform", stream: 0 })],
      { out: 16 },
      ["out"],
      { seed: 2 },
    );
    expect([...a.out]).not.toEqual([...b.out]);
  });
});
