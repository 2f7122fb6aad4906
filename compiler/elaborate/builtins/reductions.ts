/** Reductions and the softmax family, written with IR `reduce` and elementwise ops. */
import type { Span } from "../../../diagnostics/span.ts";
import type { Dim } from "../../ir/dims.ts";
import type { ValueId } from "../../ir/types.ts";
import { ElabError, type ElabContext } from "../context.ts";
import { located } from "../eval.ts";
import { tensor } from "../values.ts";
import { Args, type Builtin } from "./index.ts";

const origin = (span: Span) => ({ spans: [span] });

function count(shape: readonly Dim[], axes: readonly number[]): number | undefined {
  let n = 1;
  for (const a of axes) {
    const d = shape[a]!;
    if (typeof d !== "number") return undefined;
    n *= d;
  }
  return n;
}

function reduceArgs(name: string, a: Args): { x: ValueId; axes: number[]; keepdims: boolean } {
  const x = a.tensor("x");
  const rank = a.ctx.b.shapeOf(x).length;
  const axes = a.get("axis") === undefined ? Array.from({ length: rank }, (_, i) => i) : a.axes("axis", rank);
  return { x, axes, keepdims: a.bool("keepdims", false) };
}

export function meanOf(ctx: ElabContext, x: ValueId, axes: number[], keepdims: boolean, span: Span): ValueId {
  const o = origin(span);
  const shape = ctx.b.shapeOf(x);
  const n = count(shape, axes);
  const s = ctx.b.reduce("sum", x, axes, keepdims, o);
  if (n !== undefined) return ctx.b.binary("mul", s, ctx.b.constant(1 / n, [], "f32", o), o);
  // A symbolic axis (the batch): divide by a count reduced on the device; simplify folds it once B is bound.
  const ones = ctx.b.broadcast(ctx.b.constant(1, [], "f32", o), shape, o);
  return ctx.b.binary("div", s, ctx.b.reduce("sum", ones, axes, keepdims, o), o);
}

/** Population variance by default (`correction=0`), as LayerNorm and BatchNorm use. */
function variance(ctx: ElabContext, x: ValueId, axes: number[], keepdims: boolean, correction: number, span: Span): ValueId {
  const o = origin(span);
  const mu = meanOf(ctx, x, axes, true, span);
  const d = ctx.b.binary("sub", x, mu, o);
  const sq = ctx.b.binary("mul", d, d, o);
  if (correction === 0) return meanOf(ctx, sq, axes, keepdims, span);
  const n = count(ctx.b.shapeOf(x), axes);
  if (n === undefined) throw new ElabError("IV3008", span, { message: "`correction` needs concrete reduced axes", help: "use correction=0 over a symbolic axis" });
  const s = ctx.b.reduce("sum", sq, axes, keepdims, o);
  return ctx.b.binary("mul", s, ctx.b.constant(1 / Math.max(1, n - correction), [], "f32", o), o);
}

/** Numerically stable softmax: exp(x - max) / sum(exp(x - max)); the max is not differentiated through. */
export function softmax(ctx: ElabContext, x: ValueId, axis: number, span: Span): ValueId {
  const o = origin(span);
  const m = ctx.b.reduce("max", x, [axis], true, o);
  const e = ctx.b.unary("exp", ctx.b.binary("sub", x, m, o), o);
  const s = ctx.b.reduce("sum", e, [axis], true, o);
  return ctx.b.binary("div", e, s, o);
}

export function logSoftmax(ctx: ElabContext, x: ValueId, axis: number, span: Span): ValueId {
  const o = origin(span);
  const m = ctx.b.reduce("max", x, [axis], true, o);
  const shifted = ctx.b.binary("sub", x, m, o);
  const lse = ctx.b.unary("log", ctx.b.reduce("sum", ctx.b.unary("exp", shifted, o), [axis], true, o), o);
  return ctx.b.binary("sub", shifted, lse, o);
}

function simple(name: string, f: (a: Args, r: ReturnType<typeof reduceArgs>) => ValueId): Builtin {
  return (raw, ctx, span) => {
    const a = new Args(name, raw, ctx, span, ["x", "axis", "keepdims", "correction"]);
    const r = reduceArgs(name, a);
    return tensor(located(span, name, () => f(a, r)));
  };
}

export const REDUCTIONS: Record<string, Builtin> = {
  sum: simple("sum", (a, r) => a.ctx.b.reduce("sum", r.x, r.axes, r.keepdims, origin(a.span))),
  amax: simple("amax", (a, r) => a.ctx.b.reduce("max", r.x, r.axes, r.keepdims, origin(a.span))),
  mean: simple("mean", (a, r) => meanOf(a.ctx, r.x, r.axes, r.keepdims, a.span)),
  var: simple("var", (a, r) => variance(a.ctx, r.x, r.axes, r.keepdims, a.number("correction", 0), a.span)),
  softmax: (raw, ctx, span) => {
    const a = new Args("softmax", raw, ctx, span, ["x", "axis"]);
    const x = a.tensor("x");
    const axis = a.axis("axis", ctx.b.shapeOf(x).length, -1);
    return tensor(located(span, "softmax", () => softmax(ctx, x, axis, span)));
  },
  log_softmax: (raw, ctx, span) => {
    const a = new Args("log_softmax", raw, ctx, span, ["x", "axis"]);
    const x = a.tensor("x");
    const axis = a.axis("axis", ctx.b.shapeOf(x).length, -1);
    return tensor(located(span, "log_softmax", () => logSoftmax(ctx, x, axis, span)));
  },
  logsumexp: (raw, ctx, span) => {
    const a = new Args("logsumexp", raw, ctx, span, ["x", "axis", "keepdims"]);
    const x = a.tensor("x");
    const axis = a.axis("axis", ctx.b.shapeOf(x).length, -1);
    const keep = a.bool("keepdims", false);
    return tensor(
      located(span, "logsumexp", () => {
        const o = origin(span);
        const m = ctx.b.reduce("max", x, [axis], true, o);
        const s = ctx.b.reduce("sum", ctx.b.unary("exp", ctx.b.binary("sub", x, m, o), o), [axis], true, o);
        const r = ctx.b.binary("add", ctx.b.unary("log", s, o), m, o);
        if (keep) return r;
        return ctx.b.reshape(r, ctx.b.shapeOf(x).filter((_, i) => i !== axis), o);
      }),
    );
  },
};
