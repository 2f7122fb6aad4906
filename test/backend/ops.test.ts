import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { GraphBuilder } from "../../compiler/ir/builder.ts";
import type { Graph } from "../../compiler/ir/types.ts";
import type { GpuContext } from "../../runtime/gpu.ts";
import { checkOnGpu, openGpu, param, withGrads } from "./gpu-helpers.ts";

let gpu: GpuContext;
beforeAll(async () => {
  gpu = await openGpu();
});
afterAll(() => gpu?.destroy());

const check = (graph: Graph, tolerance?: number, dims?: Record<string, number>) => checkOnGpu(gpu, graph, tolerance, dims);

const SHAPES: [number, number, number][] = [
  [1, 1, 1],
  [7, 13, 5],
  [3, 33, 17],
];

describe("back end against the reference interpreter (forward and backward)", () => {
  for (const [m, k, n] of SHAPES) {
    it(`matmul ${m}x${k}x${n} with broadcast batch and transposed operand`, async () => {
      await check(
        withGrads((b) => {
          const a = param(b, "a", [2, m, k]);
          const w = param(b, "w", [n, k]);
          return b.matmul(a, b.permute(w, [1, 0]));
        }),
      );
    });
  }

  it("pointwise chains with broadcasting, every unary op, compare/where/cast", async () => {
    await check(
      withGrads((b) => {
        const x = param(b, "x", [3, 5, 7]);
        const y = param(b, "y", [5, 1]);
        let h = b.binary("add", x, y);
        for (const op of ["tanh", "sigmoid", "erf", "sin", "cos", "neg", "abs"] as const) h = b.binary("add", h, b.unary(op, h));
        const pos = b.compare("gt", h, b.constant(0, []));
        const e = b.unary("exp", b.binary("mul", h, b.constant(0.1, [])));
        const sq = b.unary("sqrt", b.binary("add", b.binary("mul", h, h), b.constant(1, [])));
        return b.binary("div", b.where(pos, e, sq), b.binary("max", sq, b.cast(pos, "f32")));
      }),
    );
  });

  it("reductions (sum, max) over inner, outer and several axes, keepdims", async () => {
    await check(
      withGrads((b) => {
        const x = param(b, "x", [4, 9, 6]);
        const s = b.reduce("sum", x, [1], true);
        const m = b.reduce("max", x, [0, 2], true);
        return b.binary("add", b.binary("mul", x, s), m);
      }),
    );
  });

  it("views: reshape, permute, strided slice, pad, concat, broadcast", async () => {
    await check(
      withGrads((b) => {
        const x = param(b, "x", [2, 6, 10]);
        const p = b.permute(b.reshape(x, [2, 3, 2, 10]), [3, 0, 2, 1]);
        const s = b.slice(p, [1, 0, 0, 0], [10, 2, 2, 3], [2, 1, 1, 2]);
        const padded = b.pad(s, [0, 1, 0, 0], [1, 0, 2, 0], 0.5);
        const c = b.concat([padded, padded], 2);
        return b.binary("mul", c, b.broadcast(b.constant(2, []), b.shapeOf(c)));
      }),
    );
  });

  it("softmax and layer norm as written by the stdlib", async () => {
    await check(
      withGrads((b) => {
        const x = param(b, "x", [5, 24]);
        const m = b.reduce("max", x, [1], true);
        const e = b.unary("exp", b.binary("sub", x, m));
        const sm = b.binary("div", e, b.reduce("sum", e, [1], true));
        const mu = b.binary("mul", b.reduce("sum", sm, [1], true), b.constant(1 / 24, []));
        const c = b.binary("sub", sm, mu);
        const v = b.binary("mul", b.reduce("sum", b.binary("mul", c, c), [1], true), b.constant(1 / 24, []));
        return b.binary("mul", c, b.unary("rsqrt", b.binary("add", v, b.constant(1e-5, []))));
      }),
      1e-3,
    );
  });

  for (const cfg of [
    { name: "patch embedding 1x4x4 stride 4", x: [2, 3, 2, 8, 8], w: [6, 3, 1, 4, 4], stride: [1, 4, 4], padding: [0, 0, 0], groups: 1 },
    { name: "depthwise temporal 3x1x1 padded", x: [1, 4, 5, 3, 3], w: [4, 1, 3, 1, 1], stride: [1, 1, 1], padding: [1, 0, 0], groups: 4 },
    { name: "depthwise 3x3x3 (DPE)", x: [1, 3, 3, 5, 4], w: [3, 1, 3, 3, 3], stride: [1, 1, 1], padding: [1, 1, 1], groups: 3 },
    { name: "grouped strided 3x3x3", x: [1, 4, 4, 6, 6], w: [6, 2, 3, 3, 3], stride: [2, 2, 1], padding: [1, 0, 1], groups: 2 },
  ]) {
    it(`conv3d ${cfg.name}`, async () => {
      await check(
        withGrads((b) => {
          const x = param(b, "x", cfg.x);
          const w = param(b, "w", cfg.w);
          return b.conv3d(x, w, { stride: cfg.stride as [number, number, number], padding: cfg.padding as [number, number, number], groups: cfg.groups });
        }),
        1e-3,
      );
    });
  }

  it("gather and its adjoint scatter_add", async () => {
    const graph = withGrads((b) => {
      const table = param(b, "table", [3, 7, 4]);
      const idx = b.constant([6, 0, 2, 2, 5], [5], "i32");
      return b.gather(table, idx, 1);
    });
    await check(graph);
  });

  for (const [name, values] of [
    ["reversed", [6, 5, 4, 3, 2, 1, 0]],
    ["strided", [1, 3, 5]],
  ] as const) {
    it(`gather through a ${name} constant index is arithmetic (no index buffer bound)`, async () => {
      const graph = withGrads((b) => {
        const table = param(b, "table", [3, 7, 4]);
        const idx = b.constant([...values], [values.length], "i32");
        return b.binary("mul", b.gather(table, idx, 1), b.constant(2, []));
      });
      const r = await check(graph);
      // The forward kernel reads the table at positions computed from the output index alone.
      const forward = r.program.steps[0]!.kernel.wgsl;
      expect(forward).toMatch(/pointwise over \[3, \d, 4\]/);
      expect(forward).not.toMatch(/array<i32>/);
    });
  }

  /** The attention steps of a program, by op (kernel names carry the plan kind). */
  const attentionKernels = (r: { program: { steps: readonly { kernel: { name: string } }[] } }) =>
    r.program.steps.map((s) => /^k\d+_(attention(?:_stats|_grad_q|_grad_kv)?)(?:_|$)/.exec(s.kernel.name)?.[1]).filter(Boolean);

  for (const cfg of [
    { name: "cross-attention (M != N), Dv != D, two heads", q: [2, 3, 7, 8], k: [2, 3, 11, 8], v: [2, 3, 11, 12], causal: false },
    { name: "causal, M > N, odd widths, three leading axes", q: [2, 2, 1, 9, 5], k: [2, 2, 1, 5, 5], v: [2, 2, 1, 5, 3], causal: true },
    { name: "causal self-attention, one head", q: [13, 4], k: [13, 4], v: [13, 4], causal: true },
    { name: "a long query axis, 4 rows per lane on lavapipe (260 = 8 workgroups of 32 + 4)", q: [2, 260, 8], k: [2, 9, 8], v: [2, 9, 4], causal: false },
  ]) {
    it(`attention ${cfg.name}: one forward kernel, stats + dq + dkdv backward`, async () => {
      const r = await check(
        withGrads((b) => b.attention(param(b, "q", cfg.q), param(b, "k", cfg.k), param(b, "v", cfg.v), { scale: 0.6, causal: cfg.causal })),
      );
      expect(attentionKernels(r)).toEqual(["attention", "attention_stats", "attention_grad_q", "attention_grad_kv"]);
      if (gpu.info.isSoftware && gpu.info.subgroupMinSize === 8) {
        const forward = r.program.steps.find((s) => /_attention_/.test(s.kernel.name))!.kernel.wgsl;
        expect(forward).toContain(`${cfg.q.at(-2)! >= 256 ? 4 : 2} row(s) per lane`);
      }
    });
  }

  it("attention reads q, k and v in place from one fused projection (Attend's layout), stored once", async () => {
    const r = await check(
      withGrads((b) => {
        // qkv + bias [B, N, 3 * H * D] split and laid out per head, as stdlib Attend does.
        const qkv = b.binary("add", param(b, "qkv", [2, 6, 3 * 2 * 4]), param(b, "bias", [3 * 2 * 4]));
        const heads = (i: number) => b.permute(b.reshape(b.slice(qkv, [0, 0, i * 8], [2, 6, (i + 1) * 8]), [2, 6, 2, 4]), [0, 2, 1, 3]);
        return b.attention(heads(0), heads(1), heads(2));
      }),
    );
    const kinds = r.program.steps.map((s) => s.kernel.name.split("_")[1]);
    expect(kinds.slice(0, 2)).toEqual(["pointwise", "attention"]);
  });

  it("attention merged back to [B, N, H * D] for a projection: computed heads-last, no copy kernel", async () => {
    const [B, N, H, D, C] = [2, 5, 3, 4, 7];
    const r = await check(
      withGrads((b) => {
        const qkv = b.binary("add", param(b, "qkv", [B, N, 3 * H * D]), param(b, "bias", [3 * H * D]));
        const heads = (i: number) => b.permute(b.reshape(b.slice(qkv, [0, 0, i * H * D], [B, N, (i + 1) * H * D]), [B, N, H, D]), [0, 2, 1, 3]);
        const merged = b.reshape(b.permute(b.attention(heads(0), heads(1), heads(2), { causal: true }), [0, 2, 1, 3]), [B, N, H * D]);
        return b.matmul(merged, b.permute(param(b, "w_out", [C, H * D]), [1, 0]));
      }),
      1e-3,
    );
    const kinds = r.program.steps.map((s) => /^k\d+_(attention(?:_stats|_grad_q|_grad_kv)?|[a-z]+)/.exec(s.kernel.name)![1]);
    // qkv + bias, attention, the projection: the merge is a reshape of the heads-last result. In
    // the backward, dq and [dk | dv] are written straight into the qkv gradient (no copy kernel after
    // them); the bias gradient and the loss share the last dispatch.
    expect(kinds.slice(0, 3)).toEqual(["pointwise", "attention", "matmul"]);
    expect(kinds.slice(-4)).toEqual(["attention_stats", "attention_grad_q", "attention_grad_kv", "rows"]);
    const gradQ = r.program.steps.find((s) => s.kernel.name.includes("attention_grad_q"))!;
    expect(gradQ.writes).toEqual(r.program.steps.find((s) => s.kernel.name.includes("attention_grad_kv"))!.writes);
  });

  it("the attention backward companions as forward ops (their own gradients through the expansion)", async () => {
    const attrs = { scale: 0.5, causal: true };
    const [q, k, v, o] = [[2, 5, 4], [2, 7, 4], [2, 7, 3], [2, 5, 3]];
    await check(withGrads((b) => b.attentionBackward("attention_stats", [param(b, "q", q), param(b, "k", k), param(b, "o", o), param(b, "dO", o)], attrs)));
    for (const kind of ["attention_grad_q", "attention_grad_kv"] as const) {
      const r = await check(
        withGrads((b) => {
          const ins = [param(b, "q", q), param(b, "k", k), param(b, "v", v), param(b, "dO", o), param(b, "stats", [2, 5, 2])];
          return b.attentionBackward(kind, ins, attrs);
        }),
        1e-3,
      );
      expect(attentionKernels(r)[0]).toBe(kind);
    }
  });

  it("a symbolic batch bound at compile time", async () => {
    const b = new GraphBuilder();
    const x = b.input("x", ["B", 6]);
    const w = param(b, "w", [6, 3]);
    b.output("y", b.unary("tanh", b.matmul(x, w)));
    await check(b.build(), 1e-4, { B: 5 });
  });
});
