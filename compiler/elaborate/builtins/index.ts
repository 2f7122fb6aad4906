/**
 * Built-in functions of the language, each lowered to IR primitives. Grouped by theme; this file
 * holds the shared argument helpers and the registry.
 */
import type { Span } from "../../../diagnostics/span.ts";
import type { Dim } from "../../ir/dims.ts";
import type { DType, ValueId } from "../../ir/types.ts";
import { ElabError, type ElabContext, type Env, Poisoned } from "../context.ts";
import { type Value, asDim, asNumber, describe } from "../values.ts";
import { ELEMENTWISE } from "./elementwise.ts";
import { NN } from "./nn.ts";
import { REDUCTIONS } from "./reductions.ts";
import { VIEWS } from "./views.ts";

export interface CallArgs {
  readonly positional: readonly Value[];
  readonly positionalSpans: readonly Span[];
  readonly keyword: ReadonlyMap<string, Value>;
  readonly keywordSpans: ReadonlyMap<string, Span>;
}

export type Builtin = (args: CallArgs, ctx: ElabContext, span: Span, env: Env) => Value;

/** Typed access to a builtin's arguments with errors that name the function and the argument. */
export class Args {
  constructor(
    readonly fn: string,
    readonly raw: CallArgs,
    readonly ctx: ElabContext,
    readonly span: Span,
    allowed: readonly string[],
  ) {
    for (const [k, s] of raw.keywordSpans) {
      if (!allowed.includes(k)) {
        throw new ElabError("IV2008", s, { callee: fn, message: `no parameter named \`${k}\``, help: allowed.length ? `the parameters are ${allowed.join(", ")}` : `\`${fn}\` takes no keyword arguments` });
      }
    }
    if (raw.positional.length > allowed.length) {
      throw new ElabError("IV2008", raw.positionalSpans[allowed.length] ?? span, { callee: fn, message: `expected at most ${allowed.length} arguments, found ${raw.positional.length}`, help: `the parameters are ${allowed.join(", ")}` });
    }
    this.names = allowed;
  }
  private readonly names: readonly string[];

  private index(name: string): number {
    return this.names.indexOf(name);
  }

  spanOf(name: string): Span {
    return this.raw.keywordSpans.get(name) ?? this.raw.positionalSpans[this.index(name)] ?? this.span;
  }

  get(name: string): Value | undefined {
    return this.raw.keyword.get(name) ?? this.raw.positional[this.index(name)];
  }

  private fail(name: string, expected: string, found: Value | undefined): never {
    if (found?.k === "poison") throw new Poisoned();
    throw new ElabError("IV2008", this.spanOf(name), {
      callee: this.fn,
      message: found ? `\`${name}\` must be ${expected}, found ${describe(found)}` : `missing argument \`${name}\` (${expected})`,
      help: "",
    });
  }

  tensor(name: string): ValueId {
    const v = this.get(name);
    if (v?.k === "tensor") return v.id;
    return this.fail(name, "a tensor", v);
  }

  /** A tensor, or a number turned into a scalar constant of `like`'s dtype. */
  operand(name: string, like?: ValueId): ValueId {
    const v = this.get(name);
    if (v?.k === "tensor") return v.id;
    if (v && asNumber(v) !== undefined) return toTensor(v, this.ctx, this.spanOf(name), like);
    return this.fail(name, "a tensor or number", v);
  }

  number(name: string, fallback?: number): number {
    const v = this.get(name);
    if (v === undefined && fallback !== undefined) return fallback;
    const n = v ? asNumber(v) : undefined;
    if (n === undefined) return this.fail(name, "a number", v);
    return n;
  }

  int(name: string, fallback?: number): number {
    const v = this.get(name);
    if (v === undefined && fallback !== undefined) return fallback;
    if (v?.k === "int") return v.v;
    return this.fail(name, "an integer", v);
  }

  bool(name: string, fallback: boolean): boolean {
    const v = this.get(name);
    if (v === undefined) return fallback;
    if (v.k === "bool") return v.v;
    return this.fail(name, "true or false", v);
  }

  string(name: string, fallback?: string): string {
    const v = this.get(name);
    if (v === undefined && fallback !== undefined) return fallback;
    if (v?.k === "string") return v.v;
    return this.fail(name, "a string", v);
  }

  dims(name: string, fallback?: Dim[]): Dim[] {
    const v = this.get(name);
    if (v === undefined && fallback !== undefined) return fallback;
    if (v && (v.k === "list" || v.k === "tuple")) {
      const out = v.items.map(asDim);
      if (out.every((d) => d !== undefined)) return out as Dim[];
    }
    const single = v ? asDim(v) : undefined;
    if (single !== undefined) return [single];
    return this.fail(name, "a list of sizes", v);
  }

  ints(name: string, fallback?: number[]): number[] {
    const ds = this.dims(name, fallback);
    if (ds.every((d) => typeof d === "number")) return ds as number[];
    return this.fail(name, "a list of integers", this.get(name));
  }

  /** Axes with negative values counted from the end, validated against `rank`. */
  axes(name: string, rank: number, fallback?: number[]): number[] {
    return this.ints(name, fallback).map((a) => {
      const ax = a < 0 ? rank + a : a;
      if (ax < 0 || ax >= rank) {
        throw new ElabError("IV2008", this.spanOf(name), { callee: this.fn, message: `axis ${a} is out of range for rank ${rank}`, help: "" });
      }
      return ax;
    });
  }

  axis(name: string, rank: number, fallback?: number): number {
    return this.axes(name, rank, fallback === undefined ? undefined : [fallback])[0]!;
  }

  dtype(name: string): DType {
    const v = this.get(name);
    const s = v?.k === "callable" || v?.k === "string" ? (v.k === "string" ? v.v : v.name) : undefined;
    if (s === "f32" || s === "i32" || s === "bool") return s;
    return this.fail(name, "a dtype (f32, i32, bool)", v);
  }
}

/** A compile-time number as a scalar constant (dtype of `like`, else f32). */
export function toTensor(v: Value, ctx: ElabContext, span: Span, like?: ValueId): ValueId {
  if (v.k === "tensor") return v.id;
  const n = asNumber(v);
  if (n === undefined && v.k !== "bool") {
    throw new ElabError("IV3006", span, { expected: "a tensor or number", found: describe(v), help: "" });
  }
  const dtype: DType = like !== undefined ? ctx.b.dtypeOf(like) : v.k === "bool" ? "bool" : "f32";
  const value = v.k === "bool" ? (v.v ? 1 : 0) : n!;
  return ctx.b.constant(value, [], dtype, { spans: [span] });
}

export const BUILTINS: Readonly<Record<string, Builtin>> = {
  ...ELEMENTWISE,
  ...REDUCTIONS,
  ...VIEWS,
  ...NN,
};
