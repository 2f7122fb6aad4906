/**
 * Matching tensors against declared types (`f32[B, T*H*W, dim]`), binding the dims a signature
 * introduces and reporting mismatches with where each dim got its value.
 */
import type { Expr, TensorType, TypeExpr } from "../../grammar/ast.ts";
import type { Span } from "../../diagnostics/span.ts";
import { spanText } from "../../diagnostics/span.ts";
import { type Dim, canonDim, dimEq, formatShape } from "../ir/dims.ts";
import type { DType } from "../ir/types.ts";
import { ElabError, type Env, Poisoned } from "./context.ts";
import type { Value } from "./values.ts";

export type EvalDim = (e: Expr, env: Env) => Value;

export function typeText(t: TypeExpr, render: (e: Expr) => string): string {
  switch (t.kind) {
    case "tensorType":
      return `${t.dtype}[${[...(t.leadingEllipsis ? ["..."] : []), ...t.dims.map(render)].join(", ")}]`;
    case "namedType":
      return t.args.length ? `${t.name.name}[${t.args.map((a) => typeText(a, render)).join(", ")}]` : t.name.name;
    case "tupleType":
      return `(${t.elements.map((e) => typeText(e, render)).join(", ")})`;
    case "errorType":
      return "?";
  }
}

export function tensorTypeString(dtype: DType, shape: readonly Dim[]): string {
  return `${dtype}${formatShape(shape)}`;
}

/** A dim expression that is a single name not yet bound: the signature binds it. */
function freeName(e: Expr, env: Env): string | undefined {
  if (e.kind !== "name") return undefined;
  if (env.dims.has(e.name)) return undefined;
  if (env.scope.lookup(e.name) !== undefined) return undefined;
  if (env.inst?.members.has(e.name)) return undefined;
  return e.name;
}

function bindingNotes(env: Env, names: Iterable<string>): { message: string; span?: Span }[] {
  const notes: { message: string; span?: Span }[] = [];
  for (const n of names) {
    const b = env.dims.get(n);
    if (b) notes.push({ message: `${n} bound to ${b.value} at ${spanText(b.span)}`, span: b.span });
  }
  return notes;
}

function namesIn(e: Expr, out: Set<string>): Set<string> {
  if (e.kind === "name") out.add(e.name);
  else if (e.kind === "binary") {
    namesIn(e.left, out);
    namesIn(e.right, out);
  } else if (e.kind === "unary") namesIn(e.operand, out);
  return out;
}

/**
 * Checks `shape`/`dtype` against `type`, binding free single-name dims in env.dims. When
 * `introduce` is set (graph inputs), free names become symbolic dims instead of needing a value.
 */
export function matchTensorType(
  type: TypeExpr,
  dtype: DType,
  shape: readonly Dim[],
  env: Env,
  evalDim: EvalDim,
  at: Span,
  render: (e: Expr) => string,
): void {
  if (type.kind !== "tensorType") {
    throw new ElabError("IV3006", at, { expected: typeText(type, render), found: "a tensor", help: "" });
  }
  const declared = typeText(type, render);
  const actual = tensorTypeString(dtype, shape);
  if (type.dtype !== dtype) {
    throw new ElabError("IV3004", at, { left: type.dtype, right: dtype }, { notes: [{ message: `declared as ${declared}`, span: type.span }] });
  }
  const rank = type.dims.length;
  if (type.leadingEllipsis ? shape.length < rank : shape.length !== rank) {
    throw new ElabError("IV3003", at, { expected: type.leadingEllipsis ? `at least ${rank}` : rank, found: shape.length, shape: actual }, {
      notes: [{ message: `declared as ${declared}`, span: type.span }],
    });
  }
  const offset = shape.length - rank;
  for (let i = 0; i < rank; i++) {
    const e = type.dims[i]!;
    const got = shape[offset + i]!;
    const free = freeName(e, env);
    if (free !== undefined) {
      env.dims.set(free, { value: canonDim(got), span: e.span });
      continue;
    }
    const v = evalDim(e, env);
    if (v.k === "poison") throw new Poisoned();
    const want = v.k === "int" || v.k === "dim" ? v.v : v.k === "float" && Number.isInteger(v.v) ? v.v : undefined;
    if (want === undefined) {
      throw new ElabError("IV3006", e.span, { expected: "a dimension (int or symbolic size)", found: v.k, help: "" });
    }
    if (!dimEq(want, got)) {
      throw new ElabError(
        "IV3001",
        at,
        { left: actual, right: declared },
        {
          notes: [
            { message: `axis ${offset + i} is ${got}, but the signature wants ${render(e)} = ${want}`, span: e.span },
            ...bindingNotes(env, namesIn(e, new Set())),
          ],
        },
      );
    }
  }
}

/** Evaluates a tensor type to a concrete dtype and shape (free names become new symbols). */
export function instantiateTensorType(
  type: TensorType,
  env: Env,
  evalDim: EvalDim,
  onSymbol: (name: string, span: Span) => Dim,
): { dtype: DType; shape: Dim[] } {
  const shape: Dim[] = [];
  for (const e of type.dims) {
    const free = freeName(e, env);
    if (free !== undefined) {
      const d = onSymbol(free, e.span);
      env.dims.set(free, { value: d, span: e.span });
      shape.push(d);
      continue;
    }
    const v = evalDim(e, env);
    if (v.k === "poison") throw new Poisoned();
    if (v.k === "int" || v.k === "dim") shape.push(canonDim(v.v));
    else if (v.k === "float" && Number.isInteger(v.v)) shape.push(v.v);
    else throw new ElabError("IV3006", e.span, { expected: "a dimension", found: v.k, help: "" });
  }
  return { dtype: type.dtype, shape };
}
