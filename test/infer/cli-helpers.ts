/** Runs the `ivc` command line in-process (no tsx start-up per call) and captures what it prints. */
import { join } from "node:path";
import { main } from "../../cli/main.ts";
import { PARITY_DIR, type ParityCase, parityCases } from "../parity/parity-helpers.ts";

export interface CliResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

export async function ivc(...args: string[]): Promise<CliResult> {
  const out: string[] = [];
  const err: string[] = [];
  const stdoutWrite = process.stdout.write.bind(process.stdout);
  const stderrWrite = process.stderr.write.bind(process.stderr);
  process.stdout.write = ((chunk: string | Uint8Array) => out.push(String(chunk)) > 0) as typeof process.stdout.write;
  process.stderr.write = ((chunk: string | Uint8Array) => err.push(String(chunk)) > 0) as typeof process.stderr.write;
  // main() reports process.exitCode when a command set it; start each call clean and leave it clean.
  process.exitCode = undefined;
  try {
    const code = await main(args);
    return { code, stdout: out.join(""), stderr: err.join("") };
  } finally {
    process.stdout.write = stdoutWrite;
    process.stderr.write = stderrWrite;
    process.exitCode = undefined;
  }
}

export function parityCase(name: string): ParityCase {
  return parityCases().find((c) => c.name === name)!;
}

/** `FILE --model M --preset P --set ...` for a parity case. */
export function modelArgs(c: ParityCase): string[] {
  return [c.model_file, "--model", c.model, "--preset", c.preset, ...c.set.flatMap((s) => ["--set", s])];
}

export const fixturePath = (file: string) => join(PARITY_DIR, file);
