/**
 * `ivc fmt [--check] PATH...`: formats .ivm files in place with the prettier plugin in
 * tools/prettier-plugin-ivm (directories are searched for .ivm files). `--check` writes nothing and
 * exits 1 listing the files that are not formatted. A file with syntax errors is never rewritten:
 * its diagnostics are printed and the exit code is 1.
 *
 * `ivc lsp`: the language server (lsp/server.ts) over stdio, for editors.
 */
import { readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Command } from "commander";
import { FormatRefused, formatIvm } from "../../tools/prettier-plugin-ivm/format.ts";
import { UsageError } from "../errors.ts";

/** The .ivm files named or found under the named directories (node_modules and dot-directories skipped). */
export function ivmFiles(paths: readonly string[]): string[] {
  const out: string[] = [];
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      if (entry.name.startsWith(".") || entry.name === "node_modules") continue;
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (entry.isFile() && entry.name.endsWith(".ivm")) out.push(path);
    }
  };
  for (const p of paths) {
    let stat;
    try {
      stat = statSync(p);
    } catch {
      throw new UsageError(`cannot read \`${p}\`: no such file or directory`);
    }
    if (stat.isDirectory()) walk(p);
    else out.push(p);
  }
  return out;
}

export interface FmtResult {
  /** Files whose formatted text differs (rewritten, or only listed with --check). */
  readonly changed: string[];
  /** Files with syntax errors, left alone; the rendered diagnostics are in `messages`. */
  readonly refused: string[];
  readonly messages: string[];
}

export async function formatFiles(files: readonly string[], opts: { check: boolean }): Promise<FmtResult> {
  const result: FmtResult = { changed: [], refused: [], messages: [] };
  for (const file of files) {
    const text = readFileSync(file, "utf8");
    let formatted: string;
    try {
      formatted = await formatIvm(text, file, { resolveConfig: true });
    } catch (e) {
      if (!(e instanceof FormatRefused)) throw e;
      result.refused.push(file);
      result.messages.push(e.message);
      continue;
    }
    if (formatted === text) continue;
    result.changed.push(file);
    if (!opts.check) writeFileSync(file, formatted);
  }
  return result;
}

export function registerFmt(program: Command): void {
  program
    .command("fmt")
    .description("Format .ivm files in place (prettier with the ivm plugin); --check lists unformatted files")
    .argument("<paths...>", ".ivm files or directories")
    .option("--check", "write nothing; exit 1 if any file is not formatted")
    .action(async (paths: string[], opts: { check?: boolean }) => {
      const files = ivmFiles(paths);
      const r = await formatFiles(files, { check: Boolean(opts.check) });
      for (const m of r.messages) process.stderr.write(`${m}\n`);
      if (opts.check) {
        for (const f of r.changed) process.stdout.write(`${f}\n`);
        if (r.changed.length > 0) process.stderr.write(`${r.changed.length} file${r.changed.length === 1 ? " is" : "s are"} not formatted; run \`ivc fmt\` on ${r.changed.length === 1 ? "it" : "them"}\n`);
      } else {
        for (const f of r.changed) process.stdout.write(`formatted ${f}\n`);
      }
      process.exitCode = (opts.check && r.changed.length > 0) || r.refused.length > 0 ? 1 : 0;
    });

  program
    .command("lsp")
    .description("Run the .ivm language server on stdin/stdout (for editors)")
    .option("--stdio", "talk over stdin/stdout (the default; accepted because editors pass it)")
    .action(async () => {
      const { startServer } = await import("../../lsp/server.ts");
      startServer();
      // The connection keeps the process alive; resolve only when the client goes away.
      await new Promise<void>((resolve) => process.stdin.on("close", resolve));
    });
}
