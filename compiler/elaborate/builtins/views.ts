/** View built-ins: reshape, permute, rearrange, concat, split, pad, broadcast and friends. */
import type { Span } from "../../../diagnostics/span.ts";
import { type Dim, dimDiv, dimMul, numel } from "../../ir/dims.ts";
import type { ValueId } from "../../ir/types.ts";
import { ElabError, type ElabContext } from "../context.ts";
import { located } from "../eval.ts";
import { planRearrange } from "../rearrange.ts";
import { type Value, asDim, describe, int, tensor } from "../values.ts";
import { Args, type Builtin } from "./index.ts";

const origin = (span: Span) => ({ spans: [span] });

function tensorList(a: Args, name: string): ValueId[] {
  const v = a.get(name);
  if (v && (v.k === "list" || v.k === "tuple") && v.items.every((i) => i.k === "tensor")) {
    return v.items.map((i) => (i as { id: number }).id);
  }
  throw new ElabError("IV2008", a.spanOf(name), { callee: a.fn, message: `\`${name}\` must be a list of tensors, found ${v ? describe(v) : "nothing"}`, help: "" });
}

/** Resolves one `-1` in a target shape from the element count. */
function inferShape(shape: Dim[], from: readonly Dim[], a: Args): Dim[] {
  const holes = shape.filter((d) => d === -1).length;
  if (holes === 0) return shape;
  if (holes > 1) throw new ElabError("IV2008", a.spanOf("shape"), { callee: a.fn, message: "at most one size may be -1", help: "" });
  const known = shape.filter((d) => d !== -1).reduce<Dim>((acc, d) => dimMul(acc, d), 1);
  const rest = dimDiv(numel(from), known);
  if (rest === undefined) {
    throw new ElabError("IV3008", a.spanOf("shape"), { message: `cannot reshape [${from.join(", ")}] into [${shape.join(", ")}]`, help: "" });
  }
  return shape.map((d) => (d === -1 ? rest : d));
}

function normAxis(axis: number, rank: number): number {
  return axis < 0 ? rank + axis : axis;
}

function splitEqual(ctx: ElabContext, x: ValueId, parts: number, axis: number, a: Args): Value {
  const shape = ctx.b.shapeOf(x);
  const size = shape[axis]!;
  if (typeof size !== "number" || size % parts !== 0) {
    throw new ElabError("IV3008", a.span, { message: `axis ${axis} of size ${size} does not split into ${parts} equal parts`, help: "" });
  }
  const step = size / parts;
  const items: Value[] = [];
  for (let i = 0; i < parts; i++) {
    const starts = shape.map((_, j) => (j === axis ? i * step : 0));
    const ends = shape.map((d, j) => (j === axis ? (i + 1) * step : d));
    items.push(tensor(ctx.b.slice(x, starts, ends, undefined, origin(a.span))));
  }
  return { k: "tuple", items };
}

