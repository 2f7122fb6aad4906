/**
 * Name lookup for the editor features, following the language's scoping (docs/language.md): names
 * local to a module (parameters, `let`s, sub-modules, tensors, loop variables) and to a forward
 * (inputs, `let` patterns, loop variables), then the file's top-level scope (own declarations and
 * imports, from compiler/resolve). In a train stage `cfg` is the model's config and `model` the model.
 */
import type { ConfigDecl, ConfigField, Identifier, ModuleDecl, TrainStageDecl } from "../grammar/ast.ts";
import type { DeclRef, Resolved } from "../compiler/resolve/index.ts";
import { type AnyNode, walk } from "./ast-walk.ts";

export interface LocalName {
  readonly id: Identifier;
  readonly what: "parameter" | "let" | "submodule" | "param" | "buffer" | "loop variable" | "input";
  /** The declared type as written, for parameters and tensors. */
  readonly node: AnyNode;
}

/** Names declared in the module and forward around `chain`'s innermost node, in source order. */
export function localNames(chain: readonly AnyNode[]): LocalName[] {
  const out: LocalName[] = [];
  const mod = chain.find((n): n is ModuleDecl => n.kind === "module");
  if (mod) {
    for (const p of mod.params) out.push({ id: p.name, what: "parameter", node: p });
    for (const n of walk({ members: mod.members })) {
      if (n.kind === "letMember") out.push({ id: n.name, what: "let", node: n });
      else if (n.kind === "submodule") out.push({ id: n.target.name, what: "submodule", node: n });
      else if (n.kind === "tensorMember") out.push({ id: n.target.name, what: n.role, node: n });
      else if (n.kind === "forMember") out.push({ id: n.variable, what: "loop variable", node: n });
    }
  }
  const fwd = [...chain].reverse().find((n) => n.kind === "forward");
  if (fwd?.kind === "forward") {
    for (const p of fwd.params) out.push({ id: p.name, what: "input", node: p });
    for (const n of walk({ body: fwd.body })) {
      if (n.kind === "namePattern") out.push({ id: n.name, what: "let", node: n });
      else if (n.kind === "for") out.push({ id: n.variable, what: "loop variable", node: n });
    }
  }
  return out;
}

/** The declaration a local name refers to at `offset`: the nearest one before it, else the first. */
export function findLocal(chain: readonly AnyNode[], name: string, offset: number): LocalName | undefined {
  const all = localNames(chain).filter((l) => l.id.name === name);
  const before = all.filter((l) => l.id.span.offset <= offset);
  return before.at(-1) ?? all[0];
}

export function findGlobal(resolved: Resolved, file: string, name: string): DeclRef | undefined {
  return resolved.scopes.get(file)?.get(name);
}

/** The config a preset configures, following `preset b: a` chains. */
function presetConfig(resolved: Resolved, ref: DeclRef | undefined, depth = 0): { decl: ConfigDecl; file: string } | undefined {
  if (!ref || depth > 32) return undefined;
  if (ref.decl.kind === "config") return { decl: ref.decl, file: ref.file };
  if (ref.decl.kind === "preset") return presetConfig(resolved, findGlobal(resolved, ref.file, ref.decl.base.name), depth + 1);
  return undefined;
}

export function configOf(resolved: Resolved, file: string, typeName: string): { decl: ConfigDecl; file: string } | undefined {
  return presetConfig(resolved, findGlobal(resolved, file, typeName));
}

/** The config a name stands for: a module parameter typed by a config, or `cfg` in a train stage. */
export function configOfName(resolved: Resolved, file: string, chain: readonly AnyNode[], name: string): { decl: ConfigDecl; file: string } | undefined {
  const stage = chain.find((n): n is TrainStageDecl => n.kind === "trainStage");
  if (stage && name === "cfg") {
    const model = findGlobal(resolved, file, stage.model.name);
    if (model?.decl.kind !== "module") return undefined;
    const t = model.decl.params[0]?.type;
    return t?.kind === "namedType" ? configOf(resolved, model.file, t.name.name) : undefined;
  }
  const local = findLocal(chain, name, Number.MAX_SAFE_INTEGER);
  if (local?.what !== "parameter" || local.node.kind !== "parameter") return undefined;
  const t = local.node.type;
  return t.kind === "namedType" ? configOf(resolved, file, t.name.name) : undefined;
}

/** Follows `a.b.c` through nested config fields; the field of the last segment and its config. */
export function configField(
  resolved: Resolved,
  start: { decl: ConfigDecl; file: string },
  segments: readonly string[],
): { field: ConfigField; config: { decl: ConfigDecl; file: string } } | undefined {
  let config = start;
  for (let i = 0; i < segments.length; i++) {
    const field = config.decl.fields.find((f) => f.name.name === segments[i]);
    if (!field) return undefined;
    if (i === segments.length - 1) return { field, config };
    const next = field.type.kind === "namedType" ? configOf(resolved, config.file, field.type.name.name) : undefined;
    if (!next) return undefined;
    config = next;
  }
  return undefined;
}
