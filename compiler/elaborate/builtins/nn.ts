/** Neural-network built-ins: conv3d, matmul, attention, gather, randomness (dropout), buffer updates, losses. */
import type { Span } from "../../../diagnostics/span.ts";
import { type Dim, dimMul } from "../../ir/dims.ts";
import type { ValueId } from "../../ir/types.ts";
import { ElabError, type ElabContext } from "../context.ts";
import { located } from "../eval.ts";
import { tensor } from "../values.ts";
import { Args, type Builtin } from "./index.ts";
import { logSoftmax } from "./reductions.ts";

const origin = (span: Span) => ({ spans: [span] });

function triple(a: Args, name: string, fallback: number): [number, number, number] {
  const v = a.ints(name, [fallback]);
  if (v.length === 1) return [v[0]!, v[0]!, v[0]!];
  if (v.length === 3) return [v[0]!, v[1]!, v[2]!];
  throw new ElabError("IV2008", a.spanOf(name), { callee: a.fn, message: `\`${name}\` must be one integer or three`, help: "" });
}

/** Mean over all elements, also when some axes are symbolic (divides by a count computed on device). */
export function meanAll(ctx: ElabContext, x: ValueId, span: Span): ValueId {
  const o = origin(span);
  const shape = ctx.b.shapeOf(x);
  const axes = shape.map((_, i) => i);
  const total = ctx.b.reduce("sum", x, axes, false, o);
  if (shape.every((d) => typeof d === "number")) {
    const n = (shape as number[]).reduce((p, d) => p * d, 1);
    return ctx.b.binary("mul", total, ctx.b.constant(1 / n, [], "f32", o), o);
  }
  const count = ctx.b.reduce("sum", ctx.b.broadcast(ctx.b.constant(1, [], "f32", o), shape, o), axes, false, o);
  return ctx.b.binary("div", total, count, o);
}

function oneHot(ctx: ElabContext, label: ValueId, classes: number, span: Span): ValueId {
  const o = origin(span);
  const shape: Dim[] = [...ctx.b.shapeOf(label), classes];
  const ids = ctx.b.iota(shape, shape.length - 1, "i32", o);
  const lab = ctx.b.reshape(label, [...ctx.b.shapeOf(label), 1], o);
  return ctx.b.cast(ctx.b.compare("eq", ids, lab, o), "f32", o);
}

function bernoulliMask(ctx: ElabContext, shape: readonly Dim[], keep: number, span: Span): ValueId {
  return ctx.b.random("bernoulli", shape, { p: keep, stream: ctx.stream() }, origin(span));
}

/**
 * A convolution whose stride equals its kernel (patch and tubelet embeddings) is a matmul over
 * non-overlapping patches: [N*T'*H'*W', C*kt*kh*kw] x [C*kt*kh*kw, O]. Written that way, forward and
 * backward run on the matmul kernel instead of a direct convolution loop. A temporal kernel that
 * overlaps or pads (UniFormerV2's 3xPxP embedding: kernel 3, stride 2, padding 1) takes the same
 * path: its kt taps are strided slices of the padded clip, stacked once into [N, C, kt, T', H, W].
 */
function patchify(
  ctx: ElabContext,
  x: ValueId,
  w: ValueId,
  opts: { stride: [number, number, number]; padding: [number, number, number]; dilation: [number, number, number]; groups: number },
  span: Span,
): ValueId | undefined {
  const xs = ctx.b.shapeOf(x);
  const ws = ctx.b.shapeOf(w);
  if (xs.length !== 5 || ws.length !== 5 || opts.groups !== 1) return undefined;
  const k = ws.slice(2) as number[];
  const spatial = xs.slice(2);
  const exact = (i: number) => opts.stride[i] === k[i] && opts.padding[i] === 0 && opts.dilation[i] === 1 && typeof spatial[i] === "number" && (spatial[i] as number) % k[i]! === 0;
  if (!exact(1) || !exact(2) || ws[1] !== xs[1] || typeof spatial[0] !== "number" || opts.dilation[0] !== 1) return undefined;
  const o = origin(span);
  const [n, c] = xs as [Dim, number];
  const [kt, kh, kw] = k as [number, number, number];
  const [st, pt] = [opts.stride[0], opts.padding[0]];
  const time = spatial[0] as number;
  const t = Math.floor((time + 2 * pt - kt) / st) + 1;
  const [h, wd] = [(spatial[1] as number) / kh, (spatial[2] as number) / kw];
  if (t < 1) return undefined;
  const out = ws[0] as number;
  let patches: ValueId;
  if (exact(0)) {
    const split = ctx.b.reshape(x, [n, c, t, kt, h, kh, wd, kw], o);
    patches = ctx.b.permute(split, [0, 2, 4, 6, 1, 3, 5, 7], o);
  } else {
    const padded = pt > 0 ? ctx.b.pad(x, [0, 0, pt, 0, 0], [0, 0, pt, 0, 0], 0, o) : x;
    const rest = [spatial[1]!, spatial[2]!];
    const taps = [...Array(kt).keys()].map((tau) =>
      ctx.b.reshape(ctx.b.slice(padded, [0, 0, tau, 0, 0], [n, c, tau + st * (t - 1) + 1, ...rest], [1, 1, st, 1, 1], o), [n, c, 1, t, ...rest], o),
    );
    const stacked = kt === 1 ? taps[0]! : ctx.b.concat(taps, 2, o);
    const split = ctx.b.reshape(stacked, [n, c, kt, t, h, kh, wd, kw], o);
    patches = ctx.b.permute(split, [0, 3, 4, 6, 1, 2, 5, 7], o);
  }
  const rows = ctx.b.reshape(patches, [dimMul(dimMul(dimMul(n, t), h), wd), c * kt * kh * kw], o);
  const weight = ctx.b.permute(ctx.b.reshape(w, [out, c * kt * kh * kw], o), [1, 0], o);
  const y = ctx.b.reshape(ctx.b.matmul(rows, weight, o), [n, t, h, wd, out], o);
  return ctx.b.permute(y, [0, 4, 1, 2, 3], o);
}

