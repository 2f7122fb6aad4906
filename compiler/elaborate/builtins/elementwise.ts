/** Elementwise built-ins; on compile-time numbers they compute the value directly. */
import type { Span } from "../../../diagnostics/span.ts";
import type { UnaryOp, ValueId } from "../../ir/types.ts";
import { ElabError, type ElabContext } from "../context.ts";
import { located } from "../eval.ts";
import { type Value, asNumber, bool, describe, float, int, tensor } from "../values.ts";
import { Args, type Builtin, type CallArgs } from "./index.ts";

const origin = (span: Span) => ({ spans: [span] });

const CONST_UNARY: Partial<Record<string, (x: number) => number>> = {
  exp: Math.exp,
  log: Math.log,
  sqrt: Math.sqrt,
  tanh: Math.tanh,
  sin: Math.sin,
  cos: Math.cos,
  abs: Math.abs,
  floor: Math.floor,
  ceil: Math.ceil,
  sigmoid: (x) => 1 / (1 + Math.exp(-x)),
};

function unaryBuiltin(name: string, op: UnaryOp | undefined, lower?: (ctx: ElabContext, x: ValueId, span: Span) => ValueId): Builtin {
  return (raw, ctx, span) => {
    const a = new Args(name, raw, ctx, span, ["x"]);
    const v = a.get("x");
    const n = v ? asNumber(v) : undefined;
    if (n !== undefined && CONST_UNARY[name]) {
      const r = CONST_UNARY[name]!(n);
      return name === "floor" || name === "ceil" ? int(r) : float(r);
    }
    const x = a.tensor("x");
    return tensor(located(span, name, () => (lower ? lower(ctx, x, span) : ctx.b.unary(op!, x, origin(span)))));
  };
}

const scalar = (ctx: ElabContext, value: number, like: ValueId, span: Span) => ctx.b.constant(value, [], ctx.b.dtypeOf(like), origin(span));

/** x * sigmoid(1.702 x), as in CLIP. */
function quickGelu(ctx: ElabContext, x: ValueId, span: Span): ValueId {
  const o = origin(span);
  const s = ctx.b.unary("sigmoid", ctx.b.binary("mul", x, scalar(ctx, 1.702, x, span), o), o);
  return ctx.b.binary("mul", x, s, o);
}

/** Exact GELU: 0.5 x (1 + erf(x / sqrt 2)). */
function gelu(ctx: ElabContext, x: ValueId, span: Span): ValueId {
  const o = origin(span);
  const e = ctx.b.unary("erf", ctx.b.binary("mul", x, scalar(ctx, Math.SQRT1_2, x, span), o), o);
  const onePlus = ctx.b.binary("add", e, scalar(ctx, 1, x, span), o);
  return ctx.b.binary("mul", ctx.b.binary("mul", x, scalar(ctx, 0.5, x, span), o), onePlus);
}

function minMax(name: "max" | "min"): Builtin {
  return (raw: CallArgs, ctx, span) => {
    // max(a, b) elementwise, max([a, b, c]) / max(a, b) on numbers; reductions use `amax`/`reduce_max`.
    if (raw.positional.length === 1 && raw.keyword.size === 0) {
      const list = raw.positional[0]!;
      if (list.k === "list" || list.k === "tuple") {
        const nums = list.items.map(asNumber);
        if (nums.length && nums.every((x) => x !== undefined)) {
          const r = (name === "max" ? Math.max : Math.min)(...(nums as number[]));
          return list.items.every((i) => i.k === "int") ? int(r) : float(r);
        }
      }
    }
    const a = new Args(name, raw, ctx, span, ["a", "b"]);
    const x = a.get("a");
    const y = a.get("b");
    const nx = x ? asNumber(x) : undefined;
    const ny = y ? asNumber(y) : undefined;
    if (nx !== undefined && ny !== undefined) {
      const r = (name === "max" ? Math.max : Math.min)(nx, ny);
      return x!.k === "int" && y!.k === "int" ? int(r) : float(r);
    }
    const like = x?.k === "tensor" ? x.id : y?.k === "tensor" ? y.id : undefined;
    const ta = a.operand("a", like);
    const tb = a.operand("b", like);
    return tensor(located(span, name, () => ctx.b.binary(name, ta, tb, origin(span))));
  };
}

