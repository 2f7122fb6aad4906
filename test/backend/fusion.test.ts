/**
 * The merged kernels of compiler/schedule/group.ts on Dawn against the reference interpreter, forward
 * and backward, on odd sizes: matmul epilogues (identity stores, head splits and transposes through
 * index maps), row kernels (several passes, non-trailing axes, row statistics, sibling reductions)
 * and multi-output pointwise kernels. Each test also checks that the fusion it exercises happened.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { GraphBuilder } from "../../compiler/ir/builder.ts";
import type { Graph, ValueId } from "../../compiler/ir/types.ts";
import type { FusionOptions } from "../../compiler/schedule/plan.ts";
import type { GpuContext } from "../../runtime/gpu.ts";
import { checkOnGpu, openGpu, param, withGrads } from "./gpu-helpers.ts";

let gpu: GpuContext;
beforeAll(async () => {
  gpu = await openGpu();
});
afterAll(() => gpu?.destroy());

/** Kernel kinds in dispatch order and what each writes. */
async function run(graph: Graph, tolerance = 1e-4, fusion: FusionOptions = {}) {
  const r = await checkOnGpu(gpu, graph, tolerance, {}, fusion);
  return r.program.steps.map((s) => ({ kind: /^k\d+_([a-z0-9]+)/.exec(s.kernel.name)![1]!, writes: s.writes.length, wgsl: s.kernel.wgsl }));
}

function gelu(b: GraphBuilder, h: ValueId): ValueId {
  const e = b.binary("add", b.unary("erf", b.binary("mul", h, b.constant(Math.SQRT1_2, []))), b.constant(1, []));
  return b.binary("mul", b.binary("mul", h, b.constant(0.5, [])), e);
}

function layerNorm(b: GraphBuilder, x: ValueId, axis: number, width: number): ValueId {
  const mean = (v: ValueId) => b.binary("mul", b.reduce("sum", v, [axis], true), b.constant(1 / width, []));
  const c = b.binary("sub", x, mean(x));
  return b.binary("mul", c, b.unary("rsqrt", b.binary("add", mean(b.binary("mul", c, c)), b.constant(1e-5, []))));
}

