/**
 * The compiler pipeline, front to back, as one list of passes. Each pass is a module with one pure
 * entry function; this file only sequences them and collects diagnostics.
 *
 *   resolve     compiler/resolve     imports, symbol tables
 *   elaborate   compiler/elaborate   configs/presets, module instantiation, forward -> graph IR;
 *                                    shapes are inferred and checked as each node is built
 *   simplify    compiler/simplify    CSE, DCE, folding
 *   autodiff    compiler/autodiff    backward graph for the stage's trainable parameters
 *   freeze      compiler/freeze      trainable set per stage, warnings
 */
import { dirname, isAbsolute, relative, resolve as resolvePath } from "node:path";
import { fileURLToPath } from "node:url";
import { type Diagnostic, hasErrors } from "../diagnostics/index.ts";
import { parseIvm, readSource } from "../grammar/index.ts";
import { differentiate } from "./autodiff/index.ts";
import { type Elaborated, type ElaborateOptions, elaborate } from "./elaborate/index.ts";
import { analyzeFreeze, type FreezeReport } from "./freeze/index.ts";
import type { Graph } from "./ir/types.ts";
import { type LoadedSource, type Resolved, type ResolveHost, resolveProgram } from "./resolve/index.ts";
import { simplify } from "./simplify/index.ts";

const STDLIB_ABSOLUTE = resolvePath(dirname(fileURLToPath(import.meta.url)), "..", "stdlib");

/** Relative to the working directory when below it, so diagnostics and IR dumps read `stdlib/nn.ivm:34:5`. */
export const STDLIB_DIR = (() => {
  const rel = relative(process.cwd(), STDLIB_ABSOLUTE);
  return rel && !rel.startsWith("..") && !isAbsolute(rel) ? rel : STDLIB_ABSOLUTE;
})();

/** Reads and parses files from disk, caching by path. */
export function diskHost(stdlibDir = STDLIB_DIR): ResolveHost {
  const cache = new Map<string, LoadedSource | undefined>();
  return {
    stdlibDir,
    load(path) {
      if (!cache.has(path)) {
        const src = readSource(path);
        if (src.diagnostics.some((d) => d.code === "IV1007")) cache.set(path, undefined);
        else {
          const parsed = parseIvm(src.text, path);
          cache.set(path, { text: src.text, program: parsed.program, diagnostics: [...src.diagnostics, ...parsed.diagnostics] });
        }
      }
      return cache.get(path);
    },
  };
}

/** In-memory sources for tests: `{ "main.ivm": "...", "/stdlib/nn.ivm": "..." }`. */
export function memoryHost(files: Readonly<Record<string, string>>, stdlibDir = STDLIB_DIR): ResolveHost {
  const disk = diskHost(stdlibDir);
  return {
    stdlibDir,
    load(path) {
      const text = files[path];
      if (text === undefined) return disk.load(path);
      const parsed = parseIvm(text, path);
      return { text, program: parsed.program, diagnostics: parsed.diagnostics };
    },
  };
}

export interface CompileOptions extends ElaborateOptions {
  /** Build the backward graph (needs `stage`). */
  readonly differentiate?: boolean;
}

export interface Compiled {
  readonly resolved: Resolved;
  readonly elaborated?: Elaborated;
  /** The forward graph after simplification (eval) or forward+backward (train). */
  readonly graph?: Graph;
  readonly freeze?: FreezeReport;
  readonly diagnostics: Diagnostic[];
  readonly sources: ReadonlyMap<string, string>;
}

export function compileModel(entry: string, opts: CompileOptions = {}, host: ResolveHost = diskHost()): Compiled {
  const resolved = resolveProgram(entry, host);
  const diagnostics: Diagnostic[] = [...resolved.diagnostics];
  const done = (extra: Partial<Compiled> = {}): Compiled => ({ resolved, diagnostics, sources: resolved.sources, ...extra });
  if (hasErrors(diagnostics)) return done();

  const elaborated = elaborate(resolved, opts);
  diagnostics.push(...elaborated.diagnostics);
  if (hasErrors(diagnostics)) return done({ elaborated });

  let graph = simplify(elaborated.graph);
  let freeze: FreezeReport | undefined;
  if (elaborated.stage) {
    freeze = analyzeFreeze(graph, elaborated.stage);
    diagnostics.push(...freeze.diagnostics);
    if (opts.differentiate && !hasErrors(diagnostics)) {
      const trainable = new Set(freeze.trainable);
      const d = differentiate(graph, { loss: "loss", wrt: (p) => trainable.has(p.path) });
      graph = simplify(d.graph);
    }
  }
  return done({ elaborated, graph, freeze });
}
