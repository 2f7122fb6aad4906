import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { chain, epilogue } from "../../compiler/codegen/epilogue.ts";
import {
  DISCRETE_PROFILE,
  simdLanes,
  type AdapterProfile,
} from "../../compiler/codegen/kernel.ts";
import {
  matmul,
  resolveMatmul,
  matmulTileChoices,
  type MatmulParams,
} from "../../compiler/codegen/matmul.ts";
import {
  openHarness,
  randomArray,
  relError,
  type KernelHarness,
} from "./harness.ts";
import { geluErf, matmulRef, quickGelu } from "./reference.ts";

// A cold lavapipe JIT of each new shader can take seconds on a busy machine.
vi.setConfig({ testTimeout: 180_000 });

let h: KernelHarness;
beforeAll(async () => {
  h = await openHarness();
});
afterAll(() => h?.destroy());

function sizes(p: MatmulParams) {
  const r = resolveMatmul(p);
  const extent = (m: { batchStride: number }, rows: number, cols: number) =>
    m.batchStride * (p.batch - 1) + rows * cols;
  return {
    r,
    aLen: Math.max(extent(r.a, p.M, p.K), p.M * p.K),
    bLen: Math.max(extent(r.b, p.K, p.N), p.K * p.N),
    cLen: p.batch * p.M * p.N,
  };
}

async function check(p: MatmulParams, profile: AdapterProfile, seed: number) {
  const { r, aLen, bLen, cLen } = sizes(p);
  const A = randomArray(aLen, seed);
  const B = randomArray(bLen, seed + 1);
  const out = await h.run([matmul(p, profile)], { A, B, C: cLen }, ["C"]);
  expect(relError(out.C, matmulRef(r, A, B, cLen))).toBeLessThan(1e-4);
}

const shapes: [number, number, number, number][] = [
  [1, 1, 1, 1],
  [1, 7, 13, 5],
  [3, 65, 33, 17],
  [2, 8, 64, 32],
  [1, 9, 70, 4],
];

// 8-lane kernels run correctly on a 16-lane lavapipe (a workgroup is half a subgroup), so there both are tested.
const eightLanes = () => (h.profile.subgroupSize > 8 ? { ...h.profile, subgroupSize: 8 } : h.profile);
const profiles = () =>
  [
    ["lavapipe", h.profile],
    ["lavapipe, 8 lanes", eightLanes()],
    ["no-subgroups", { ...h.profile, subgroups: false }],
    ["discrete", DISCRETE_PROFILE],
  ] as const;

