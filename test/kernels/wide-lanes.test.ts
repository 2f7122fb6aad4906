// The 16-lane forms of the software kernels (lavapipe with 512-bit vectors: LP_NATIVE_VECTOR_WIDTH=512
// on an AVX-512 CPU). This file's worker process asks for that width before Dawn loads the driver; the
// other kernel tests run at the machine's default width (8 lanes) and cover the 8-lane forms.
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { attentionBackward, attentionForward, attentionStats } from "../../compiler/codegen/attention.ts";
import type { AttentionShape } from "../../compiler/codegen/attention-common.ts";
import { simdLanes } from "../../compiler/codegen/kernel.ts";
import { matmul, matmulTileChoices, resolveMatmul, type MatmulParams } from "../../compiler/codegen/matmul.ts";
import { layerNormBackward } from "../../compiler/codegen/normalization.ts";
import { cpuHasAvx512 } from "../../runtime/software-vectors.ts";
import { attentionRef } from "./attention-reference.ts";
import { openHarness, randomArray, relError, type KernelHarness } from "./harness.ts";
import { layerNormBackwardRef, layerNormRef, matmulRef } from "./reference.ts";

vi.setConfig({ testTimeout: 300_000 });

const wide = cpuHasAvx512();
if (wide) process.env.LP_NATIVE_VECTOR_WIDTH = "512";

let h: KernelHarness;
beforeAll(async () => {
  if (wide) h = await openHarness();
});
afterAll(() => h?.destroy());

describe.runIf(wide)("16-lane software kernels (lavapipe at 512 bits)", () => {
  it("the adapter runs 16-lane subgroups, so the kernels below take their 16-lane forms", () => {
    // Fails if Dawn was loaded before this file set the width (a reused worker): the rest would test 8 lanes.
    expect(h.profile.software).toBe(true);
    expect(simdLanes(h.profile)).toBe(16);
  });

  it("matmul matches the CPU reference over transposes, and every autotuner tile is bit-identical", async () => {
    for (const [batch, M, N, K, transA, transB] of [
      [3, 65, 33, 17, false, false],
      [1, 9, 70, 8, false, true],
      // A transposed, M and K multiples of 4: the 64-row tile reads 4 rows per 16-byte load.
      [2, 72, 70, 12, true, true],
    ] as const) {
      const p: MatmulParams = { batch, M, N, K, transA, transB };
      const r = resolveMatmul(p);
      const A = randomArray(batch * M * K, M);
      const B = randomArray(batch * K * N, N);
      const { choices, fallback } = matmulTileChoices(h.profile, p);
      const outs = new Map<number, Float32Array>();
      for (const tile of choices) {
        const kernel = matmul({ ...p, tile }, h.profile);
        expect(kernel.wgsl).toContain(`16-lane SIMD tile ${Math.floor(tile / 10)}x${64 * (tile % 10)}, A shared by subgroupBroadcast`);
        expect(kernel.workgroupSize[0]).toBe(16);
        outs.set(tile, (await h.run([kernel], { A, B, C: batch * M * N }, ["C"])).C);
      }
      expect(relError(outs.get(fallback)!, matmulRef(r, A, B, batch * M * N))).toBeLessThan(1e-4);
      for (const tile of choices) expect(outs.get(tile), `tile ${tile}`).toEqual(outs.get(fallback));
    }
  });

  it("attention forward and backward match naive attention (rows broadcast across 16 lanes)", async () => {
    let seed = 7;
    for (const p of [
      { batch: 1, heads: 2, lq: 17, lk: 33, d: 8 },
      { batch: 1, heads: 1, lq: 9, lk: 20, d: 64 },
    ] as AttentionShape[]) {
      const bh = p.batch * p.heads;
      const [q, k, v, dout] = [p.lq, p.lk, p.lk, p.lq].map((rows) => randomArray(bh * rows * p.d, seed++, -2, 2));
      const kernels = [attentionForward(p, h.profile), attentionStats(p, h.profile), ...attentionBackward(p, h.profile)];
      for (const kernel of kernels) expect(kernel.wgsl).toContain("loop rows fetched by broadcast");
      const out = await h.run(kernels, { q, k, v, dout, o: bh * p.lq * p.d, stats: bh * p.lq * 2, dq: q.length, dk: k.length, dv: v.length }, ["o", "stats", "dq", "dk", "dv"]);
      const want = attentionRef(p, q, k, v, dout);
      for (const name of ["o", "stats", "dq", "dk", "dv"] as const) expect(relError(out[name]!, want[name]), name).toBeLessThan(1e-4);
    }
  });

  it("LayerNorm backward sums dgamma and dbeta over 16 rows per subgroup", async () => {
    const [R, N] = [37, 12];
    const x = randomArray(R * N, 1, -2, 2);
    const dy = randomArray(R * N, 2);
    const gamma = randomArray(N, 3);
    const bwd = layerNormBackward({ rows: R, length: N }, h.profile);
    expect(bwd.partials).toBeUndefined();
    expect(bwd.dx.workgroupSize[0]).toBe(16);
    const { mean, rstd } = layerNormRef(x, R, N, gamma, new Float32Array(N), 1e-5);
    const out = await h.run(
      [bwd.dx, { kernel: bwd.finalize, buffers: { partial: "pgamma", total: "dgamma" } }, { kernel: bwd.finalize, buffers: { partial: "pbeta", total: "dbeta" } }],
      { x, dy, gamma, mean: Float32Array.from(mean), rstd: Float32Array.from(rstd), dx: R * N, pgamma: bwd.chunks * N, pbeta: bwd.chunks * N, dgamma: N, dbeta: N },
      ["dx", "dgamma", "dbeta"],
    );
    const { dx, dgamma, dbeta } = layerNormBackwardRef(x, dy, gamma, mean, rstd, R, N);
    expect(relError(out.dx!, dx)).toBeLessThan(1e-4);
    expect(relError(out.dgamma!, dgamma)).toBeLessThan(1e-4);
    expect(relError(out.dbeta!, dbeta)).toBeLessThan(1e-4);
  });
});
