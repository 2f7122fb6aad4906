import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import {
  layerNorm,
  layerNormBackward,
  softmax,
  softmaxBackward,
} from "../../compiler/codegen/normalization.ts";
import { stridedReduce } from "../../compiler/codegen/reduce.ts";
import type { RowSchedule } from "../../compiler/codegen/row-program.ts";
import { simdLanes, type AdapterProfile } from "../../compiler/codegen/kernel.ts";
import {
  openHarness,
  randomArray,
  relError,
  type KernelHarness,
} from "./harness.ts";
import { layerNormBackwardRef, layerNormRef } from "./reference.ts";

// A cold lavapipe JIT of each new shader can take seconds on a busy machine.
vi.setConfig({ testTimeout: 180_000 });

let h: KernelHarness;
beforeAll(async () => {
  h = await openHarness();
});
afterAll(() => h?.destroy());

const schedules: RowSchedule[] = ["lane", "subgroup", "workgroup"];
const shapes: [number, number][] = [
  [1, 1],
  [7, 13],
  [65, 33],
  [3, 200],
];

function softmaxRef(
  x: Float32Array,
  R: number,
  N: number,
  scale: number,
): Float64Array {
  const y = new Float64Array(R * N);
  for (let r = 0; r < R; r++) {
    let m = -Infinity;
    for (let j = 0; j < N; j++) m = Math.max(m, x[r * N + j] * scale);
    let z = 0;
    for (let j = 0; j < N; j++) z += Math.exp(x[r * N + j] * scale - m);
    for (let j = 0; j < N; j++)
      y[r * N + j] = Math.exp(x[r * N + j] * scale - m) / z;
  }
  return y;
}

describe("softmax", () => {
  it("forward and backward match the reference on odd shapes, every schedule", async () => {
    let seed = 10;
    for (const wg of schedules) {
      for (const [R, N] of shapes) {
        const x = randomArray(R * N, seed++, -4, 4);
        const dy = randomArray(R * N, seed++);
        const scale = 0.7;
        const out = await h.run(
          [
            softmax({ rows: R, length: N, scale, schedule: wg }, h.profile),
            softmaxBackward(
              { rows: R, length: N, scale, schedule: wg },
              h.profile,
            ),
          ],
          { x, y: R * N, dy, dx: R * N },
          ["y", "dx"],
        );
        const y = softmaxRef(x, R, N, scale);
        expect(relError(out.y, y)).toBeLessThan(1e-4);
        const dx = new Float64Array(R * N);
        for (let r = 0; r < R; r++) {
          let d = 0;
          for (let j = 0; j < N; j++) d += dy[r * N + j] * out.y[r * N + j];
          for (let j = 0; j < N; j++)
            dx[r * N + j] = scale * out.y[r * N + j] * (dy[r * N + j] - d);
        }
        expect(relError(out.dx, dx)).toBeLessThan(1e-4);
      }
    }
  });
});

