/**
 * Resolve: loads the entry file and everything it imports (stdlib via `std/<name>`, relative files),
 * and builds one symbol table per file. Pure apart from the injected loader, so tests can feed
 * in-memory sources.
 */
import type { ImportDecl, Program, TopDecl } from "../../grammar/ast.ts";
import { type Diagnostic, makeDiagnostic } from "../../diagnostics/index.ts";

export type Decl = Exclude<TopDecl, never>;

export interface DeclRef {
  readonly decl: Decl;
  readonly file: string;
}

export interface Resolved {
  readonly entry: string;
  readonly programs: ReadonlyMap<string, Program>;
  /** Per file: every name visible at top level (own declarations and imports). */
  readonly scopes: ReadonlyMap<string, ReadonlyMap<string, DeclRef>>;
  /** Every source text loaded, for rendering diagnostics. */
  readonly sources: ReadonlyMap<string, string>;
  readonly diagnostics: readonly Diagnostic[];
}

export interface LoadedSource {
  readonly text: string;
  readonly program: Program;
  readonly diagnostics: readonly Diagnostic[];
}

export interface ResolveHost {
  /** Parses the file at a normalised path; undefined when it does not exist. */
  load(path: string): LoadedSource | undefined;
  /** Directory holding the stdlib `.ivm` files. */
  readonly stdlibDir: string;
}

function dirname(p: string): string {
  const i = p.lastIndexOf("/");
  return i < 0 ? "." : p.slice(0, i) || "/";
}

/** Joins and normalises `a/./b/../c` without touching the file system. */
export function joinPath(base: string, rel: string): string {
  const parts = (rel.startsWith("/") ? rel : `${base}/${rel}`).split("/");
  const out: string[] = [];
  for (const part of parts) {
    if (part === "." || part === "") continue;
    if (part === ".." && out.length > 0 && out[out.length - 1] !== "..") out.pop();
    else out.push(part);
  }
  const joined = out.join("/");
  return rel.startsWith("/") || base.startsWith("/") ? `/${joined}` : joined;
}

export function importTarget(imp: ImportDecl, fromFile: string, stdlibDir: string): string {
  if (imp.from.startsWith("std/")) {
    const name = imp.from.slice(4);
    return joinPath(stdlibDir, name.endsWith(".ivm") ? name : `${name}.ivm`);
  }
  const rel = imp.from.endsWith(".ivm") ? imp.from : `${imp.from}.ivm`;
  return joinPath(dirname(fromFile), rel);
}

export function resolveProgram(entry: string, host: ResolveHost): Resolved {
  const programs = new Map<string, Program>();
  const sources = new Map<string, string>();
  const diagnostics: Diagnostic[] = [];
  const pending = [entry];
  const missing = new Set<string>();

  while (pending.length > 0) {
    const file = pending.pop()!;
    if (programs.has(file) || missing.has(file)) continue;
    const loaded = host.load(file);
    if (!loaded) {
      missing.add(file);
      continue;
    }
    programs.set(file, loaded.program);
    sources.set(file, loaded.text);
    diagnostics.push(...loaded.diagnostics);
    for (const imp of loaded.program.imports) pending.push(importTarget(imp, file, host.stdlibDir));
  }

  const own = new Map<string, Map<string, DeclRef>>();
  for (const [file, program] of programs) {
    const table = new Map<string, DeclRef>();
    for (const decl of program.decls) {
      const name = decl.name.name;
      if (table.has(name)) {
        diagnostics.push(makeDiagnostic("IV2005", decl.name.span, { name }));
        continue;
      }
      table.set(name, { decl, file });
    }
    own.set(file, table);
  }

  const scopes = new Map<string, Map<string, DeclRef>>();
  for (const [file, program] of programs) {
    const scope = new Map(own.get(file)!);
    for (const imp of program.imports) {
      const target = importTarget(imp, file, host.stdlibDir);
      const exported = own.get(target);
      if (!exported) {
        diagnostics.push(makeDiagnostic("IV2006", imp.fromSpan, { module: imp.from }));
        continue;
      }
      for (const n of imp.names) {
        const ref = exported.get(n.name.name);
        if (!ref) {
          const available = [...exported.keys()].map((k) => `\`${k}\``).join(", ") || "nothing";
          diagnostics.push(makeDiagnostic("IV2002", n.name.span, { name: n.name.name, module: imp.from, available }));
          continue;
        }
        const local = (n.alias ?? n.name).name;
        if (scope.has(local) && scope.get(local) !== ref) {
          diagnostics.push(makeDiagnostic("IV2005", (n.alias ?? n.name).span, { name: local }));
          continue;
        }
        scope.set(local, ref);
      }
    }
    scopes.set(file, scope);
  }
  return { entry, programs, scopes, sources, diagnostics };
}
