/**
 * Values the elaborator computes with. Compile-time values (numbers, dims, lists, configs, module
 * instances) are evaluated away; tensors are graph nodes. `poison` stands for the result of an
 * expression that already produced a diagnostic, so one mistake yields one error.
 */
import type { ForwardMember, ModuleDecl } from "../../grammar/ast.ts";
import type { Span } from "../../diagnostics/span.ts";
import type { Dim } from "../ir/dims.ts";
import type { ValueId } from "../ir/types.ts";

export type Value =
  | { readonly k: "int"; readonly v: number }
  | { readonly k: "float"; readonly v: number }
  | { readonly k: "bool"; readonly v: boolean }
  | { readonly k: "string"; readonly v: string }
  /** A symbolic dimension (e.g. the batch `B`) used as a compile-time size. */
  | { readonly k: "dim"; readonly v: Dim }
  | { readonly k: "list"; readonly items: readonly Value[] }
  | { readonly k: "tuple"; readonly items: readonly Value[] }
  | { readonly k: "config"; readonly name: string; readonly fields: ReadonlyMap<string, Value> }
  | { readonly k: "tensor"; readonly id: ValueId }
  | { readonly k: "module"; readonly inst: ModuleInstance }
  /** `blocks` after `for i in 0..n { blocks[i] = ... }` */
  | { readonly k: "moduleList"; readonly items: ReadonlyMap<number, Value> }
  /** `inst.encode_text`: a named forward bound to its instance. */
  | { readonly k: "method"; readonly inst: ModuleInstance; readonly forward: ForwardMember }
  /** A module or builtin name used as a callee. */
  | { readonly k: "callable"; readonly name: string; readonly decl?: ModuleDecl; readonly file?: string }
  | { readonly k: "none" }
  | { readonly k: "poison" };

export interface ModuleInstance {
  readonly decl: ModuleDecl;
  /** The file the declaration lives in: names inside it resolve in that file's scope. */
  readonly file: string;
  /** Dotted parameter path prefix, `blocks.3.attn`, empty for the root model. */
  readonly path: string;
  /** Module parameters, lets, sub-modules and tensors by name. */
  readonly members: Map<string, Value>;
  readonly frozen: boolean;
  readonly span: Span;
}

export const POISON: Value = { k: "poison" };
export const NONE: Value = { k: "none" };

export const int = (v: number): Value => ({ k: "int", v });
export const float = (v: number): Value => ({ k: "float", v });
export const bool = (v: boolean): Value => ({ k: "bool", v });
export const tensor = (id: ValueId): Value => ({ k: "tensor", id });

export function isPoison(v: Value): boolean {
  return v.k === "poison";
}

export function describe(v: Value): string {
  switch (v.k) {
    case "int":
      return `int ${v.v}`;
    case "float":
      return `float ${v.v}`;
    case "bool":
      return `bool ${v.v}`;
    case "string":
      return `string "${v.v}"`;
    case "dim":
      return `dimension ${v.v}`;
    case "list":
      return `list of ${v.items.length}`;
    case "tuple":
      return `tuple of ${v.items.length}`;
    case "config":
      return `config ${v.name}`;
    case "tensor":
      return "tensor";
    case "module":
      return `module ${v.inst.decl.name.name}`;
    case "moduleList":
      return "module list";
    case "method":
      return `forward ${v.forward.name?.name ?? ""}`;
    case "callable":
      return `${v.name}`;
    case "none":
      return "nothing";
    case "poison":
      return "an erroneous value";
  }
}

/** A compile-time number or dim as a Dim, or undefined. */
export function asDim(v: Value): Dim | undefined {
  if (v.k === "int") return v.v;
  if (v.k === "dim") return v.v;
  return undefined;
}

export function asNumber(v: Value): number | undefined {
  return v.k === "int" || v.k === "float" ? v.v : undefined;
}

/** Converts a JSON-like literal (from `--set` or defaults) to a value. */
export function fromJs(x: unknown): Value {
  if (typeof x === "boolean") return bool(x);
  if (typeof x === "number") return Number.isInteger(x) ? int(x) : float(x);
  if (typeof x === "string") return { k: "string", v: x };
  if (Array.isArray(x)) return { k: "list", items: x.map(fromJs) };
  return NONE;
}

export function toJs(v: Value): unknown {
  switch (v.k) {
    case "int":
    case "float":
    case "bool":
    case "string":
    case "dim":
      return v.v;
    case "list":
    case "tuple":
      return v.items.map(toJs);
    case "config":
      return Object.fromEntries([...v.fields].map(([k, f]) => [k, toJs(f)]));
    default:
      return null;
  }
}