describe("layernorm", () => {
  it("forward with a residual add matches, every schedule", async () => {
    let seed = 30;
    for (const wg of schedules) {
      for (const [R, N] of shapes.slice(1)) {
        const x = randomArray(R * N, seed++, -2, 3);
        const res = randomArray(R * N, seed++);
        const gamma = randomArray(N, seed++);
        const beta = randomArray(N, seed++);
        const out = await h.run(
          [
            layerNorm(
              {
                rows: R,
                length: N,
                eps: 1e-5,
                residual: true,
                schedule: wg,
              },
              h.profile,
            ),
          ],
          { x, res, gamma, beta, y: R * N, h: R * N, mean: R, rstd: R },
          ["y", "h", "mean", "rstd"],
        );
        const hv = x.map((v, i) => v + res[i]);
        const want = layerNormRef(hv, R, N, gamma, beta, 1e-5);
        expect(relError(out.h, hv)).toBeLessThan(1e-6);
        expect(relError(out.y, want.y)).toBeLessThan(1e-4);
        expect(relError(out.mean, want.mean)).toBeLessThan(1e-4);
        expect(relError(out.rstd, want.rstd)).toBeLessThan(1e-4);
      }
    }
  });

  const variants: { label: string; wg?: "lane" | "workgroup"; subgroups: boolean; lanes?: number }[] = [
    { label: "fused dx + subgroup partials", wg: undefined, subgroups: true },
    // 8-lane kernels run correctly on a 16-lane lavapipe (the workgroup is half a subgroup); not the reverse.
    { label: "fused dx + subgroup partials, 8 lanes", wg: undefined, subgroups: true, lanes: 8 },
    {
      label: "lane per row + partials kernel",
      wg: "lane" as const,
      subgroups: false,
    },
    {
      label: "workgroup per row + partials kernel",
      wg: "workgroup" as const,
      subgroups: true,
    },
  ];
  for (const { label, wg, subgroups, lanes } of variants) {
    it(`backward gives dx (plus an incoming residual gradient), dgamma and dbeta (${label})`, async () => {
      let seed = label.length;
      const profile: AdapterProfile = { ...h.profile, subgroups: subgroups && h.profile.subgroups, ...(lanes && h.profile.subgroupSize > lanes ? { subgroupSize: lanes } : {}) };
      {
        for (const [R, N] of [
          [7, 13],
          [65, 33],
          [70, 8],
        ] as [number, number][]) {
          const x = randomArray(R * N, seed++, -2, 2);
          const dy = randomArray(R * N, seed++);
          const dres = randomArray(R * N, seed++);
          const gamma = randomArray(N, seed++);
          const ref = layerNormRef(x, R, N, gamma, new Float32Array(N), 1e-5);
          const bwd = layerNormBackward(
            {
              rows: R,
              length: N,
              addGrad: true,
              chunkRows: 16,
              schedule: wg,
            },
            profile,
          );
          // The fused variant exists for lavapipe's subgroups of 8 or 16 only.
          expect(bwd.partials === undefined).toBe(label.startsWith("fused") && simdLanes(profile) !== undefined);
          if (bwd.partials === undefined) expect(bwd.dx.workgroupSize[0]).toBe(profile.subgroupSize);
          const chunks = bwd.chunks;
          const finalizeK = bwd.finalize;
          const out = await h.run(
            [
              bwd.dx,
              ...(bwd.partials ? [bwd.partials] : []),
              {
                kernel: finalizeK,
                buffers: { partial: "pgamma", total: "dgamma" },
              },
              {
                kernel: finalizeK,
                buffers: { partial: "pbeta", total: "dbeta" },
              },
            ],
            {
              x,
              dy,
              dres,
              gamma,
              mean: Float32Array.from(ref.mean),
              rstd: Float32Array.from(ref.rstd),
              dx: R * N,
              pgamma: chunks * N,
              pbeta: chunks * N,
              dgamma: N,
              dbeta: N,
            },
            ["dx", "dgamma", "dbeta"],
          );
          const { dx, dgamma, dbeta } = layerNormBackwardRef(x, dy, gamma, ref.mean, ref.rstd, R, N, dres);
          expect(relError(out.dx, dx)).toBeLessThan(1e-4);
          expect(relError(out.dgamma, dgamma)).toBeLessThan(1e-4);
          expect(relError(out.dbeta, dbeta)).toBeLessThan(1e-4);
        }
      }
    });
  }
});

describe("strided reduce", () => {
  it("sums, maxes and averages over a middle axis with prologue and epilogue, both schedules", async () => {
    const [O, L, I] = [3, 300, 5];
    const x = randomArray(O * L * I, 70);
    for (const workgroupPerOutput of [false, true]) {
      for (const op of ["sum", "max", "mean"] as const) {
        const k = stridedReduce(
          {
            outer: O,
            length: L,
            inner: I,
            op,
            prologue: "x * x",
            epilogue: "sqrt(r)",
            workgroupPerOutput,
          },
          h.profile,
        );
        const out = await h.run([k], { x, y: O * I }, ["y"]);
        const want = new Float64Array(O * I);
        for (let o = 0; o < O; o++) {
          for (let i = 0; i < I; i++) {
            let acc = op === "max" ? -Infinity : 0;
            for (let l = 0; l < L; l++) {
              const v = x[(o * L + l) * I + i] ** 2;
              acc = op === "max" ? Math.max(acc, v) : acc + v;
            }
            want[o * I + i] = Math.sqrt(op === "mean" ? acc / L : acc);
          }
        }
        expect(
          relError(out.y, want),
          `${op} ${workgroupPerOutput}`,
        ).toBeLessThan(1e-4);
      }
    }
  });

  it("reduces a permuted view through strides", async () => {
    // x stored [I=4, L=6, O=2]; reduce L for each (o, i) of the view [O, L, I].
    const x = randomArray(48, 71);
    const k = stridedReduce(
      {
        outer: 2,
        length: 6,
        inner: 4,
        op: "sum",
        strides: { outer: 1, length: 2, inner: 12 },
      },
      h.profile,
    );
    const out = await h.run([k], { x, y: 8 }, ["y"]);
    const want = new Float64Array(8);
    for (let o = 0; o < 2; o++)
      for (let i = 0; i < 4; i++)
        for (let l = 0; l < 6; l++) want[o * 4 + i] += x[i * 12 + l * 2 + o];
    expect(relError(out.y, want)).toBeLessThan(1e-5);
  });
});
