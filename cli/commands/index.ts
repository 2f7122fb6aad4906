import type { Command } from "commander";
import { registerDoctor } from "./doctor.ts";

/** Each subcommand lives in its own file and registers itself here, in `ivc --help` order. */
export function registerCommands(program: Command): void {
  registerDoctor(program);
}
