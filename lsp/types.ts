/**
 * The inferred tensor type of an expression, read off the elaborated graphs.
 *
 *   an expression that builds primitives here     the last node carrying exactly its span
 *   a call of a sub-module (`head(x)`, `blocks[i](x)`, `backbone.embed(x)`)
 *                                                 its primitives carry the callee's spans (another
 *                                                 file), but every node is named after the module
 *                                                 instance that built it, so the call's result is the
 *                                                 last node of a run named after that instance
 *   a name bound by `let`                         the type of the bound value
 *   anything else                                 the smallest node span around the cursor
 *
 * A module built several times (loops, several models) may show several types.
 */
import type { Node } from "../compiler/ir/types.ts";
import type { Span } from "../diagnostics/span.ts";
import type { Resolved } from "../compiler/resolve/index.ts";
import type { Expr, LetStmt, ModuleDecl } from "../grammar/ast.ts";
import type { Build } from "./analysis.ts";
import { type AnyNode, walk } from "./ast-walk.ts";
import { findLocal } from "./symbols.ts";

/** `f32[B, 8, 17, 64]` */
export function tensorType(n: Pick<Node, "dtype" | "shape">): string {
  return `${n.dtype}[${n.shape.join(", ")}]`;
}

const escape = (path: string) => path.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

const same = (s: Span, t: Span) => s.file === t.file && s.offset === t.offset && s.endOffset === t.endOffset;

function exactTypes(builds: readonly Build[], span: Span): string[] {
  const out = new Set<string>();
  for (const b of builds) {
    const last = b.graph.nodes.filter((n) => n.spans.some((s) => same(s, span))).at(-1);
    if (last) out.add(tensorType(last));
  }
  return [...out];
}

/**
 * The instance paths a callee names, relative to its module (`head`, `blocks.\d+`,
 * `backbone.transformer` or `backbone.transformer.features`), as a regexp source.
 */
function calleePath(callee: Expr, chain: readonly AnyNode[], offset: number): string | undefined {
  const parts: string[] = [];
  let e: Expr = callee;
  for (;;) {
    if (e.kind === "name") {
      const local = findLocal(chain, e.name, offset);
      if (local?.what !== "submodule") return undefined;
      parts.unshift(e.name);
      break;
    }
    if (e.kind === "index" && e.indices.length === 1) {
      parts.unshift("\\d+");
      e = e.object;
    } else if (e.kind === "member") {
      parts.unshift(e.property.name);
      e = e.object;
    } else return undefined;
  }
  const full = parts.join("\\.");
  return full;
}

/** Per build: the callee's instances under every instance of the module around the call. */
function instancePattern(b: Build, chain: readonly AnyNode[], callee: string): RegExp | undefined {
  const mod = chain.find((n) => n.kind === "module");
  if (mod?.kind !== "module") return undefined;
  const owners = b.modules.filter((m) => m.type === mod.name.name).map((m) => (m.path === "" ? "" : `${escape(m.path)}\\.`));
  if (owners.length === 0) return undefined;
  return new RegExp(`^(?:${owners.join("|")})${callee}$`);
}

/** The dotted prefix of `name` that names a matching instance (`blocks.3` of `blocks.3.attn`). */
function instanceOf(name: string, pattern: RegExp): string | undefined {
  const parts = name.split(".");
  for (let k = parts.length; k > 0; k--) {
    const prefix = parts.slice(0, k).join(".");
    if (pattern.test(prefix)) return prefix;
  }
  return undefined;
}

function callResultTypes(builds: readonly Build[], chain: readonly AnyNode[], callee: string): string[] {
  const out = new Set<string>();
  for (const b of builds) {
    const pattern = instancePattern(b, chain, callee);
    if (pattern) for (const t of runResults(b, pattern)) out.add(t);
  }
  return [...out];
}

/** Types of the last node of each run of nodes built inside an instance whose path matches. */
function runResults(b: Build, pattern: RegExp): string[] {
  const out = new Set<string>();
  {
    const nodes = b.graph.nodes;
    for (let i = 0; i < nodes.length; i++) {
      const prefix = nodes[i]!.name === undefined ? undefined : instanceOf(nodes[i]!.name!, pattern);
      if (prefix === undefined) continue;
      // The run of nodes built inside this instance (its own and its sub-modules') ends at its result.
      const inside = (n: Node) => n.name === prefix || n.name?.startsWith(`${prefix}.`) === true;
      let j = i;
      while (j + 1 < nodes.length && inside(nodes[j + 1]!)) j++;
      if (nodes[j]!.op.kind !== "param") out.add(tensorType(nodes[j]!));
      i = j;
    }
  }
  return [...out];
}

