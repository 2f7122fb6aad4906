/** Test helpers: parse expecting no diagnostics, and print expressions as s-expressions. */
import { expect } from "vitest";
import type { Expr, IndexItem, Member, ModuleDecl, Program, Statement, TypeExpr } from "../../grammar/ast.ts";
import { parseIvm } from "../../grammar/index.ts";

export function parseClean(text: string, file = "test.ivm"): Program {
  const { program, diagnostics } = parseIvm(text, file);
  expect(diagnostics.map((d) => `${d.code} ${d.span?.line}:${d.span?.col} ${d.message}`)).toEqual([]);
  return program;
}

export function onlyModule(text: string): ModuleDecl {
  const decl = parseClean(text).decls[0];
  if (decl?.kind !== "module") throw new Error(`expected a module, got ${decl?.kind}`);
  return decl;
}

export function members(body: string): Member[] {
  return [...onlyModule(`module M(dim: int) {\n${body}\n}`).members];
}

/** The statements of `forward(x: f32[B]) -> f32[B] { body }`. */
export function statements(body: string): Statement[] {
  const fwd = members(`forward(x: f32[B]) -> f32[B] {\n${body}\n}`)[0];
  if (fwd?.kind !== "forward") throw new Error("expected a forward");
  return [...fwd.body];
}

/** The expression in `return <text>`. */
export function expr(text: string): Expr {
  const ret = statements(`return ${text}`)[0];
  if (ret?.kind !== "return") throw new Error("expected a return");
  return ret.value;
}

function item(i: IndexItem): string {
  if (i.kind === "ellipsis") return "...";
  if (i.kind === "slice")
    return `${i.start ? sexpr(i.start) : ""}:${i.stop ? sexpr(i.stop) : ""}${i.step ? `:${sexpr(i.step)}` : ""}`;
  return sexpr(i);
}

/** A compact, fully parenthesised rendering that makes precedence visible. */
export function sexpr(e: Expr): string {
  switch (e.kind) {
    case "int":
    case "float":
      return e.raw;
    case "string":
      return JSON.stringify(e.value);
    case "bool":
      return String(e.value);
    case "name":
      return e.name;
    case "member":
      return `${sexpr(e.object)}.${e.property.name}`;
    case "call":
      return `${sexpr(e.callee)}(${e.args.map((a) => (a.name ? `${a.name.name}=${sexpr(a.value)}` : sexpr(a.value))).join(", ")})`;
    case "index":
      return `${sexpr(e.object)}[${e.indices.map(item).join(", ")}]`;
    case "binary":
      return `(${sexpr(e.left)} ${e.op} ${sexpr(e.right)})`;
    case "unary":
      return `(${e.op === "not" ? "not " : e.op}${sexpr(e.operand)})`;
    case "list":
      return `[${e.elements.map(sexpr).join(", ")}]`;
    case "tuple":
      return `(${e.elements.map(sexpr).join(", ")}${e.elements.length === 1 ? "," : ""})`;
    case "range":
      return `${sexpr(e.start)}..${sexpr(e.end)}`;
    case "error":
      return "<error>";
  }
}

export function typeText(t: TypeExpr): string {
  switch (t.kind) {
    case "tensorType":
      return `${t.dtype}[${[...(t.leadingEllipsis ? ["..."] : []), ...t.dims.map(sexpr)].join(", ")}]`;
    case "namedType":
      return t.args.length > 0 ? `${t.name.name}[${t.args.map(typeText).join(", ")}]` : t.name.name;
    case "tupleType":
      return `(${t.elements.map(typeText).join(", ")})`;
    case "errorType":
      return "<error>";
  }
}

/** Every object with a `kind` in the tree, depth first (iterative: trees may be deep). */
export function allNodes(root: unknown): { kind: string; span?: { offset: number; endOffset: number } }[] {
  const out: { kind: string; span?: { offset: number; endOffset: number } }[] = [];
  const stack: unknown[] = [root];
  while (stack.length > 0) {
    const v = stack.pop();
    if (Array.isArray(v)) stack.push(...v);
    else if (v && typeof v === "object") {
      const o = v as Record<string, unknown>;
      if (typeof o.kind === "string") out.push(o as { kind: string });
      for (const [k, child] of Object.entries(o)) if (k !== "span" && k !== "opSpan") stack.push(child);
    }
  }
  return out;
}
