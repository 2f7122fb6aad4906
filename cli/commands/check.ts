/**
 * `ivc check FILE... [--preset P] [--json]`: parse (and, through the semantic-check hook, resolve,
 * elaborate and shape-check) .ivm files and report every diagnostic.
 * Exit 0 when clean or only warnings, 1 with errors, 2 for a file that cannot be read.
 */
import { statSync } from "node:fs";
import type { Command } from "commander";
import {
  type Diagnostic,
  diagnosticsToJson,
  hasErrors,
  renderDiagnostics,
  summarizeDiagnostics,
} from "../../diagnostics/index.ts";
import { parseIvm, readSource, type Program } from "../../grammar/index.ts";
import { UsageError } from "../errors.ts";
import { stderrColor } from "../model-options.ts";
import { elaborationCheck } from "../semantic-check.ts";

export interface SemanticCheckInput {
  /** Files as given, each parsed without syntax errors. */
  readonly paths: readonly string[];
  readonly programs: ReadonlyMap<string, Program>;
  readonly sources: ReadonlyMap<string, string>;
  readonly preset?: string;
}

/**
 * A check that runs after a clean parse. compiler/pipeline.ts's `checkProgram` (resolve, elaborate,
 * shapes) plugs in through DEFAULT_SEMANTIC_CHECKS; files with syntax errors are not handed on, so
 * a typo never cascades into name or shape errors. Checks add the texts of files they load
 * themselves (imports) to `sources` in their result so that those diagnostics render with snippets.
 */
export type SemanticCheck = (input: SemanticCheckInput) => Promise<SemanticCheckResult> | SemanticCheckResult;

export interface SemanticCheckResult {
  readonly diagnostics: readonly Diagnostic[];
  readonly sources?: ReadonlyMap<string, string>;
}

export const DEFAULT_SEMANTIC_CHECKS: readonly SemanticCheck[] = [elaborationCheck];

export interface CheckOptions {
  readonly preset?: string;
  readonly semanticChecks?: readonly SemanticCheck[];
}

export interface CheckResult {
  readonly diagnostics: Diagnostic[];
  /** Every file's text by the path used in the diagnostics' spans, for renderDiagnostics. */
  readonly sources: Map<string, string>;
  readonly programs: Map<string, Program>;
}

/** An undecodable byte is reported once by IV1006, not again as an unexpected `\uFFFD` character. */
function withoutReplacementCharErrors(diagnostics: readonly Diagnostic[]): Diagnostic[] {
  return diagnostics.filter((d) => !(d.code === "IV1001" && d.message.includes("\uFFFD")));
}

export async function checkFiles(paths: readonly string[], opts: CheckOptions = {}): Promise<CheckResult> {
  const diagnostics: Diagnostic[] = [];
  const sources = new Map<string, string>();
  const programs = new Map<string, Program>();
  const clean: string[] = [];
  for (const path of paths) {
    const source = readSource(path);
    sources.set(path, source.text);
    if (source.diagnostics.some((d) => d.code === "IV1007")) {
      diagnostics.push(...source.diagnostics);
      continue;
    }
    const parsed = parseIvm(source.text, path);
    programs.set(path, parsed.program);
    const fileDiagnostics = source.diagnostics.length > 0 ? withoutReplacementCharErrors(parsed.diagnostics) : parsed.diagnostics;
    diagnostics.push(...source.diagnostics, ...fileDiagnostics);
    if (!hasErrors(source.diagnostics) && !hasErrors(fileDiagnostics)) clean.push(path);
  }
  const checks = opts.semanticChecks ?? DEFAULT_SEMANTIC_CHECKS;
  if (clean.length > 0) {
    const input: SemanticCheckInput = {
      paths: clean,
      programs: new Map(clean.map((p) => [p, programs.get(p)!])),
      sources,
      ...(opts.preset !== undefined ? { preset: opts.preset } : {}),
    };
    for (const check of checks) {
      const result = await check(input);
      diagnostics.push(...result.diagnostics);
      for (const [file, text] of result.sources ?? []) if (!sources.has(file)) sources.set(file, text);
    }
  }
  return { diagnostics, sources, programs };
}

function assertReadable(path: string): void {
  let isFile = false;
  try {
    isFile = statSync(path).isFile();
  } catch {
    throw new UsageError(`cannot read \`${path}\`: no such file`);
  }
  if (!isFile) throw new UsageError(`cannot read \`${path}\`: not a file`);
}

export function registerCheck(program: Command): void {
  program
    .command("check")
    .description("Parse and check .ivm files; report errors with file:line:col")
    .argument("<files...>", ".ivm files to check")
    .option("--preset <name>", "check the model as configured by this preset")
    .option("--json", "print the diagnostics as a JSON array on stdout")
    .action(async (files: string[], opts: { preset?: string; json?: boolean }) => {
      for (const f of files) assertReadable(f);
      const result = await checkFiles(files, opts.preset !== undefined ? { preset: opts.preset } : {});
      if (opts.json) {
        process.stdout.write(`${JSON.stringify(diagnosticsToJson(result.diagnostics), null, 2)}\n`);
      } else if (result.diagnostics.length > 0) {
        process.stderr.write(renderDiagnostics(result.diagnostics, result.sources, { color: stderrColor() }));
        process.stderr.write(`\n${summarizeDiagnostics(result.diagnostics)}\n`);
      } else {
        process.stdout.write(`ok: ${files.length} file${files.length === 1 ? "" : "s"} checked\n`);
      }
      process.exitCode = hasErrors(result.diagnostics) ? 1 : 0;
    });
}
