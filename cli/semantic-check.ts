/**
 * The semantic half of `ivc check`: resolve and elaborate every file that parsed cleanly, so that
 * name, config and shape errors (IV2xxx, IV3xxx, IV4xxx) are reported with their location.
 *
 *   a file with `model`s   each model is elaborated in eval mode (with `--preset` when given), and
 *                          each `train stage` in training mode, so shape errors in a loss are found
 *   a library file         resolved only: its modules have no config to instantiate them with
 *
 * Files named on the command line are served from the programs check.ts already parsed (their parse
 * warnings are reported there, not twice); imported files are read from disk and their own parse
 * diagnostics are reported here.
 */
import type { Diagnostic } from "../diagnostics/index.ts";
import { compileModel, diskHost } from "../compiler/pipeline.ts";
import { type ResolveHost, resolveProgram } from "../compiler/resolve/index.ts";
import type { SemanticCheck, SemanticCheckInput, SemanticCheckResult } from "./commands/check.ts";

function checkHost(input: SemanticCheckInput): ResolveHost {
  const disk = diskHost();
  return {
    stdlibDir: disk.stdlibDir,
    load(path) {
      const program = input.programs.get(path);
      const text = input.sources.get(path);
      if (program && text !== undefined) return { text, program, diagnostics: [] };
      return disk.load(path);
    },
  };
}

function key(d: Diagnostic): string {
  const s = d.span;
  return `${d.code}|${s ? `${s.file}:${s.offset}-${s.endOffset}` : ""}|${d.message}`;
}

export const elaborationCheck: SemanticCheck = (input): SemanticCheckResult => {
  const host = checkHost(input);
  const diagnostics: Diagnostic[] = [];
  const seen = new Set<string>();
  const sources = new Map<string, string>();
  const add = (found: readonly Diagnostic[], loaded: ReadonlyMap<string, string>) => {
    for (const d of found) {
      const k = key(d);
      if (!seen.has(k)) {
        seen.add(k);
        diagnostics.push(d);
      }
    }
    for (const [file, text] of loaded) if (!sources.has(file)) sources.set(file, text);
  };
  for (const path of input.paths) {
    const program = input.programs.get(path)!;
    const models = program.decls.filter((d) => d.kind === "module" && d.role === "model").map((d) => d.name.name);
    const stages = program.decls.filter((d) => d.kind === "trainStage").map((d) => d.name.name);
    if (models.length === 0 && stages.length === 0) {
      const resolved = resolveProgram(path, host);
      add(resolved.diagnostics, resolved.sources);
      continue;
    }
    const preset = input.preset !== undefined ? { preset: input.preset } : {};
    for (const model of models) {
      const compiled = compileModel(path, { ...preset, model }, host);
      add(compiled.diagnostics, compiled.sources);
    }
    for (const stage of stages) {
      const compiled = compileModel(path, { ...preset, stage }, host);
      add(compiled.diagnostics, compiled.sources);
    }
  }
  return { diagnostics, sources };
};
