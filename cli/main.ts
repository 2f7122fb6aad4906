/**
 * The `ivc` command line. Exit codes: 0 success, 1 diagnostics in the user's input, 2 usage errors
 * (unknown flag, missing file), 3 an internal error (a bug in ivc, reported without a stack trace
 * unless IVC_DEBUG=1).
 */
import { Command, CommanderError } from "commander";
import { UsageError, UserError } from "./errors.ts";
import { DiagnosticsReported } from "./model-options.ts";
import { registerCommands } from "./commands/index.ts";

export const EXIT_OK = 0;
export const EXIT_DIAGNOSTICS = 1;
export const EXIT_USAGE = 2;
export const EXIT_INTERNAL = 3;

export function buildProgram(): Command {
  const program = new Command("ivc")
    .description("Compile declarative video-model specs (.ivm) to fused WGSL kernels and run them on Dawn.")
    .version("0.1.0")
    .showSuggestionAfterError(true)
    .exitOverride()
    .configureOutput({ writeErr: (s) => process.stderr.write(s) });
  registerCommands(program);
  for (const cmd of program.commands) cmd.exitOverride();
  return program;
}

export async function main(argv: readonly string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync([...argv], { from: "user" });
    return typeof process.exitCode === "number" ? process.exitCode : EXIT_OK;
  } catch (e) {
    if (e instanceof CommanderError) {
      if (e.code === "commander.helpDisplayed" || e.code === "commander.version" || e.code === "commander.help") {
        return EXIT_OK;
      }
      return EXIT_USAGE; // commander has already printed its one-line error
    }
    if (e instanceof DiagnosticsReported) return EXIT_DIAGNOSTICS;
    if (e instanceof UsageError) {
      process.stderr.write(`error: ${e.message}\n`);
      return EXIT_USAGE;
    }
    if (e instanceof UserError) {
      process.stderr.write(`error${e.code ? `[${e.code}]` : ""}: ${e.message}\n`);
      if (e.help) process.stderr.write(`  help: ${e.help}\n`);
      return EXIT_DIAGNOSTICS;
    }
    const err = e as Error;
    process.stderr.write(
      `internal error: ${err?.message ?? String(e)}\n  help: this is a bug in ivc; rerun with IVC_DEBUG=1 for the stack trace and report it\n`,
    );
    if (process.env.IVC_DEBUG) process.stderr.write(`${err?.stack ?? ""}\n`);
    return EXIT_INTERNAL;
  }
}
