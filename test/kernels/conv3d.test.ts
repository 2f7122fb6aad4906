import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import {
  conv3d,
  conv3dDirect,
  isPatchEmbedding,
  patchEmbeddingWeightGrad,
  type Conv3dParams,
} from "../../compiler/codegen/conv3d.ts";
import {
  depthwiseConv3d,
  depthwiseConv3dBackwardInput,
  depthwiseConv3dBackwardWeight,
  type DepthwiseConv3dParams,
} from "../../compiler/codegen/depthwise-conv3d.ts";
import { epilogue } from "../../compiler/codegen/epilogue.ts";
import {
  convGradRef,
  convOut,
  convRef,
  fromChannelsLast,
  toChannelsLast,
  type ConvRefParams,
} from "./conv-reference.ts";
import {
  openHarness,
  randomArray,
  relError,
  type KernelHarness,
} from "./harness.ts";
import { geluErf } from "./reference.ts";

// A cold lavapipe JIT of each new shader can take seconds on a busy machine.
vi.setConfig({ testTimeout: 180_000 });

let h: KernelHarness;
beforeAll(async () => {
  h = await openHarness();
});
afterAll(() => h?.destroy());

const prod = (s: readonly number[]) => s.reduce((a, b) => a * b, 1);

async function checkDepthwise(p: DepthwiseConv3dParams, seed: number) {
  const ref: ConvRefParams = {
    n: p.n,
    cin: p.c,
    cout: p.c,
    size: [...p.size],
    kernel: [...p.kernel],
    stride: [...(p.stride ?? [1, 1, 1])] as [number, number, number],
    padding: [...(p.padding ?? [0, 0, 0])] as [number, number, number],
    dilation: [1, 1, 1],
    groups: p.c,
  };
  const S = prod(p.size);
  const S2 = prod(convOut(ref));
  const x = randomArray(p.n * p.c * S, seed);
  const weight = randomArray(p.c * prod(p.kernel), seed + 1);
  const bias = randomArray(p.c, seed + 2);
  const dy = randomArray(p.n * p.c * S2, seed + 3);
  const last = p.channelsLast ?? false;
  const lay = (a: Float32Array, s: number) =>
    last ? toChannelsLast(a, p.n, p.c, s) : a;
  const unlay = (a: Float32Array, s: number) =>
    last ? fromChannelsLast(a, p.n, p.c, s) : a;
  const bw = depthwiseConv3dBackwardWeight(p, h.profile);
  const out = await h.run(
    [
      depthwiseConv3d(
        { ...p, bias: true, epilogue: epilogue.geluErf() },
        h.profile,
      ),
      depthwiseConv3dBackwardInput(p, h.profile),
      bw.partials,
      bw.finalizeWeight,
      bw.finalizeBias,
    ],
    {
      x: lay(x, S),
      weight,
      bias,
      dy: lay(dy, S2),
      y: p.n * p.c * S2,
      dx: p.n * p.c * S,
      pw: bw.chunks * p.c * prod(p.kernel),
      pb: bw.chunks * p.c,
      dweight: weight.length,
      dbias: p.c,
    },
    ["y", "dx", "dweight", "dbias"],
  );
  const y = convRef(ref, x, weight, bias).map(geluErf);
  const g = convGradRef(ref, x, weight, dy);
  expect(relError(unlay(out.y, S2), y), "y").toBeLessThan(1e-4);
  expect(relError(unlay(out.dx, S), g.dx), "dx").toBeLessThan(1e-4);
  expect(relError(out.dweight, g.dw), "dweight").toBeLessThan(1e-4);
  expect(relError(out.dbias, g.db), "dbias").toBeLessThan(1e-4);
}

