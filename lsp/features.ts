/**
 * Hover, go to definition and completion, on offsets into one analysed file. The server
 * (server.ts) converts offsets and spans to LSP positions.
 *
 * Hover types come from the elaborated graphs: every graph node keeps the spans of the `.ivm`
 * expressions it was built from, so the type of the expression under the cursor is the type of the
 * node whose span is the smallest one containing the cursor (the last such node: the result).
 */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { BUILTINS } from "../compiler/elaborate/builtins/index.ts";
import { importTarget } from "../compiler/resolve/index.ts";
import type { Decl } from "../compiler/resolve/index.ts";
import type { Span } from "../diagnostics/span.ts";
import type { Expr, MemberExpr } from "../grammar/ast.ts";
import { ANNOTATIONS, INITIALIZERS, parseIvm } from "../grammar/index.ts";
import type { Analysis, Build } from "./analysis.ts";
import { enclosingTypes, expressionTypes } from "./types.ts";
import { type AnyNode, nodesAt } from "./ast-walk.ts";
import { configField, configOf, configOfName, findGlobal, findLocal, localNames } from "./symbols.ts";

export interface Location {
  readonly file: string;
  readonly span?: Span;
}

function sourceOf(a: Analysis, file: string): string {
  return file === a.path ? a.text : (a.resolved.sources.get(file) ?? "");
}

function slice(a: Analysis, span: Span): string {
  return sourceOf(a, span.file).slice(span.offset, span.endOffset);
}

/** `module Mlp(width: int, ...)` plus its forward signatures, as written. */
export function signature(a: Analysis, decl: Decl, file: string): string {
  const text = (s: Span) => sourceOf(a, file).slice(s.offset, s.endOffset);
  switch (decl.kind) {
    case "module": {
      const params = decl.params.length > 0 ? `(${decl.params.map((p) => text(p.span)).join(", ")})` : "";
      const forwards = decl.members.flatMap((m) =>
        m.kind === "forward" ? [`  forward${m.name ? ` ${m.name.name}` : ""}(${m.params.map((p) => text(p.span)).join(", ")}) -> ${text(m.returnType.span)}`] : [],
      );
      return [`${decl.role} ${decl.name.name}${params}`, ...forwards].join("\n");
    }
    case "config":
      return [`config ${decl.name.name} {`, ...decl.fields.map((f) => `  ${text(f.span)}`), "}"].join("\n");
    case "preset":
      return `preset ${decl.name.name}: ${decl.base.name}${decl.overrides.length > 0 ? ` { ${decl.overrides.map((o) => text(o.span)).join(", ")} }` : ""}`;
    case "trainStage":
      return `train stage ${decl.name.name} for ${decl.model.name}${decl.extends ? ` extends ${decl.extends.name}` : ""}`;
  }
}

/** `cfg.mae.width` as ["cfg", "mae", "width"], when the chain is names only. */
function dotted(e: Expr): string[] | undefined {
  if (e.kind === "name") return [e.name];
  if (e.kind !== "member") return undefined;
  const head = dotted(e.object);
  return head ? [...head, e.property.name] : undefined;
}

/** The innermost `a.b` whose property is under the cursor, or the innermost member expression. */
function memberAt(chain: readonly AnyNode[], offset: number): MemberExpr | undefined {
  const members = chain.filter((n): n is MemberExpr => n.kind === "member");
  return members.reverse().find((m) => m.property.span.offset <= offset && offset <= m.property.span.endOffset);
}

function valueAt(config: Readonly<Record<string, unknown>> | undefined, path: readonly string[]): unknown {
  let v: unknown = config;
  for (const k of path) v = typeof v === "object" && v !== null ? (v as Record<string, unknown>)[k] : undefined;
  return v;
}

const EXPRESSION_KINDS = new Set(["int", "float", "string", "bool", "name", "member", "call", "index", "binary", "unary", "list", "tuple", "range"]);

export interface HoverResult {
  readonly markdown: string;
  readonly span: Span;
}

const fence = (code: string) => `\`\`\`ivm\n${code}\n\`\`\``;