export const NN: Record<string, Builtin> = {
  matmul: (raw, ctx, span) => {
    const a = new Args("matmul", raw, ctx, span, ["a", "b"]);
    const x = a.tensor("a");
    const y = a.tensor("b");
    return tensor(located(span, "matmul", () => ctx.b.matmul(x, y, origin(span))));
  },
  conv3d: (raw, ctx, span) => {
    const a = new Args("conv3d", raw, ctx, span, ["x", "weight", "stride", "padding", "dilation", "groups"]);
    const x = a.tensor("x");
    const w = a.tensor("weight");
    const opts = { stride: triple(a, "stride", 1), padding: triple(a, "padding", 0), dilation: triple(a, "dilation", 1), groups: a.int("groups", 1) };
    return tensor(located(span, "conv3d", () => patchify(ctx, x, w, opts, span) ?? ctx.b.conv3d(x, w, opts, origin(span))));
  },
  gather: (raw, ctx, span) => {
    const a = new Args("gather", raw, ctx, span, ["table", "index", "axis"]);
    const t = a.tensor("table");
    const idx = a.tensor("index");
    const axis = a.axis("axis", ctx.b.shapeOf(t).length, 0);
    return tensor(located(span, "gather", () => ctx.b.gather(t, idx, axis, origin(span))));
  },
  /** softmax(q k^T * scale) v over the last two axes as one op: the fused kernels never store the scores. */
  attention: (raw, ctx, span) => {
    const a = new Args("attention", raw, ctx, span, ["q", "k", "v", "scale", "causal"]);
    const [q, k, v] = [a.tensor("q"), a.tensor("k"), a.tensor("v")];
    const width = ctx.b.shapeOf(q).at(-1);
    if (a.get("scale") === undefined && typeof width !== "number")
      throw new ElabError("IV3008", span, { message: `the query width ${String(width)} is not a number, so the default scale width^-0.5 is unknown`, help: "pass `scale`" });
    const scale = a.get("scale") === undefined ? undefined : a.number("scale");
    const causal = a.bool("causal", false);
    return tensor(located(span, "attention", () => ctx.b.attention(q, k, v, { scale, causal }, origin(span))));
  },
  one_hot: (raw, ctx, span) => {
    const a = new Args("one_hot", raw, ctx, span, ["index", "classes"]);
    const idx = a.tensor("index");
    return tensor(located(span, "one_hot", () => oneHot(ctx, idx, a.int("classes"), span)));
  },
  dropout: (raw, ctx, span) => {
    const a = new Args("dropout", raw, ctx, span, ["x", "p"]);
    const x = a.tensor("x");
    const p = a.number("p");
    if (!ctx.training || p === 0) return tensor(x);
    const o = origin(span);
    const mask = bernoulliMask(ctx, ctx.b.shapeOf(x), 1 - p, span);
    return tensor(ctx.b.binary("mul", ctx.b.binary("mul", x, mask, o), ctx.b.constant(1 / (1 - p), [], "f32", o), o));
  },
  /** Stochastic depth: drops whole samples (axis 0) of a residual branch. */
  drop_path: (raw, ctx, span) => {
    const a = new Args("drop_path", raw, ctx, span, ["x", "p"]);
    const x = a.tensor("x");
    const p = a.number("p");
    if (!ctx.training || p === 0) return tensor(x);
    const o = origin(span);
    const shape = ctx.b.shapeOf(x);
    const mask = bernoulliMask(ctx, [shape[0]!, ...shape.slice(1).map(() => 1)], 1 - p, span);
    return tensor(ctx.b.binary("mul", ctx.b.binary("mul", x, mask, o), ctx.b.constant(1 / (1 - p), [], "f32", o), o));
  },
  rand_uniform: (raw, ctx, span) => {
    const a = new Args("rand_uniform", raw, ctx, span, ["shape"]);
    return tensor(ctx.b.random("uniform", a.dims("shape"), { stream: ctx.stream() }, origin(span)));
  },
  rand_normal: (raw, ctx, span) => {
    const a = new Args("rand_normal", raw, ctx, span, ["shape"]);
    return tensor(ctx.b.random("normal", a.dims("shape"), { stream: ctx.stream() }, origin(span)));
  },
  /** Writes a new value for a buffer (BatchNorm running stats); the runtime stores it after the step. */
  assign: (raw, ctx, span) => {
    const a = new Args("assign", raw, ctx, span, ["buffer", "value"]);
    const buf = a.tensor("buffer");
    const value = a.tensor("value");
    const node = ctx.b.node(buf);
    if (node.op.kind !== "param") {
      throw new ElabError("IV2008", a.spanOf("buffer"), { callee: "assign", message: "the first argument must be a `buffer` member", help: "" });
    }
    const path = node.op.path;
    located(span, "assign", () => ctx.b.reshape(value, ctx.b.shapeOf(buf), origin(span)));
    if (ctx.training) ctx.b.output(`state:${path}`, value);
    return tensor(value);
  },
  cross_entropy: (raw, ctx, span) => {
    const a = new Args("cross_entropy", raw, ctx, span, ["logits", "label", "smoothing"]);
    const logits = a.tensor("logits");
    const label = a.tensor("label");
    const s = a.number("smoothing", 0);
    return tensor(
      located(span, "cross_entropy", () => {
        const o = origin(span);
        const shape = ctx.b.shapeOf(logits);
        const k = shape[shape.length - 1]!;
        if (typeof k !== "number") throw new ElabError("IV3008", span, { message: "the class axis must be concrete", help: "" });
        const logp = logSoftmax(ctx, logits, shape.length - 1, span);
        let target = oneHot(ctx, label, k, span);
        if (s > 0) {
          target = ctx.b.binary("add", ctx.b.binary("mul", target, ctx.b.constant(1 - s, [], "f32", o), o), ctx.b.constant(s / k, [], "f32", o), o);
        }
        const perSample = ctx.b.unary("neg", ctx.b.reduce("sum", ctx.b.binary("mul", target, logp, o), [shape.length - 1], false, o), o);
        return meanAll(ctx, perSample, span);
      }),
    );
  },
  mse: (raw, ctx, span) => {
    const a = new Args("mse", raw, ctx, span, ["a", "b"]);
    const x = a.tensor("a");
    const y = a.operand("b", x);
    return tensor(
      located(span, "mse", () => {
        const d = ctx.b.binary("sub", x, y, origin(span));
        return meanAll(ctx, ctx.b.binary("mul", d, d, origin(span)), span);
      }),
    );
  },
  /** Mean over masked positions of the per-position mean squared error over the last axis. */
  masked_mse: (raw, ctx, span) => {
    const a = new Args("masked_mse", raw, ctx, span, ["pred", "target", "mask"]);
    const pred = a.tensor("pred");
    const target = a.tensor("target");
    const mask = a.tensor("mask");
    return tensor(
      located(span, "masked_mse", () => {
        const o = origin(span);
        const rank = ctx.b.shapeOf(pred).length;
        const d = ctx.b.binary("sub", pred, target, o);
        const perPos = ctx.b.reduce("sum", ctx.b.binary("mul", d, d, o), [rank - 1], false, o);
        const c = ctx.b.shapeOf(pred)[rank - 1] as number;
        const m = ctx.b.dtypeOf(mask) === "f32" ? mask : ctx.b.cast(mask, "f32", o);
        const all = ctx.b.shapeOf(perPos).map((_, i) => i);
        const num = ctx.b.reduce("sum", ctx.b.binary("mul", perPos, m, o), all, false, o);
        const den = ctx.b.binary("mul", ctx.b.reduce("sum", m, all, false, o), ctx.b.constant(c, [], "f32", o), o);
        return ctx.b.binary("div", num, den, o);
      }),
    );
  },
};
