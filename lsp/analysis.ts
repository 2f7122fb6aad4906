/**
 * What the language server knows about an open file: its parse, its resolution (symbol tables of it
 * and everything it imports) and, when it declares models or train stages, the elaborated graphs.
 * Unsaved text of every open document is used through an in-memory host (compiler/pipeline.ts), so
 * diagnostics and hovers follow the editor buffer, not the disk.
 */
import { resolve as resolvePath } from "node:path";
import { type Compiled, compileModel, memoryHost, STDLIB_DIR } from "../compiler/pipeline.ts";
import { type Resolved, resolveProgram } from "../compiler/resolve/index.ts";
import type { Graph } from "../compiler/ir/types.ts";
import { type Diagnostic, hasErrors } from "../diagnostics/index.ts";
import { parseIvm, type Program } from "../grammar/index.ts";

export interface Analysis {
  readonly path: string;
  readonly text: string;
  readonly program: Program;
  readonly resolved: Resolved;
  /** Diagnostics whose span is in this file or that have no span (model-level ones). */
  readonly diagnostics: readonly Diagnostic[];
  /** One per elaborated model or stage: the graph and the config it was built with. */
  readonly builds: readonly Build[];
}

export interface Build {
  /** `model UniFormerV2` or `stage finetune`. */
  readonly label: string;
  readonly graph: Graph;
  readonly config?: Readonly<Record<string, unknown>>;
  /** Every module instance: its dotted path (`""` for the model) and its module's name. */
  readonly modules: readonly { readonly path: string; readonly type: string }[];
}

function key(d: Diagnostic): string {
  return `${d.code}|${d.span ? `${d.span.file}:${d.span.offset}-${d.span.endOffset}` : ""}|${d.message}`;
}

export class Workspace {
  /** Open documents by file path: the text the editor has, saved or not. */
  private readonly open = new Map<string, string>();
  private readonly cache = new Map<string, Analysis>();

  /** Absolute: editors name files by absolute URIs, and a stdlib file must be the same file both ways. */
  constructor(readonly stdlibDir = resolvePath(STDLIB_DIR)) {}

  setText(path: string, text: string): void {
    this.open.set(path, text);
    // Any open file may import this one: their analyses are stale too.
    this.cache.clear();
  }

  close(path: string): void {
    this.open.delete(path);
    this.cache.clear();
  }

  textOf(path: string): string | undefined {
    return this.open.get(path);
  }

  openPaths(): string[] {
    return [...this.open.keys()];
  }

  /** Parse, resolve and (for files with models or stages, when those are clean) elaborate. */
  analyze(path: string): Analysis {
    const cached = this.cache.get(path);
    if (cached) return cached;
    const text = this.open.get(path) ?? "";
    const host = memoryHost(Object.fromEntries(this.open), this.stdlibDir);
    const parsed = parseIvm(text, path);
    const resolved = resolveProgram(path, host);
    const found: Diagnostic[] = [];
    const seen = new Set<string>();
    const add = (ds: readonly Diagnostic[]) => {
      for (const d of ds) {
        if (d.span && d.span.file !== path) continue;
        if (!seen.has(key(d))) {
          seen.add(key(d));
          found.push(d);
        }
      }
    };
    add(parsed.diagnostics);
    add(resolved.diagnostics);
    const builds: Build[] = [];
    // Like `ivc check`: a syntax error stops here, so a typo never cascades into shape errors.
    if (!hasErrors(parsed.diagnostics) && !hasErrors(resolved.diagnostics)) {
      const models = parsed.program.decls.filter((d) => d.kind === "module" && d.role === "model").map((d) => d.name.name);
      const stages = parsed.program.decls.filter((d) => d.kind === "trainStage").map((d) => d.name.name);
      const runs: [string, () => Compiled][] = [
        ...models.map((model): [string, () => Compiled] => [`model ${model}`, () => compileModel(path, { model }, host)]),
        ...stages.map((stage): [string, () => Compiled] => [`stage ${stage}`, () => compileModel(path, { stage }, host)]),
      ];
      for (const [label, run] of runs) {
        const compiled = run();
        add(compiled.diagnostics);
        const e = compiled.elaborated;
        if (e) builds.push({ label, graph: e.graph, modules: e.modules, ...(e.config ? { config: e.config } : {}) });
      }
    }
    const analysis: Analysis = { path, text, program: parsed.program, resolved, diagnostics: found, builds };
    this.cache.set(path, analysis);
    return analysis;
  }

  /** Builds of every open file whose graph has nodes from `path` (a library file is typed by its users). */
  buildsCovering(path: string): Build[] {
    const out: Build[] = [];
    for (const p of this.open.keys()) {
      for (const b of this.analyze(p).builds) if (b.graph.nodes.some((n) => n.spans.some((s) => s.file === path))) out.push(b);
    }
    return out;
  }
}
