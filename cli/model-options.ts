/** Options shared by the commands that compile a model: --preset, --set, --stage, --model. */
import { statSync } from "node:fs";
import type { Command } from "commander";
import { hasErrors, renderDiagnostics, summarizeDiagnostics } from "../diagnostics/index.ts";
import type { Compiled } from "../compiler/pipeline.ts";
import type { StoragePrecision } from "../compiler/schedule/plan.ts";
import { UsageError } from "./errors.ts";

export interface ModelFlags {
  preset?: string;
  set: string[];
  stage?: string;
  model?: string;
}

export function modelOptions(cmd: Command): Command {
  return cmd
    .option("--preset <name>", "configure the model with this preset")
    .option("--set <key=value>", "override a config value (repeatable)", (v: string, acc: string[]) => [...acc, v], [] as string[])
    .option("--stage <name>", "a train stage (its freeze lists apply)")
    .option("--model <name>", "which model of the file, when it declares several");
}

/** A flag's value as a positive integer, or a usage error naming the flag. */
export function positiveInt(flag: string, text: string): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1) throw new UsageError(`${flag} must be a positive integer, got '${text}'`);
  return n;
}

/** `--precision`: how intermediates are stored (compile and train). */
export function storagePrecision(text: string | undefined): StoragePrecision {
  if (text === undefined || text === "f32" || text === "f16") return text ?? "f32";
  throw new UsageError(`--precision must be f32 or f16, got '${text}'`);
}

export const PRECISION_HELP = "storage of activations: f32 (default) or f16 (forward activations stored as f16, computed in f32; needs the adapter's shader-f16)";

export function assertReadable(path: string): void {
  let isFile = false;
  try {
    isFile = statSync(path).isFile();
  } catch {
    throw new UsageError(`cannot read \`${path}\`: no such file`);
  }
  if (!isFile) throw new UsageError(`cannot read \`${path}\`: not a file`);
}

/**
 * Whether diagnostics on stderr get colour: a terminal, unless NO_COLOR. In a terminal bin/ivc.mjs
 * runs the CLI with stderr piped through its filter and says so with IVC_STDERR_COLOR.
 */
export function stderrColor(): boolean {
  return (Boolean(process.stderr.isTTY) || process.env.IVC_STDERR_COLOR === "1") && !process.env.NO_COLOR;
}

/** Thrown after diagnostics were printed: the command exits 1 with nothing more to say. */
export class DiagnosticsReported extends Error {}

/** Prints the diagnostics; throws DiagnosticsReported (exit 1) when any is an error. */
export function failOnDiagnostics(c: Pick<Compiled, "diagnostics" | "sources">): void {
  if (c.diagnostics.length === 0) return;
  process.stderr.write(renderDiagnostics(c.diagnostics, c.sources as Map<string, string>, { color: stderrColor() }));
  if (hasErrors(c.diagnostics)) {
    process.stderr.write(`\n${summarizeDiagnostics(c.diagnostics)}\n`);
    throw new DiagnosticsReported();
  }
}