function conversion(name: "int" | "float"): Builtin {
  return (raw, ctx, span) => {
    const a = new Args(name, raw, ctx, span, ["x"]);
    const v = a.get("x");
    const n = v ? asNumber(v) : undefined;
    if (v?.k === "bool") return name === "int" ? int(v.v ? 1 : 0) : float(v.v ? 1 : 0);
    if (name === "float" && v?.k === "dim") {
      // A symbolic size (the batch) becomes a scalar computed on the device: sum of ones over it.
      const o = { spans: [span] };
      return tensor(ctx.b.reduce("sum", ctx.b.broadcast(ctx.b.constant(1, [], "f32", o), [v.v], o), [0], false, o));
    }
    if (n === undefined) throw new ElabError("IV3006", a.spanOf("x"), { expected: "a compile-time number", found: v ? describe(v) : "nothing", help: name === "int" ? "for tensors use cast(x, i32)" : "for tensors use cast(x, f32)" });
    return name === "int" ? int(Math.trunc(n)) : float(n);
  };
}

export const ELEMENTWISE: Record<string, Builtin> = {
  exp: unaryBuiltin("exp", "exp"),
  log: unaryBuiltin("log", "log"),
  sqrt: unaryBuiltin("sqrt", "sqrt"),
  rsqrt: unaryBuiltin("rsqrt", "rsqrt"),
  tanh: unaryBuiltin("tanh", "tanh"),
  sigmoid: unaryBuiltin("sigmoid", "sigmoid"),
  erf: unaryBuiltin("erf", "erf"),
  sin: unaryBuiltin("sin", "sin"),
  cos: unaryBuiltin("cos", "cos"),
  abs: unaryBuiltin("abs", "abs"),
  floor: unaryBuiltin("floor", "floor"),
  ceil: unaryBuiltin("ceil", undefined, (ctx, x, span) => ctx.b.unary("neg", ctx.b.unary("floor", ctx.b.unary("neg", x, origin(span)), origin(span)), origin(span))),
  relu: unaryBuiltin("relu", "relu"),
  sign: unaryBuiltin("sign", "sign"),
  quick_gelu: unaryBuiltin("quick_gelu", undefined, quickGelu),
  gelu: unaryBuiltin("gelu", undefined, gelu),
  max: minMax("max"),
  min: minMax("min"),
  int: conversion("int"),
  float: conversion("float"),
  select: (raw, ctx, span) => {
    const a = new Args("select", raw, ctx, span, ["cond", "a", "b"]);
    const c = a.tensor("cond");
    const av = a.get("a");
    const like = av?.k === "tensor" ? av.id : a.get("b")?.k === "tensor" ? (a.get("b") as { id: number }).id : undefined;
    const x = a.operand("a", like);
    const y = a.operand("b", like ?? x);
    return tensor(located(span, "select", () => ctx.b.where(c, x, y, origin(span))));
  },
  cast: (raw, ctx, span) => {
    const a = new Args("cast", raw, ctx, span, ["x", "dtype"]);
    const x = a.tensor("x");
    const to = a.dtype("dtype");
    return tensor(located(span, "cast", () => ctx.b.cast(x, to, origin(span))));
  },
  len: (raw, ctx, span) => {
    const a = new Args("len", raw, ctx, span, ["x"]);
    const v = a.get("x");
    if (v && (v.k === "list" || v.k === "tuple")) return int(v.items.length);
    if (v?.k === "moduleList") return int(v.items.size);
    if (v?.k === "string") return int(v.v.length);
    throw new ElabError("IV3006", a.spanOf("x"), { expected: "a list", found: v ? describe(v) : "nothing", help: "" });
  },
  range: (raw, ctx, span) => {
    const a = new Args("range", raw, ctx, span, ["start", "stop"]);
    const hasStop = a.get("stop") !== undefined;
    const start = hasStop ? a.int("start") : 0;
    const stop = hasStop ? a.int("stop") : a.int("start");
    return { k: "list", items: Array.from({ length: Math.max(0, stop - start) }, (_, i) => int(start + i)) };
  },
  contains: (raw, ctx, span) => {
    const a = new Args("contains", raw, ctx, span, ["list", "x"]);
    const l = a.get("list");
    const x = a.get("x");
    if (!l || (l.k !== "list" && l.k !== "tuple") || !x) throw new ElabError("IV3006", span, { expected: "a list and a value", found: l ? describe(l) : "nothing", help: "" });
    return bool(l.items.some((i) => JSON.stringify(i) === JSON.stringify(x)));
  },
};

export type { Value };