export function hover(a: Analysis, offset: number, covering: readonly Build[]): HoverResult | undefined {
  const chain = nodesAt(a.program, offset);
  const inner = chain.at(-1)!;
  // `cfg.width`: the field's declaration and its value in each elaborated model.
  const member = memberAt(chain, offset);
  const path = member && dotted(member);
  if (member && path) {
    const cfg = configOfName(a.resolved, a.path, chain, path[0]!);
    const found = cfg && configField(a.resolved, cfg, path.slice(1));
    if (found) {
      const values = [...a.builds, ...covering].filter((b) => b.config).map((b) => `${JSON.stringify(valueAt(b.config, path.slice(1)))} in ${b.label}`);
      const value = values.length > 0 ? `\n\nvalue: ${[...new Set(values)].join(", ")}` : "";
      return { markdown: `${fence(`${path.join(".")}: ${slice(a, found.field.type.span)}${found.field.default ? ` = ${slice(a, found.field.default.span)}` : ""}`)}${value}`, span: member.property.span };
    }
  }
  // A declared name: a module's signature, a config's fields, a preset, a stage.
  const name = inner.kind === "name" ? inner.name : inner.kind === "identifier" ? inner.name : undefined;
  if (name !== undefined) {
    const local = inner.kind === "name" ? findLocal(chain, name, offset) : undefined;
    const global = local ? undefined : findGlobal(a.resolved, a.path, name);
    if (global) return { markdown: fence(signature(a, global.decl, global.file)), span: inner.span };
  }
  const builds = [...a.builds, ...covering];
  let expr = [...chain].reverse().find((n): n is Expr & AnyNode => EXPRESSION_KINDS.has(n.kind));
  // On the callee of `head(x)`, `blocks[i](x)` or `backbone.embed(x)` the interesting type is the call's.
  for (let i = expr ? chain.indexOf(expr) - 1 : -1; i >= 0; i--) {
    const up = chain[i]!;
    if ((up.kind === "index" || up.kind === "member") && up.object === chain[i + 1]) continue;
    if (up.kind === "call" && up.callee === chain[i + 1]) expr = up;
    break;
  }
  // On the name a `let` binds: the bound value's type.
  const bound = chain.at(-2);
  const stmt = [...chain].reverse().find((n) => n.kind === "let");
  if (!expr && bound?.kind === "namePattern" && stmt?.kind === "let" && stmt.pattern === bound) expr = stmt.value as Expr & AnyNode;
  const types = expr ? expressionTypes(a.resolved, builds, chain, expr, offset) : [];
  if (expr && types.length > 0) return { markdown: fence(types.join("\n")), span: expr.span };
  const typed = enclosingTypes(builds, a.path, offset);
  if (typed && typed.types.length > 0) {
    const text = slice(a, typed.span).replace(/\s+/g, " ");
    const shown = text.length > 60 ? `${text.slice(0, 57)}...` : text;
    return { markdown: `${fence(typed.types.join("\n"))}\n\n\`${shown}\``, span: typed.span };
  }
  return undefined;
}

export function definition(a: Analysis, offset: number, stdlibDir: string): Location | undefined {
  const chain = nodesAt(a.program, offset);
  const inner = chain.at(-1)!;
  const imp = chain.find((n) => n.kind === "import");
  if (imp?.kind === "import") {
    if (imp.fromSpan.offset <= offset && offset <= imp.fromSpan.endOffset) return { file: importTarget(imp, a.path, stdlibDir) };
  }
  const member = memberAt(chain, offset);
  const path = member && dotted(member);
  if (path) {
    const cfg = configOfName(a.resolved, a.path, chain, path[0]!);
    const found = cfg && configField(a.resolved, cfg, path.slice(1));
    if (found) return { file: found.config.file, span: found.field.name.span };
  }
  // A preset key: `mae.width = 64` names a field of the preset's config.
  const override = chain.find((n) => n.kind === "presetOverride");
  const preset = chain.find((n) => n.kind === "preset");
  if (override?.kind === "presetOverride" && preset?.kind === "preset" && inner.kind === "pathSegment") {
    const segments = override.key.segments;
    const upTo = segments.slice(0, segments.indexOf(inner) + 1).map((s) => s.text);
    const cfg = configOf(a.resolved, a.path, preset.base.name);
    const found = cfg && configField(a.resolved, cfg, upTo);
    if (found) return { file: found.config.file, span: found.field.name.span };
  }
  const name = inner.kind === "name" ? inner.name : inner.kind === "identifier" ? inner.name : undefined;
  if (name === undefined) return undefined;
  if (inner.kind === "name") {
    const local = findLocal(chain, name, offset);
    if (local) return { file: a.path, span: local.id.span };
  }
  const global = findGlobal(a.resolved, a.path, name);
  return global ? { file: global.file, span: global.decl.name.span } : undefined;
}

