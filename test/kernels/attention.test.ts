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

// A cold lavapipe JIT of each new shader can take seconds on a busy machine.
vi.setConfig({ testTimeout: 180_000 });

let h: KernelHarness;
beforeAll(async () => {
  h = await openHarness();
});
afterAll(() => h?.destroy());

/** Naive attention in float64 with explicit probabilities, forward and backward. */
function reference(
  p: AttentionShape,
  q: Float32Array,
  k: Float32Array,
  v: Float32Array,
  dO: Float32Array,
  bias?: Float32Array,
) {
  const { lq, lk, d } = p;
  const w = p.dv ?? d;
  const bhN = p.batch * p.heads;
  const scale = p.scale ?? 1 / Math.sqrt(d);
  const o = new Float64Array(bhN * lq * w);
  const stats = new Float64Array(bhN * lq * 2);
  const dq = new Float64Array(bhN * lq * d);
  const dk = new Float64Array(bhN * lk * d);
  const dv = new Float64Array(bhN * lk * w);
  for (let bh = 0; bh < bhN; bh++) {
    const b = Math.floor(bh / p.heads);
    const hh = bh % p.heads;
    for (let i = 0; i < lq; i++) {
      const s = new Float64Array(lk);
      for (let j = 0; j < lk; j++) {
        let dotv = 0;
        for (let c = 0; c < d; c++)
          dotv += q[(bh * lq + i) * d + c] * k[(bh * lk + j) * d + c];
        s[j] = dotv * scale;
        if (bias && p.bias)
          s[j] +=
            bias[
              b * p.bias.batch + hh * p.bias.head + i * p.bias.q + j * p.bias.k
            ];
        if (p.causal && j > i) s[j] = -Infinity;
      }
      const m = Math.max(...s);
      let z = 0;
      for (let j = 0; j < lk; j++) z += Math.exp(s[j] - m);
      stats[(bh * lq + i) * 2] = m + Math.log(z);
      const P = s.map((x) => Math.exp(x - m) / z);
      let D = 0;
      for (let j = 0; j < lk; j++)
        for (let c = 0; c < w; c++)
          o[(bh * lq + i) * w + c] += P[j] * v[(bh * lk + j) * w + c];
      for (let c = 0; c < w; c++)
        D += dO[(bh * lq + i) * w + c] * o[(bh * lq + i) * w + c];
      stats[(bh * lq + i) * 2 + 1] = D;
      for (let j = 0; j < lk; j++) {
        let dp = 0;
        for (let c = 0; c < w; c++)
          dp += dO[(bh * lq + i) * w + c] * v[(bh * lk + j) * w + c];
        const ds = P[j] * (dp - D);
        for (let c = 0; c < w; c++)
          dv[(bh * lk + j) * w + c] += P[j] * dO[(bh * lq + i) * w + c];
        for (let c = 0; c < d; c++) {
          dq[(bh * lq + i) * d + c] += ds * k[(bh * lk + j) * d + c] * scale;
          dk[(bh * lk + j) * d + c] += ds * q[(bh * lq + i) * d + c] * scale;
        }
      }
    }
  }
  return { o, stats, dq, dk, dv };
}

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
  const want = reference(p, q, k, v, dO, bias);
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

const profiles = () => [
  h.profile,
  { ...h.profile, subgroups: false },
  DISCRETE_PROFILE,
];

describe("flash attention", () => {
  for (const label of ["broadcast", "direct", "tile"] as const) {
    it(`forward and backward match naive attention on odd shapes (${label} row fetch)`, async () => {
      const profile =
        profiles()[["broadcast", "direct", "tile"].indexOf(label)];
      let seed = 100 + label.length;
      const shapes: AttentionShape[] = [
        { batch: 1, heads: 1, lq: 1, lk: 1, d: 4 },
        { batch: 3, heads: 1, lq: 7, lk: 13, d: 8 },
        { batch: 1, heads: 2, lq: 17, lk: 33, d: 5 },
        { batch: 1, heads: 1, lq: 9, lk: 20, d: 64 },
      ];
      // The fallbacks share the index maths: two shapes each (each shader is a lavapipe JIT).
      for (const p of label === "broadcast" ? shapes : shapes.slice(2))
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