describe("depthwise conv3d", () => {
  it("3x1x1 temporal, padded, NCTHW: forward with bias+GELU, dx, dw, dbias", async () => {
    await checkDepthwise(
      { n: 2, c: 3, size: [5, 4, 3], kernel: [3, 1, 1], padding: [1, 0, 0] },
      1,
    );
  });

  it("3x3x3 with stride 2, channels-last, small chunks", async () => {
    await checkDepthwise(
      {
        n: 1,
        c: 5,
        size: [4, 7, 6],
        kernel: [3, 3, 3],
        padding: [1, 1, 1],
        stride: [2, 2, 2],
        channelsLast: true,
      },
      2,
    );
    await checkDepthwise(
      {
        n: 3,
        c: 2,
        size: [3, 5, 4],
        kernel: [3, 3, 3],
        padding: [1, 1, 1],
        channelsLast: false,
        chunk: 7,
      } as DepthwiseConv3dParams,
      3,
    );
  });

  it("1x1x1 on a single element", async () => {
    await checkDepthwise({ n: 1, c: 1, size: [1, 1, 1], kernel: [1, 1, 1] }, 4);
  });
});

describe("general conv3d", () => {
  it("direct kernel with groups, stride, padding and dilation", async () => {
    const p: Conv3dParams = {
      n: 2,
      cin: 4,
      cout: 6,
      size: [3, 7, 8],
      kernel: [2, 3, 3],
      stride: [1, 2, 1],
      padding: [0, 1, 1],
      dilation: [1, 1, 2],
      groups: 2,
      bias: true,
    };
    const ref: ConvRefParams = {
      n: 2,
      cin: 4,
      cout: 6,
      size: [3, 7, 8],
      kernel: [2, 3, 3],
      stride: [1, 2, 1],
      padding: [0, 1, 1],
      dilation: [1, 1, 2],
      groups: 2,
    };
    const x = randomArray(2 * 4 * 168, 10);
    const weight = randomArray(6 * 2 * 18, 11);
    const bias = randomArray(6, 12);
    const yLen = 2 * 6 * prod(convOut(ref));
    const out = await h.run(
      [conv3dDirect(p, h.profile)],
      { x, weight, bias, y: yLen },
      ["y"],
    );
    expect(relError(out.y, convRef(ref, x, weight, bias))).toBeLessThan(1e-4);
  });

  it("patch embedding runs as a matmul over a strided view, NCTHW and token outputs, with its weight gradient", async () => {
    const base = {
      n: 2,
      cin: 3,
      cout: 8,
      size: [2, 8, 12] as [number, number, number],
      kernel: [2, 4, 4] as [number, number, number],
    };
    const p: Conv3dParams = { ...base, stride: base.kernel, bias: true };
    expect(isPatchEmbedding(p)).toBe(true);
    const ref: ConvRefParams = {
      ...base,
      stride: base.kernel,
      padding: [0, 0, 0],
      dilation: [1, 1, 1],
      groups: 1,
    };
    const S2 = prod(convOut(ref));
    const x = randomArray(2 * 3 * 192, 20);
    const weight = randomArray(8 * 3 * 32, 21);
    const bias = randomArray(8, 22);
    const dy = randomArray(2 * 8 * S2, 23);
    for (const profile of [h.profile, { ...h.profile, subgroups: false }]) {
      const out = await h.run(
        [
          conv3d(p, profile),
          {
            kernel: conv3d(
              { ...p, tokens: true, name: "patch_tokens" },
              profile,
            ),
            buffers: { x: "x", weight: "weight", bias: "bias", y: "tokens" },
          },
          patchEmbeddingWeightGrad(p, profile),
        ],
        {
          x,
          weight,
          bias,
          dy,
          y: 2 * 8 * S2,
          tokens: 2 * 8 * S2,
          dweight: weight.length,
        },
        ["y", "tokens", "dweight"],
      );
      const y = convRef(ref, x, weight, bias);
      expect(relError(out.y, y)).toBeLessThan(1e-4);
      expect(relError(fromChannelsLast(out.tokens, 2, 8, S2), y)).toBeLessThan(
        1e-4,
      );
      expect(
        relError(out.dweight, convGradRef(ref, x, weight, dy).dw),
      ).toBeLessThan(1e-4);
    }
  });
});
