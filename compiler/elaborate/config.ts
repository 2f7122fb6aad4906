/**
 * Configs and presets: defaults, preset overrides (presets may build on presets), and typed
 * `--set key=value` overrides from the command line.
 */
import type { ConfigDecl, PresetDecl, TypeExpr } from "../../grammar/ast.ts";
import type { Span } from "../../diagnostics/span.ts";
import type { DeclRef } from "../resolve/index.ts";
import { ElabError, type ElabContext, type Env, Scope, suggest } from "./context.ts";
import { evalExpr } from "./eval.ts";
import { type Value, describe, float, fromJs } from "./values.ts";

type ConfigValue = Extract<Value, { k: "config" }>;

function typeName(t: TypeExpr): string {
  if (t.kind === "namedType") return t.args.length ? `${t.name.name}[${t.args.map(typeName).join(", ")}]` : t.name.name;
  return "tensor";
}

function configRef(name: string, file: string, ctx: ElabContext): { decl: ConfigDecl; file: string } | undefined {
  const ref = ctx.resolved.scopes.get(file)?.get(name);
  return ref?.decl.kind === "config" ? { decl: ref.decl, file: ref.file } : undefined;
}

/** Checks (and coerces int to float) a value against a config field type; undefined when it does not fit. */
function fitType(t: TypeExpr, v: Value, file: string, ctx: ElabContext): Value | undefined {
  if (t.kind !== "namedType") return undefined;
  switch (t.name.name) {
    case "int":
      return v.k === "int" ? v : undefined;
    case "float":
      return v.k === "float" ? v : v.k === "int" ? float(v.v) : undefined;
    case "bool":
      return v.k === "bool" ? v : undefined;
    case "string":
      return v.k === "string" ? v : undefined;
    case "list": {
      if (v.k !== "list" && v.k !== "tuple") return undefined;
      const el = t.args[0];
      if (!el) return { k: "list", items: v.items };
      const items = v.items.map((i) => fitType(el, i, file, ctx));
      return items.every((i) => i !== undefined) ? { k: "list", items: items as Value[] } : undefined;
    }
    default:
      return v.k === "config" && v.name === configRef(t.name.name, file, ctx)?.decl.name.name ? v : undefined;
  }
}

export function configDefaults(decl: ConfigDecl, file: string, ctx: ElabContext): ConfigValue {
  const fields = new Map<string, Value>();
  const scope = new Scope();
  const env: Env = { scope, file, dims: new Map() };
  for (const f of decl.fields) {
    try {
      let v: Value;
      if (f.default) v = evalExpr(f.default, env, ctx);
      else if (f.type.kind === "namedType" && configRef(f.type.name.name, file, ctx)) {
        const nested = configRef(f.type.name.name, file, ctx)!;
        v = configDefaults(nested.decl, nested.file, ctx);
      } else {
        throw new ElabError("IV3008", f.span, { message: `config field \`${f.name.name}\` has no default`, help: "give it one: `name: type = value`" });
      }
      const fitted = fitType(f.type, v, file, ctx);
      if (!fitted) throw new ElabError("IV2004", f.default?.span ?? f.span, { key: f.name.name, expected: typeName(f.type), found: describe(v) });
      fields.set(f.name.name, fitted);
      scope.define(f.name.name, fitted);
    } catch (e) {
      if (!(e instanceof ElabError)) throw e;
      ctx.reportError(e);
      fields.set(f.name.name, { k: "poison" });
    }
  }
  return { k: "config", name: decl.name.name, fields };
}

function withField(cfg: ConfigValue, decl: ConfigDecl, file: string, path: readonly string[], v: Value, span: Span | undefined, ctx: ElabContext): ConfigValue {
  const [key, ...rest] = path;
  const field = decl.fields.find((f) => f.name.name === key);
  if (!field) {
    const keys = decl.fields.map((f) => f.name.name);
    const near = suggest(key!, keys);
    throw new ElabError("IV2003", span, { key: key!, config: decl.name.name, keys: keys.join(", ") }, near ? { help: `did you mean \`${near}\`? the keys of \`${decl.name.name}\` are ${keys.join(", ")}` } : {});
  }
  const fields = new Map(cfg.fields);
  if (rest.length > 0) {
    const nested = field.type.kind === "namedType" ? configRef(field.type.name.name, file, ctx) : undefined;
    const current = cfg.fields.get(key!);
    if (!nested || current?.k !== "config") {
      throw new ElabError("IV2003", span, { key: path.join("."), config: decl.name.name, keys: `\`${key}\` is not a nested config` });
    }
    fields.set(key!, withField(current, nested.decl, nested.file, rest, v, span, ctx));
    return { ...cfg, fields };
  }
  const fitted = fitType(field.type, v, file, ctx);
  if (!fitted) throw new ElabError("IV2004", span, { key: path.join("."), expected: typeName(field.type), found: describe(v) });
  fields.set(key!, fitted);
  return { ...cfg, fields };
}

/** The config a preset describes, following `preset a: b` chains down to a config. */
export function presetConfig(preset: PresetDecl, file: string, ctx: ElabContext, seen = new Set<string>()): { cfg: ConfigValue; decl: ConfigDecl; file: string } | undefined {
  if (seen.has(preset.name.name)) {
    ctx.report("IV3008", preset.base.span, { message: `preset \`${preset.name.name}\` builds on itself`, help: "" });
    return undefined;
  }
  seen.add(preset.name.name);
  const ref = ctx.resolved.scopes.get(file)?.get(preset.base.name);
  let base: { cfg: ConfigValue; decl: ConfigDecl; file: string } | undefined;
  if (ref?.decl.kind === "config") base = { cfg: configDefaults(ref.decl, ref.file, ctx), decl: ref.decl, file: ref.file };
  else if (ref?.decl.kind === "preset") base = presetConfig(ref.decl, ref.file, ctx, seen);
  else {
    ctx.report("IV2001", preset.base.span, { name: preset.base.name, help: "a preset builds on a `config` or another `preset`" });
    return undefined;
  }
  if (!base) return undefined;
  let cfg = base.cfg;
  const env: Env = { scope: new Scope(), file, dims: new Map() };
  for (const o of preset.overrides) {
    try {
      for (const [k, v] of cfg.fields) env.scope.define(k, v);
      const path = o.key.segments.map((s) => s.text);
      cfg = withField(cfg, base.decl, base.file, path, evalExpr(o.value, env, ctx), o.value.span, ctx);
    } catch (e) {
      if (!(e instanceof ElabError)) throw e;
      ctx.reportError(e);
    }
  }
  return { cfg, decl: base.decl, file: base.file };
}

/** Parses `--set` values: JSON-ish literals (numbers, true/false, lists), else a plain string. */
export function parseSetValue(text: string): Value {
  try {
    return fromJs(JSON.parse(text));
  } catch {
    return { k: "string", v: text };
  }
}

export function applySets(cfg: ConfigValue, decl: ConfigDecl, file: string, sets: readonly string[], ctx: ElabContext): ConfigValue {
  let out = cfg;
  for (const s of sets) {
    const eq = s.indexOf("=");
    if (eq <= 0) {
      ctx.report("IV3008", undefined, { message: `--set ${s}: expected key=value`, help: "e.g. --set width=128" });
      continue;
    }
    try {
      out = withField(out, decl, file, s.slice(0, eq).trim().split("."), parseSetValue(s.slice(eq + 1).trim()), undefined, ctx);
    } catch (e) {
      if (!(e instanceof ElabError)) throw e;
      ctx.reportError(e);
    }
  }
  return out;
}

export type { ConfigValue, DeclRef };