export const VIEWS: Record<string, Builtin> = {
  reshape: (raw, ctx, span) => {
    const a = new Args("reshape", raw, ctx, span, ["x", "shape"]);
    const x = a.tensor("x");
    const shape = inferShape(a.dims("shape"), ctx.b.shapeOf(x), a);
    return tensor(located(span, "reshape", () => ctx.b.reshape(x, shape, origin(span))));
  },
  permute: (raw, ctx, span) => {
    const a = new Args("permute", raw, ctx, span, ["x", "perm"]);
    const x = a.tensor("x");
    const perm = a.axes("perm", ctx.b.shapeOf(x).length);
    return tensor(located(span, "permute", () => ctx.b.permute(x, perm, origin(span))));
  },
  transpose: (raw, ctx, span) => {
    const a = new Args("transpose", raw, ctx, span, ["x", "a", "b"]);
    const x = a.tensor("x");
    const rank = ctx.b.shapeOf(x).length;
    const i = a.axis("a", rank, -2);
    const j = a.axis("b", rank, -1);
    const perm = Array.from({ length: rank }, (_, k) => (k === i ? j : k === j ? i : k));
    return tensor(located(span, "transpose", () => ctx.b.permute(x, perm, origin(span))));
  },
  rearrange: (raw, ctx, span) => {
    const x = raw.positional[0];
    const pattern = raw.positional[1];
    if (x?.k !== "tensor" || pattern?.k !== "string" || raw.positional.length !== 2) {
      throw new ElabError("IV2008", span, { callee: "rearrange", message: "expected rearrange(x, \"pattern\", name=size, ...)", help: "" });
    }
    const sizes: Record<string, number> = {};
    for (const [k, v] of raw.keyword) {
      if (v.k !== "int") throw new ElabError("IV2008", raw.keywordSpans.get(k)!, { callee: "rearrange", message: `axis size \`${k}\` must be an integer, found ${describe(v)}`, help: "" });
      sizes[k] = v.v;
    }
    const plan = planRearrange(pattern.v, ctx.b.shapeOf(x.id), sizes);
    if (typeof plan === "string") throw new ElabError("IV3008", raw.positionalSpans[1]!, { message: `rearrange: ${plan}`, help: "" });
    return tensor(
      located(span, "rearrange", () => {
        const o = origin(span);
        let y = ctx.b.reshape(x.id, plan.split, o);
        if (plan.perm.some((p, i) => p !== i)) y = ctx.b.permute(y, plan.perm, o);
        return ctx.b.reshape(y, plan.output, o);
      }),
    );
  },
  concat: (raw, ctx, span) => {
    const a = new Args("concat", raw, ctx, span, ["xs", "axis"]);
    const xs = tensorList(a, "xs");
    const axis = a.axis("axis", ctx.b.shapeOf(xs[0]!).length, 0);
    return tensor(located(span, "concat", () => ctx.b.concat(xs, axis, origin(span))));
  },
  stack: (raw, ctx, span) => {
    const a = new Args("stack", raw, ctx, span, ["xs", "axis"]);
    const xs = tensorList(a, "xs");
    const rank = ctx.b.shapeOf(xs[0]!).length + 1;
    const axis = a.axis("axis", rank, 0);
    return tensor(
      located(span, "stack", () => {
        const expanded = xs.map((x) => {
          const s = [...ctx.b.shapeOf(x)];
          s.splice(axis, 0, 1);
          return ctx.b.reshape(x, s, origin(span));
        });
        return ctx.b.concat(expanded, axis, origin(span));
      }),
    );
  },
  split: (raw, ctx, span) => {
    const a = new Args("split", raw, ctx, span, ["x", "parts", "axis"]);
    const x = a.tensor("x");
    const axis = a.axis("axis", ctx.b.shapeOf(x).length, -1);
    return splitEqual(ctx, x, a.int("parts"), axis, a);
  },
  pad: (raw, ctx, span) => {
    const a = new Args("pad", raw, ctx, span, ["x", "widths", "value"]);
    const x = a.tensor("x");
    const rank = ctx.b.shapeOf(x).length;
    const w = a.get("widths");
    const pairs = (w && (w.k === "list" || w.k === "tuple") ? w.items : []).map((p) =>
      (p.k === "list" || p.k === "tuple") && p.items.length === 2 ? p.items.map((q) => (q.k === "int" ? q.v : undefined)) : [],
    );
    if (pairs.length !== rank || !pairs.every((p) => p.length === 2 && p.every((q) => q !== undefined))) {
      throw new ElabError("IV2008", a.spanOf("widths"), { callee: "pad", message: `widths must be ${rank} pairs [before, after] of integers`, help: "e.g. pad(x, [[0, 0], [1, 1]])" });
    }
    const before = pairs.map((p) => p[0]!);
    const after = pairs.map((p) => p[1]!);
    return tensor(located(span, "pad", () => ctx.b.pad(x, before, after, a.number("value", 0), origin(span))));
  },
  broadcast: (raw, ctx, span) => {
    const a = new Args("broadcast", raw, ctx, span, ["x", "shape"]);
    const x = a.operand("x");
    return tensor(located(span, "broadcast", () => ctx.b.broadcast(x, a.dims("shape"), origin(span))));
  },
  unsqueeze: (raw, ctx, span) => {
    const a = new Args("unsqueeze", raw, ctx, span, ["x", "axis"]);
    const x = a.tensor("x");
    const shape = [...ctx.b.shapeOf(x)];
    const axis = normAxis(a.int("axis"), shape.length + 1);
    shape.splice(axis, 0, 1);
    return tensor(located(span, "unsqueeze", () => ctx.b.reshape(x, shape, origin(span))));
  },
  squeeze: (raw, ctx, span) => {
    const a = new Args("squeeze", raw, ctx, span, ["x", "axis"]);
    const x = a.tensor("x");
    const shape = ctx.b.shapeOf(x);
    const axis = a.axis("axis", shape.length);
    if (shape[axis] !== 1) throw new ElabError("IV3008", a.spanOf("axis"), { message: `axis ${axis} has size ${shape[axis]}, not 1`, help: "" });
    return tensor(located(span, "squeeze", () => ctx.b.reshape(x, shape.filter((_, i) => i !== axis), origin(span))));
  },
  flatten: (raw, ctx, span) => {
    const a = new Args("flatten", raw, ctx, span, ["x", "start", "end"]);
    const x = a.tensor("x");
    const shape = ctx.b.shapeOf(x);
    const start = normAxis(a.int("start", 0), shape.length);
    const end = normAxis(a.int("end", -1), shape.length);
    const merged = shape.slice(start, end + 1).reduce<Dim>((acc, d) => dimMul(acc, d), 1);
    return tensor(located(span, "flatten", () => ctx.b.reshape(x, [...shape.slice(0, start), merged, ...shape.slice(end + 1)], origin(span))));
  },
  dim: (raw, ctx, span) => {
    const a = new Args("dim", raw, ctx, span, ["x", "axis"]);
    const x = a.tensor("x");
    const shape = ctx.b.shapeOf(x);
    const d = shape[a.axis("axis", shape.length)]!;
    return typeof d === "number" ? int(d) : { k: "dim", v: d };
  },
  zeros: (raw, ctx, span) => {
    const a = new Args("zeros", raw, ctx, span, ["shape"]);
    return tensor(ctx.b.broadcast(ctx.b.constant(0, [], "f32", origin(span)), a.dims("shape"), origin(span)));
  },
  ones: (raw, ctx, span) => {
    const a = new Args("ones", raw, ctx, span, ["shape"]);
    return tensor(ctx.b.broadcast(ctx.b.constant(1, [], "f32", origin(span)), a.dims("shape"), origin(span)));
  },
  iota: (raw, ctx, span) => {
    const a = new Args("iota", raw, ctx, span, ["n"]);
    const n = asDim(a.get("n") ?? { k: "none" });
    if (n === undefined) throw new ElabError("IV2008", a.spanOf("n"), { callee: "iota", message: "`n` must be a size", help: "" });
    return tensor(ctx.b.iota([n], 0, "i32", origin(span)));
  },
};
