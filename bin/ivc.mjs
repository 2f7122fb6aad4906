#!/usr/bin/env node
// Runs the TypeScript CLI directly through tsx's loader, so an install needs no build step.
//
// In a terminal the CLI runs as a child whose stderr passes through a filter: Dawn writes two
// harmless warnings about adapter limits ("... artificially reduced from 1000000 to 16 ...") to the
// native stderr whenever it opens a device, and no Node API reaches a native write. Piped stderr
// (scripts, tests, editors) gets them as they are, and no extra process.
import { spawn } from "node:child_process";
import { constants } from "node:os";
import { fileURLToPath } from "node:url";

const DAWN_LIMIT_WARNING = /^Warning: \w+ artificially reduced from \d+ to \d+ to fit dynamic offset allocation limit\.\r?\n/gm;

if (process.stderr.isTTY && !process.env.IVC_CLI_CHILD) {
  const child = spawn(process.execPath, [...process.execArgv, fileURLToPath(import.meta.url), ...process.argv.slice(2)], {
    stdio: ["inherit", "inherit", "pipe"],
    env: { ...process.env, IVC_CLI_CHILD: "1", IVC_STDERR_COLOR: "1" },
  });
  child.stderr.setEncoding("utf8");
  child.stderr.on("data", (text) => process.stderr.write(text.replace(DAWN_LIMIT_WARNING, "")));
  // Ctrl-C reaches the child as well (one process group): `ivc train` saves a checkpoint on the
  // first, so this process only waits for it.
  process.on("SIGINT", () => {});
  process.on("SIGTERM", () => child.kill("SIGTERM"));
  child.on("close", (code, signal) => {
    process.exitCode = code ?? 128 + (constants.signals[signal] ?? 0);
  });
} else {
  const { register } = await import("tsx/esm/api");
  register();
  const { main } = await import("../cli/main.ts");
  process.exitCode = await main(process.argv.slice(2));
}