/** The let statement binding `name` that is visible at `offset`, when it binds a single name. */
function letValue(chain: readonly AnyNode[], name: string, offset: number): Expr | undefined {
  const fwd = [...chain].reverse().find((n) => n.kind === "forward");
  if (fwd?.kind !== "forward") return undefined;
  let found: Expr | undefined;
  for (const n of walk({ body: fwd.body })) {
    const s = n as LetStmt | AnyNode;
    if (s.kind === "let" && s.pattern.kind === "namePattern" && s.pattern.name.name === name && s.span.offset < offset) found = s.value;
    if (s.kind === "assign" && s.target.name === name && s.span.offset < offset && s.span.endOffset < offset) found = s.value;
  }
  return found;
}

/**
 * `backbone.embed(x)` calls the named forward `embed` of the instance `backbone`: its result is the
 * node of that forward's `return` value built under the instance's name.
 */
function namedForwardTypes(resolved: Resolved, builds: readonly Build[], chain: readonly AnyNode[], callee: Expr, offset: number): string[] {
  if (callee.kind !== "member") return [];
  const owner = calleePath(callee.object, chain, offset);
  if (!owner) return [];
  const out = new Set<string>();
  for (const b of builds) {
    const pattern = instancePattern(b, chain, owner);
    for (const inst of b.modules.filter((m) => pattern?.test(m.path))) {
      const decl = [...resolved.programs.values()].flatMap((p) => p.decls).find((d): d is ModuleDecl => d.kind === "module" && d.name.name === inst.type);
      const fwd = decl?.members.find((m) => m.kind === "forward" && m.name?.name === callee.property.name);
      const ret = fwd?.kind === "forward" ? fwd.body.filter((st) => st.kind === "return").at(-1) : undefined;
      if (ret?.kind !== "return") continue;
      const last = b.graph.nodes.filter((n) => n.name === inst.path && n.spans.some((s) => same(s, ret.value.span))).at(-1);
      if (last) out.add(tensorType(last));
      // `return ln_pre(x)`: the result of that sub-module of this very instance.
      const inner = ret.value.kind === "call" && ret.value.callee.kind !== "member" ? calleePath(ret.value.callee, [decl!, fwd!] as AnyNode[], ret.value.span.offset) : undefined;
      if (!last && inner) for (const t of runResults(b, new RegExp(`^${escape(inst.path)}\\.${inner}$`))) out.add(t);
    }
  }
  return [...out];
}

export function expressionTypes(resolved: Resolved, builds: readonly Build[], chain: readonly AnyNode[], e: Expr, offset: number, depth = 0): string[] {
  const exact = exactTypes(builds, e.span);
  if (exact.length > 0 || depth > 8) return exact;
  if (e.kind === "call") {
    const named = namedForwardTypes(resolved, builds, chain, e.callee, offset);
    if (named.length > 0) return named;
    // Only a whole sub-module call: runs of a named forward's instance are not told apart.
    const callee = e.callee.kind === "member" ? undefined : calleePath(e.callee, chain, offset);
    if (callee) return callResultTypes(builds, chain, callee);
  }
  if (e.kind === "name") {
    const value = letValue(chain, e.name, e.span.offset);
    if (value) return expressionTypes(resolved, builds, chain, value, value.span.offset, depth + 1);
  }
  return [];
}

/** The smallest node span in `file` around `offset` and the types of the nodes with it. */
export function enclosingTypes(builds: readonly Build[], file: string, offset: number): { span: Span; types: string[] } | undefined {
  let best: Span | undefined;
  const size = (s: Span) => s.endOffset - s.offset;
  for (const b of builds)
    for (const n of b.graph.nodes)
      for (const s of n.spans) if (s.file === file && s.offset <= offset && offset <= s.endOffset && (!best || size(s) < size(best))) best = s;
  return best && { span: best, types: exactTypes(builds, best) };
}
