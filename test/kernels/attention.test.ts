import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import {
  attentionBackward,
  attentionForward,
  attentionStats,
} from "../../compiler/codegen/attention.ts";
import type { AttentionShape } from "../../compiler/codegen/attention-common.ts";
import {
  DISCRETE_PROFILE,
  type AdapterProfile,
} from "../../compiler/codegen/kernel.ts";
import {
  openHarness,
  randomArray,
  relError,
  type KernelHarness,
} from "./harness.ts";
import { attentionRef } from "./attention-reference.ts";

// A cold lavapipe JIT of each new shader can take seconds on a busy machine.
vi.setConfig({ testTimeout: 180_000 });

let h: KernelHarness;
beforeAll(async () => {
  h = await openHarness();
});
afterAll(() => h?.destroy());

async function check(
  p: AttentionShape,
  profile: AdapterProfile,
  seed: number,
  biasLen = 0,
) {
  const bhN = p.batch * p.heads;
  const w = p.dv ?? p.d;
  const [nq, nk, no, nv] = [
    bhN * p.lq * p.d,
    bhN * p.lk * p.d,
    bhN * p.lq * w,
    bhN * p.lk * w,
  ];
  const q = randomArray(nq, seed, -2, 2);
  const k = randomArray(nk, seed + 1, -2, 2);
  const v = randomArray(nv, seed + 2);
  const dO = randomArray(no, seed + 3);
  const bias = biasLen ? randomArray(biasLen, seed + 4) : undefined;
  const want = attentionRef(p, q, k, v, dO, bias);
  const packed = p.bindings?.dk === "dkv";
  const out = await h.run(
    [
      attentionForward(p, profile),
      attentionStats(p, profile),
      ...attentionBackward(p, profile),
    ],
    {
      q,
      k,
      v,
      ...(bias ? { bias } : {}),
      o: no,
      dout: dO,
      stats: bhN * p.lq * 2,
      dq: nq,
      ...(packed ? { dkv: nk + nv } : { dk: nk, dv: nv }),
    },
    ["o", "stats", "dq", packed ? "dkv" : "dk", ...(packed ? [] : ["dv"])],
  );
  if (packed) Object.assign(out, unpackKv(out.dkv!, p));
  for (const name of ["o", "stats", "dq", "dk", "dv"] as const)
    expect(relError(out[name], want[name]), name).toBeLessThan(1e-4);
}

/** dk and dv side by side in one buffer: rows [dk | dv] of width d + dv, as the compiler lays them out. */
function packKv(p: AttentionShape): AttentionShape {
  const row = p.d + (p.dv ?? p.d);
  const layout = { batch: p.heads * p.lk * row, head: p.lk * row, row };
  return {
    ...p,
    layouts: { dk: { ...layout, offset: 0 }, dv: { ...layout, offset: p.d } },
    bindings: { dk: "dkv", dv: "dkv" },
  };
}

function unpackKv(dkv: Float32Array, p: AttentionShape) {
  const w = p.dv ?? p.d;
  const rows = p.batch * p.heads * p.lk;
  const dk = new Float32Array(rows * p.d);
  const dv = new Float32Array(rows * w);
  for (let r = 0; r < rows; r++) {
    dk.set(dkv.subarray(r * (p.d + w), r * (p.d + w) + p.d), r * p.d);
    dv.set(dkv.subarray(r * (p.d + w) + p.d, (r + 1) * (p.d + w)), r * w);
  }
  return { dk, dv };
}

const FETCHES = ["broadcast", "direct", "tile", "8-lane broadcast"] as const;
const profiles = () => [
  h.profile,
  { ...h.profile, subgroups: false },
  DISCRETE_PROFILE,
  // 8-lane kernels run correctly on a 16-lane lavapipe (a workgroup is half a subgroup).
  h.profile.subgroupSize > 8 ? { ...h.profile, subgroupSize: 8 } : h.profile,
];

describe("flash attention", () => {
  for (const label of FETCHES) {
    it(`forward and backward match naive attention on odd shapes (${label} row fetch)`, async () => {
      const profile = profiles()[FETCHES.indexOf(label)]!;
      let seed = 100 + label.length;
      const shapes: AttentionShape[] = [
        { batch: 1, heads: 1, lq: 1, lk: 1, d: 4 },
        { batch: 3, heads: 1, lq: 7, lk: 13, d: 8 },
        { batch: 1, heads: 2, lq: 17, lk: 33, d: 5 },
        { batch: 1, heads: 1, lq: 9, lk: 20, d: 64 },
      ];
      // The fallbacks share the index maths: two shapes each (each shader is a lavapipe JIT).
      for (const p of label.endsWith("broadcast") ? shapes : shapes.slice(2))
        await check(p, profile, (seed += 10));
    });
  }

  it("applies a causal mask and a broadcast additive bias", async () => {
    const p: AttentionShape = {
      batch: 2,
      heads: 2,
      lq: 6,
      lk: 9,
      d: 16,
      causal: true,
      bias: { batch: 0, head: 54, q: 9, k: 1 },
    };
    for (const profile of [profiles()[0], profiles()[2]])
      await check(p, profile, 300, 2 * 54);
  });

  it("value rows wider or narrower than key rows, dk and dv packed in one binding", async () => {
    const shapes: AttentionShape[] = [
      { batch: 2, heads: 3, lq: 7, lk: 11, d: 8, dv: 12 },
      { batch: 1, heads: 2, lq: 9, lk: 5, d: 5, dv: 3, causal: true },
    ];
    for (const profile of [profiles()[0], profiles()[2]])
      for (const [i, p] of shapes.entries()) {
        await check(p, profile, 500 + i);
        await check(packKv(p), profile, 510 + i);
      }
  });

  it("supports d = 128", async () => {
    await check(
      {
        batch: 1,
        heads: 1,
        lq: 10,
        lk: 12,
        d: 128,
        scale: 0.05,
        name: "attention_d128",
      },
      h.profile,
      400,
    );
  });
});
