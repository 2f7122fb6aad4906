/**
 * The elaborator's shared state: the graph under construction, diagnostics, scopes, and the
 * bookkeeping `ivc info` needs (module instances).
 */
import type { Span } from "../../diagnostics/span.ts";
import {
  type Diagnostic,
  type DiagnosticCode,
  type DiagnosticExtras,
  type TemplateArgs,
  makeDiagnostic,
} from "../../diagnostics/index.ts";
import { GraphBuilder } from "../ir/builder.ts";
import type { Dim } from "../ir/dims.ts";
import type { Resolved } from "../resolve/index.ts";
import type { ModuleInstance, Value } from "./values.ts";

/** A located failure inside elaboration; caught per statement and turned into a diagnostic. */
export class ElabError extends Error {
  constructor(
    readonly code: DiagnosticCode,
    readonly span: Span | undefined,
    readonly args: TemplateArgs,
    readonly extras: DiagnosticExtras = {},
  ) {
    super(String(args.message ?? code));
  }
}

/** Raised where a value is needed but an earlier error left poison: poisons silently, reports nothing. */
export class Poisoned extends ElabError {
  constructor() {
    super("IV3008", undefined, { message: "poisoned", help: "" });
  }
}

export class Scope {
  private readonly vars = new Map<string, Value>();
  constructor(readonly parent?: Scope) {}

  lookup(name: string): Value | undefined {
    return this.vars.get(name) ?? this.parent?.lookup(name);
  }

  define(name: string, v: Value): void {
    this.vars.set(name, v);
  }

  /** Rebinds `name` where it is defined; false when it is defined nowhere. */
  assign(name: string, v: Value): boolean {
    if (this.vars.has(name)) {
      this.vars.set(name, v);
      return true;
    }
    return this.parent?.assign(name, v) ?? false;
  }

  names(): string[] {
    return [...this.vars.keys(), ...(this.parent?.names() ?? [])];
  }
}

/** Where a symbolic or inferred dim got its value, for "T bound to 8 at x.ivm:3:5" notes. */
export interface DimBinding {
  readonly value: Dim;
  readonly span: Span;
}

export interface Env {
  readonly scope: Scope;
  /** File whose top-level names are visible. */
  readonly file: string;
  /** The module whose members are visible (absent at stage level). */
  readonly inst?: ModuleInstance;
  /** Dims bound while matching the current forward's signature. */
  readonly dims: Map<string, DimBinding>;
}

export class ElabContext {
  readonly b = new GraphBuilder();
  readonly diagnostics: Diagnostic[] = [];
  readonly instances: ModuleInstance[] = [];
  /** Streams for counter-based random ops: each dropout site gets its own. */
  private nextStream = 1;
  /** Guards against a module that (indirectly) instantiates itself. */
  depth = 0;
  /** Symbolic dims of graph inputs (`B`) and where they were introduced. */
  readonly symbols = new Map<string, DimBinding>();

  constructor(
    readonly resolved: Resolved,
    readonly training: boolean,
  ) {}

  report(code: DiagnosticCode, span: Span | undefined, args: TemplateArgs = {}, extras: DiagnosticExtras = {}): void {
    this.diagnostics.push(makeDiagnostic(code, span, args, extras));
  }

  reportError(e: ElabError): void {
    if (e instanceof Poisoned) return;
    this.report(e.code, e.span, e.args, e.extras);
  }

  stream(): number {
    return this.nextStream++;
  }
}

/** Closest names by edit distance, for "did you mean" help. */
export function suggest(name: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDist = Math.max(2, Math.floor(name.length / 3)) + 1;
  for (const c of new Set(candidates)) {
    const d = editDistance(name, c);
    if (d < bestDist) {
      bestDist = d;
      best = c;
    }
  }
  return best;
}

function editDistance(a: string, b: string): number {
  const prev = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let diag = prev[0]!;
    prev[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = prev[j]!;
      prev[j] = Math.min(prev[j]! + 1, prev[j - 1]! + 1, diag + (a[i - 1] === b[j - 1] ? 0 : 1));
      diag = tmp;
    }
  }
  return prev[b.length]!;
}