describe("fused kernel groups against the reference interpreter (forward and backward)", () => {
  it("pointwise kernels take 4 elements per item (vec4) where the innermost axis allows, on lavapipe", async () => {
    // A forward-only graph, so each output is its own pointwise group: row statistics and a scalar
    // splatted, a bias and a permuted operand read as vec4s, compare/where/cast, a bool output, a
    // reshape, a size-1 value computed as a scalar, a slice at an aligned offset; then groups that
    // must stay scalar (an innermost size of 6, a slice starting at element 2).
    const b = new GraphBuilder();
    const x = param(b, "x", [3, 5, 8]);
    const bias = param(b, "bias", [8]);
    const stat = param(b, "stat", [3, 5, 1]);
    const y = param(b, "y", [5, 3, 8]);
    const rowScale = b.unary("rsqrt", b.binary("add", b.unary("abs", stat), b.constant(0.5, [])));
    const h = b.binary("add", b.binary("mul", b.binary("add", x, bias), rowScale), b.permute(y, [1, 0, 2]));
    const positive = b.compare("gt", h, b.constant(0, []));
    b.output("gated", b.reshape(b.where(positive, b.unary("sigmoid", h), b.binary("pow", b.unary("abs", h), b.constant(1.5, []))), [15, 8]));
    b.output("mask", positive);
    b.output("count", b.cast(positive, "f32"));
    b.output("odd", b.binary("mul", param(b, "z", [4, 6]), b.constant(2, [])));
    b.output("aligned", b.unary("exp", b.slice(x, [0, 0, 4], [3, 5, 8])));
    b.output("unaligned", b.unary("exp", b.slice(y, [0, 0, 2], [5, 3, 6])));
    const r = await checkOnGpu(gpu, b.build(), 1e-5);
    const wgsl = r.program.steps.map((s) => s.kernel.wgsl);
    if (process.env.SHOW) console.log(wgsl.join("\n----\n"));
    expect(wgsl.filter((w) => w.includes("4 elements per item (vec4)"))).toHaveLength(3);
    expect(wgsl.filter((w) => /pointwise over \[[^\]]*\]\n/.test(w))).toHaveLength(2);
  });

  it("matmul epilogue: bias, erf GELU and a residual add, with a broadcast weight", async () => {
    const kernels = await run(
      withGrads((b) => {
        const x = param(b, "x", [2, 7, 13]);
        const w = param(b, "w", [5, 13]);
        const h = b.binary("add", b.matmul(x, b.permute(w, [1, 0])), param(b, "bias", [5]));
        return b.binary("add", gelu(b, h), param(b, "res", [2, 7, 5]));
      }),
    );
    // The forward is one matmul whose epilogue stores y and what the backward reads; the input
    // gradient (all of whose inputs exist by then) joins that epilogue too. Only the incoming
    // gradient dy = probe is a pointwise kernel. The loss and the bias gradient, which no other kernel
    // reads, share one dispatch.
    expect(kernels.map((k) => k.kind)).toEqual(["pointwise", "matmul", "rows", "matmul", "matmul"]);
    expect(kernels[2]!.wgsl).toMatch(/2 independent row kernels/);
    expect(kernels[1]!.writes).toBeGreaterThanOrEqual(2);
    expect(kernels[1]!.wgsl).toContain("fn ivc_store");
  });

  it("epilogue stores through index maps: a QKV projection's heads, a transposed weight gradient", async () => {
    const [B, N, H, D] = [2, 5, 2, 3];
    const kernels = await run(
      withGrads((b) => {
        const x = param(b, "x", [B, N, 7]);
        const w = param(b, "w", [3 * H * D, 7]);
        const qkv = b.binary("add", b.matmul(x, b.permute(w, [1, 0])), param(b, "bias", [3 * H * D]));
        const head = (k: number) => b.permute(b.reshape(b.slice(qkv, [0, 0, k * H * D], [B, N, (k + 1) * H * D], [1, 1, 1]), [B, N, H, D]), [0, 2, 1, 3]);
        const q = b.binary("mul", head(0), b.constant(0.5, []));
        const scores = b.matmul(q, b.permute(head(1), [0, 1, 3, 2]));
        return b.reshape(b.permute(b.matmul(scores, head(2)), [0, 2, 1, 3]), [B, N, H * D]);
      }),
    );
    // The projection's epilogue stores q (scaled), k transposed and v, each at its head-split index
    // (the matmul generator reads [batch, head] operands with one batch stride, so they are copies);
    // the weight gradient is stored transposed by its matmul.
    const matmuls = kernels.filter((k) => k.kind === "matmul");
    expect(matmuls[0]).toMatchObject({ writes: 3 });
    expect(matmuls[0]!.wgsl).toMatch(/rem = rem % 18u/);
    expect(matmuls.at(-1)!.wgsl).toMatch(/fn ivc_store[\s\S]*rem = rem % /);
    // Left as copies: the head merge of the output (a reshape that splits an index) and the
    // concatenation of the q, k and v gradients (pads).
    expect(kernels.filter((k) => k.kind === "pointwise")).toHaveLength(3);
  });

  it("row kernels: LayerNorm of a residual sum with affine, forward and backward", async () => {
    const kernels = await run(
      withGrads((b) => {
        const h = b.binary("add", param(b, "x", [6, 11]), param(b, "r", [6, 11]));
        return b.binary("add", b.binary("mul", layerNorm(b, h, 1, 11), param(b, "g", [11])), param(b, "beta", [11]));
      }),
      1e-3,
    );
    // One row kernel for the forward statistics, the output and dx (the loss gradient needs only the
    // row's own output, and 16 storage buffers let them share a kernel); then the loss beside the
    // dGamma/dBeta column sums (sibling reductions over the same rows): results no kernel reads, in
    // one dispatch of two independent row kernels.
    expect(kernels.map((k) => k.kind)).toEqual(["reduce", "rows"]);
    expect(kernels[0]!.wgsl).toMatch(/4 reductions over axes \[1\] of \[6, 11\], 4 outputs; one lane per row, 4 passes/);
    expect(kernels[1]!.wgsl).toMatch(/2 independent row kernels: sum over axes \[0, 1\] of \[6, 11\] \| 2 reductions over axes \[0\] of \[6, 11\]/);
  });

  for (const [rows, K, N] of [
    [7, 11, 70],
    [2 * 9, 16, 24],
  ] as const) {
    it(`row prologue: LayerNorm computed inside the matmul that reads it ([${rows}, ${K}] x [${K}, ${N}]), forward and backward`, async () => {
      const kernels = await run(
        withGrads((b) => {
          const x = param(b, "x", rows === 7 ? [rows, K] : [2, 9, K]);
          const normed = b.binary("add", b.binary("mul", layerNorm(b, x, rows === 7 ? 1 : 2, K), param(b, "g", [K])), param(b, "beta", [K]));
          return b.binary("add", b.matmul(normed, b.permute(param(b, "w", [N, K]), [1, 0])), param(b, "bias", [N]));
        }),
        1e-3,
        { rowPrologue: "always" },
      );
      // The LayerNorm row kernel (its forward, and dx, which needs only the row and dy = probe W)
      // runs inside the projection, whose lanes normalise their own rows; the first column tile
      // stores dx. No row kernel is left: dy W, the projection, dW, then the column sums.
      expect(kernels.map((k) => k.kind)).toEqual(["pointwise", "matmul", "matmul", "matmul", "rows"]);
      expect(kernels[2]!.wgsl).toMatch(/each lane computes its row of A \(row-kernel prologue\)/);
      expect(kernels[2]!.wgsl).toMatch(/a_priv\[j \/ 4u\]\[j % 4u\] = pv/);
      expect(kernels[2]!.wgsl).toMatch(/if \(side\) \{/);
    });
  }

  it("row kernels over a middle axis: softmax along axis 1 and a max with a row-shaped result", async () => {
    const kernels = await run(
      withGrads((b) => {
        const x = param(b, "x", [3, 9, 4]);
        const m = b.reduce("max", x, [1], true);
        const e = b.unary("exp", b.binary("sub", x, m));
        const p = b.binary("div", e, b.reduce("sum", e, [1], true));
        return b.binary("add", p, b.binary("mul", m, b.constant(0.25, [])));
      }),
      1e-3,
    );
    expect(kernels[0]).toMatchObject({ kind: "reduce" });
    expect(kernels[0]!.wgsl).toMatch(/reductions over axes \[1\] of \[3, 9, 4\]/);
  });

  it("a row kernel stores a reshape of its rows (batch and tokens merged) at the same offsets", async () => {
    const kernels = await run(
      withGrads((b) => {
        const x = param(b, "x", [2, 3, 10]);
        return b.reshape(b.binary("mul", layerNorm(b, x, 2, 10), param(b, "g", [10])), [6, 10]);
      }),
      1e-3,
    );
    expect(kernels[0]).toMatchObject({ kind: "reduce" });
    expect(kernels.filter((k) => k.kind === "pointwise")).toEqual([]);
  });

  it("a reshape that splits the rows (heads) cannot read the row statistics in registers", async () => {
    const b = new GraphBuilder();
    const x = param(b, "x", [2, 3, 10]);
    const y = layerNorm(b, x, 2, 10);
    b.output("heads", b.reshape(b.binary("mul", y, param(b, "g", [10])), [2, 3, 2, 5]));
    b.output("y", y);
    const kernels = await run(b.build(), 1e-3);
    expect(kernels.map((k) => k.kind)).toEqual(["reduce", "pointwise"]);
  });

  it("sibling pointwise values over one shape share a kernel", async () => {
    const b = new GraphBuilder();
    const x = param(b, "x", [3, 17]);
    const y = param(b, "y", [17]);
    b.output("a", b.binary("add", b.unary("exp", x), y));
    b.output("c", b.binary("mul", b.unary("sin", x), y));
    b.output("d", b.unary("tanh", b.binary("sub", x, y)));
    const kernels = await run(b.build());
    expect(kernels).toEqual([expect.objectContaining({ kind: "pointwise", writes: 3 })]);
  });
});
