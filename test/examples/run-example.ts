/**
 * Runs an example's run.sh the way a user would (bash, from any directory), with OUT in a fresh
 * temporary directory. An example whose ivc commands do not exist yet is skipped with the reason
 * printed, so a missing command shows up in the test output instead of as a confusing failure.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export interface ExampleRun {
  readonly status: number | null;
  readonly stdout: string;
  readonly stderr: string;
  readonly out: string;
}

let commands: Set<string> | undefined;

/** The subcommands `ivc --help` lists. */
export function ivcCommands(): Set<string> {
  if (!commands) {
    const help = spawnSync(process.execPath, ["bin/ivc.mjs", "--help"], { encoding: "utf8" }).stdout;
    const section = help.slice(help.indexOf("Commands:"));
    commands = new Set([...section.matchAll(/^\s{2}([a-z-]+)\b/gm)].map((m) => m[1]!));
  }
  return commands;
}

/** Why the example cannot run here, or undefined when every command it needs exists. */
export function missingCommands(example: string, needs: readonly string[]): string | undefined {
  const missing = needs.filter((c) => !ivcCommands().has(c));
  if (missing.length === 0) return undefined;
  const reason = `examples/${example} skipped: ivc has no ${missing.map((c) => `\`${c}\``).join(", ")} command yet`;
  console.warn(reason);
  return reason;
}

export function runExample(example: string, env: Record<string, string> = {}): ExampleRun {
  const out = mkdtempSync(join(tmpdir(), `ivc-example-${example}-`));
  const r = spawnSync("bash", [`examples/${example}/run.sh`], {
    encoding: "utf8",
    env: { ...process.env, OUT: out, ENGINE: "cpu", NO_COLOR: "1", ...env },
    maxBuffer: 64 << 20,
  });
  if (r.status !== 0) console.error(`examples/${example}/run.sh failed:\n${r.stdout.slice(-4000)}\n${r.stderr.slice(-4000)}`);
  return { status: r.status, stdout: r.stdout, stderr: r.stderr, out };
}