describe("matmul", () => {
  // Each distinct shader costs a first-dispatch JIT on lavapipe (seconds when the machine is busy),
  // so the fallback kernels cover the transposes on one odd shape each.
  for (const label of ["lavapipe", "lavapipe, 8 lanes", "no-subgroups", "discrete"] as const) {
    it(`matches the CPU reference on odd shapes and all transposes (${label} kernel)`, async () => {
      const profile = profiles().find(([l]) => l === label)![1];
      let seed = label.length * 100;
      const cases: [number, number, number, number, boolean, boolean][] =
        label.startsWith("lavapipe")
          ? shapes.flatMap(
              ([b, m, n, k]) =>
                [
                  [b, m, n, k, false, false],
                  [b, m, n, k, false, true],
                  [b, m, n, k, true, false],
                  [b, m, n, k, true, true],
                ] as [number, number, number, number, boolean, boolean][],
            )
          : [
              [3, 65, 33, 17, false, false],
              [3, 65, 33, 17, true, true],
              [1, 7, 13, 5, false, true],
              [1, 7, 13, 5, true, false],
            ];
      for (const [batch, M, N, K, transA, transB] of label === "discrete"
        ? cases.slice(0, 2)
        : cases) {
        await check({ batch, M, N, K, transA, transB }, profile, seed++);
        // A transposed B with K % 4 == 0 (a Linear weight) is read 4 k at a time and transposed in registers.
        if (label.startsWith("lavapipe") && profile.software && transB && K % 4 === 0) expect(matmul({ batch, M, N, K, transA, transB }, profile).wgsl).toContain("let w0_0 = B[");
      }
    });
  }

  // The software tile (code rows * 10 + groups of one vec4 per lane) and the discrete one ((16 * tile)^2), whatever this adapter is.
  // A software tile names its lanes (8 without usable subgroups) and covers 4 columns per lane per group.
  const simdTileText = (p: AdapterProfile, t: number) => `${simdLanes(p) ?? 8}-lane SIMD tile ${Math.floor(t / 10)}x${(simdLanes(p) ?? 8) * 4 * (t % 10)}`;
  for (const [label, profile, tileText] of [
    ["software", () => ({ ...h.profile, software: true }), simdTileText],
    ["software, 8 lanes", () => ({ ...eightLanes(), software: true }), simdTileText],
    ["software without subgroups", () => ({ ...h.profile, software: true, subgroups: false }), simdTileText],
    ["discrete", () => DISCRETE_PROFILE, (_p: AdapterProfile, t: number) => `${16 * t}x${16 * t} tile in workgroup memory`],
  ] as const) {
    it(`every autotuner tile of the ${label} matmul gives bit-identical results on odd shapes`, async () => {
      for (const [batch, M, N, K, transB, transA] of [
        [2, 13, 100, 36, false, false],
        [1, 9, 70, 5, true, false],
        [3, 70, 36, 12, false, false],
        [2, 5, 20, 9, false, false],
        // A transposed with M and K multiples of 4: 32- and 64-row tiles read 4 rows per 16-byte load.
        [2, 72, 70, 12, true, true],
      ] as const) {
        const p: MatmulParams = { batch, M, N, K, transB, transA };
        const { choices, fallback } = matmulTileChoices(profile(), p);
        expect(matmul(p, profile()).wgsl).toBe(matmul({ ...p, tile: fallback }, profile()).wgsl);
        const { r, aLen, bLen, cLen } = sizes(p);
        const A = randomArray(aLen, 5);
        const B = randomArray(bLen, 6);
        const outs = new Map<number, Float32Array>();
        for (const tile of choices) {
          const kernel = matmul({ ...p, tile }, profile());
          expect(kernel.wgsl).toContain(tileText(profile(), tile));
          outs.set(tile, (await h.run([kernel], { A, B, C: cLen }, ["C"])).C);
        }
        expect(relError(outs.get(fallback)!, matmulRef(r, A, B, cLen))).toBeLessThan(1e-4);
        for (const tile of choices) expect(outs.get(tile), `tile ${tile}`).toEqual(outs.get(fallback));
      }
    });
  }

  it("folds row tiles past the 65535-workgroup limit into grid x", async () => {
    const p: MatmulParams = { batch: 1, M: 65535 * 8 + 9, N: 3, K: 2 };
    const kernel = matmul(p, h.profile);
    expect(kernel.dispatch()[1]).toBeLessThanOrEqual(65535);
    await check(p, h.profile, 77);
  });

  it("broadcasts B over the batch (batch stride 0)", async () => {
    await check(
      { batch: 3, M: 10, N: 12, K: 9, batchStrideB: 0 },
      h.profile,
      99,
    );
  });

  it("folds a batch against one B into rows; the epilogue still sees each element's batch and row", async () => {
    const [batch, M, N, K] = [3, 10, 12, 8];
    // f32(b) and f32(row) in the epilogue: a fold that passed the folded row (or batch 0) would shift them.
    const epi = { steps: ["v + f32(b) * 1000.0 + f32(row) * 10.0"], inputs: [] };
    for (const transA of [false, true]) {
      const p: MatmulParams = { batch, M, N, K, transA, batchStrideB: 0, epilogue: epi };
      const A = randomArray(batch * M * K, 11);
      const B = randomArray(K * N, 12);
      const want = matmulRef(resolveMatmul(p), A, B, batch * M * N, (v, row, _c, i) => v + Math.floor(i / (M * N)) * 1000 + row * 10);
      for (const profile of [h.profile, eightLanes(), DISCRETE_PROFILE]) {
        const kernel = matmul(p, profile);
        expect(kernel.wgsl).toContain(`C[1, ${batch * M}, ${N}] = A[1, ${batch * M}, ${K}] * B[1, ${K}, ${N}] (a batch of ${batch} x ${M} rows against one B)`);
        expect(kernel.dispatch()[2]).toBe(1);
        const out = await h.run([kernel], { A, B, C: batch * M * N }, ["C"]);
        expect(relError(out.C, want), `transA ${transA}`).toBeLessThan(1e-5);
      }
    }
    // A B per batch element is not folded.
    expect(matmul({ batch, M, N, K }, h.profile).wgsl).toContain(`C[${batch}, ${M}, ${N}]`);
  });

  it("applies a bias + GELU(erf) + residual epilogue", async () => {
    const [M, N, K] = [13, 37, 20];
    const p: MatmulParams = {
      batch: 1,
      M,
      N,
      K,
      epilogue: chain(
        epilogue.bias("bias"),
        epilogue.geluErf(),
        epilogue.residual("res"),
      ),
    };
    const A = randomArray(M * K, 5);
    const B = randomArray(K * N, 6);
    const bias = randomArray(N, 7);
    const res = randomArray(M * N, 8);
    const want = matmulRef(
      resolveMatmul(p),
      A,
      B,
      M * N,
      (v, _r, c, i) => geluErf(v + bias[c]) + res[i],
    );
    for (const profile of [h.profile, DISCRETE_PROFILE]) {
      const out = await h.run(
        [matmul(p, profile)],
        { A, B, C: M * N, bias, res },
        ["C"],
      );
      expect(relError(out.C, want)).toBeLessThan(1e-4);
    }
  });

  it("applies scale, QuickGELU, tanh and gate epilogues", async () => {
    const [M, N, K] = [9, 11, 6];
    const p: MatmulParams = {
      batch: 1,
      M,
      N,
      K,
      epilogue: chain(
        epilogue.scale(0.5),
        epilogue.quickGelu(),
        epilogue.tanh(),
        epilogue.gate("gate"),
      ),
    };
    const A = randomArray(M * K, 15, -3, 3);
    const B = randomArray(K * N, 16, -3, 3);
    const gate = randomArray(M * N, 17);
    const want = matmulRef(
      resolveMatmul(p),
      A,
      B,
      M * N,
      (v, _r, _c, i) => Math.tanh(quickGelu(v * 0.5)) * gate[i],
    );
    const out = await h.run([matmul(p, h.profile)], { A, B, C: M * N, gate }, [
      "C",
    ]);
    expect(relError(out.C, want)).toBeLessThan(1e-4);
  });
});
