/**
 * `@init(...)` annotations. An annotation is parsed once into a spec; the spec becomes a concrete
 * `Init` per parameter, because fan-based initialisers need the parameter's shape (PyTorch's fan
 * convention: fan_in = shape[1] * receptive field, fan_out = shape[0] * receptive field).
 */
import type { Annotation, Expr } from "../../grammar/ast.ts";
import type { Init } from "../ir/types.ts";
import type { CallArgs } from "./builtins/index.ts";
import { ElabError, type ElabContext, type Env, suggest } from "./context.ts";
import { evalArgs } from "./eval.ts";
import { asNumber, describe } from "./values.ts";

export type InitSpec = (shape: readonly number[]) => Init;

const KNOWN = ["zeros", "ones", "constant", "normal", "trunc_normal", "uniform", "xavier_uniform", "kaiming_uniform", "sinusoidal"];

function fans(shape: readonly number[]): { fanIn: number; fanOut: number } {
  if (shape.length === 0) return { fanIn: 1, fanOut: 1 };
  if (shape.length === 1) return { fanIn: shape[0]!, fanOut: shape[0]! };
  const receptive = shape.slice(2).reduce((a, b) => a * b, 1);
  return { fanIn: shape[1]! * receptive, fanOut: shape[0]! * receptive };
}

function numberArg(args: CallArgs, name: string, position: number, fallback: number, at: Expr): number {
  const v = args.keyword.get(name) ?? args.positional[position];
  if (v === undefined) return fallback;
  const n = asNumber(v);
  if (n === undefined) throw new ElabError("IV3006", at.span, { expected: `a number for \`${name}\``, found: describe(v), help: "" });
  return n;
}

export function parseInitSpec(ann: Annotation, env: Env, ctx: ElabContext): InitSpec {
  const arg = ann.args?.[0];
  if (!arg || ann.args!.length !== 1) {
    throw new ElabError("IV3008", ann.span, { message: "`@init` takes exactly one initialiser", help: `one of ${KNOWN.join(", ")}, e.g. @init(trunc_normal(std=0.02))` });
  }
  const e = arg.value;
  const name = e.kind === "name" ? e.name : e.kind === "call" && e.callee.kind === "name" ? e.callee.name : undefined;
  if (!name || !KNOWN.includes(name)) {
    const near = name ? suggest(name, KNOWN) : undefined;
    throw new ElabError("IV3008", e.span, {
      message: `unknown initialiser${name ? ` \`${name}\`` : ""}`,
      help: near ? `did you mean \`${near}\`?` : `the initialisers are ${KNOWN.join(", ")}`,
    });
  }
  const args: CallArgs =
    e.kind === "call" ? evalArgs(e.args, env, ctx) : { positional: [], positionalSpans: [], keyword: new Map(), keywordSpans: new Map() };
  const num = (key: string, pos: number, fallback: number) => numberArg(args, key, pos, fallback, e);
  switch (name) {
    case "zeros":
      return () => ({ kind: "zeros" });
    case "ones":
      return () => ({ kind: "ones" });
    case "constant": {
      const v = args.keyword.get("value") ?? args.positional[0];
      const n = v ? asNumber(v) : undefined;
      if (n === undefined) throw new ElabError("IV3008", e.span, { message: "`constant` needs a value", help: "write @init(constant(0.5))" });
      return () => ({ kind: "constant", value: n });
    }
    case "normal": {
      const std = num("std", 0, 1);
      const mean = num("mean", 1, 0);
      return () => ({ kind: "normal", std, mean });
    }
    case "trunc_normal": {
      const std = num("std", 0, 1);
      const mean = num("mean", 1, 0);
      const a = num("a", 2, -2);
      const b = num("b", 3, 2);
      return () => ({ kind: "trunc_normal", std, mean, a, b });
    }
    case "uniform": {
      const low = num("a", 0, 0);
      const high = num("b", 1, 1);
      return () => ({ kind: "uniform", low, high });
    }
    case "xavier_uniform":
      return (shape) => ({ kind: "xavier_uniform", ...fans(shape) });
    case "kaiming_uniform": {
      const a = num("a", 0, Math.sqrt(5));
      return (shape) => ({ kind: "kaiming_uniform", fanIn: fans(shape).fanIn, a });
    }
    default:
      return (shape) => {
        if (shape.length !== 2) {
          throw new ElabError("IV3008", e.span, { message: `a sinusoidal table must be 2-D [positions, dim], found rank ${shape.length}`, help: "" });
        }
        return { kind: "sinusoidal", positions: shape[0]!, dim: shape[1]! };
      };
  }
}