export interface Completion {
  readonly label: string;
  readonly kind: "field" | "module" | "config" | "preset" | "stage" | "function" | "variable" | "keyword" | "annotation";
  readonly detail?: string;
}

const KEYWORDS = ["import", "from", "as", "config", "preset", "module", "model", "forward", "let", "return", "if", "else", "for", "in", "param", "buffer", "true", "false", "and", "or", "not", "train", "stage", "extends", "freeze", "unfreeze"];

let stdlibCache: { dir: string; items: Completion[] } | undefined;

/** Every declaration of the stdlib, for completing names not imported yet. */
function stdlibNames(dir: string): Completion[] {
  if (stdlibCache?.dir === dir) return stdlibCache.items;
  const items: Completion[] = [];
  for (const f of readdirSync(dir).filter((n) => n.endsWith(".ivm")).sort()) {
    const { program } = parseIvm(readFileSync(join(dir, f), "utf8"), join(dir, f));
    for (const d of program.decls) items.push({ label: d.name.name, kind: d.kind === "module" ? "module" : d.kind === "config" ? "config" : d.kind === "preset" ? "preset" : "stage", detail: `std/${f.slice(0, -4)}` });
  }
  stdlibCache = { dir, items };
  return items;
}

export function completion(a: Analysis, offset: number, stdlibDir: string): Completion[] {
  const before = a.text.slice(Math.max(0, a.text.lastIndexOf("\n", offset - 1) + 1), offset);
  const chain = nodesAt(a.program, offset);
  const dot = /([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)\.[A-Za-z0-9_]*$/.exec(before);
  if (dot) {
    const path = dot[1]!.split(".");
    const root = configOfName(a.resolved, a.path, chain, path[0]!);
    let config = root;
    if (root && path.length > 1) {
      const f = configField(a.resolved, root, path.slice(1));
      config = f && f.field.type.kind === "namedType" ? configOf(a.resolved, f.config.file, f.field.type.name.name) : undefined;
    }
    if (!config) return [];
    return config.decl.fields.map((f) => ({ label: f.name.name, kind: "field", detail: sourceOf(a, config.file).slice(f.span.offset, f.span.endOffset) }));
  }
  if (/@[A-Za-z_]*$/.test(before)) return ANNOTATIONS.map((n) => ({ label: n, kind: "annotation" }));
  if (/@init\([A-Za-z_]*$/.test(before)) return Object.keys(INITIALIZERS).map((n) => ({ label: n, kind: "function", detail: "initializer" }));
  const seen = new Set<string>();
  const out: Completion[] = [];
  const push = (c: Completion) => {
    if (!seen.has(c.label)) {
      seen.add(c.label);
      out.push(c);
    }
  };
  for (const l of localNames(chain)) push({ label: l.id.name, kind: "variable", detail: l.what });
  for (const [n, ref] of a.resolved.scopes.get(a.path) ?? []) push({ label: n, kind: ref.decl.kind === "trainStage" ? "stage" : ref.decl.kind, detail: ref.file === a.path ? undefined : ref.file });
  for (const n of Object.keys(BUILTINS).sort()) push({ label: n, kind: "function", detail: "builtin" });
  for (const c of stdlibNames(stdlibDir)) push(c);
  for (const k of KEYWORDS) push({ label: k, kind: "keyword" });
  return out;
}
