import type { Command } from "commander";
import { registerCheck } from "./check.ts";
import { registerCompile } from "./compile.ts";
import { registerDoctor } from "./doctor.ts";
import { registerEval } from "./eval.ts";
import { registerFmt } from "./fmt.ts";
import { registerGraph } from "./graph.ts";
import { registerImport } from "./import.ts";
import { registerInfo } from "./info.ts";
import { registerRun } from "./run.ts";
import { registerTokenize } from "./tokenize.ts";
import { registerTrain } from "./train.ts";

/** Each subcommand lives in its own file and registers itself here, in `ivc --help` order. */
export function registerCommands(program: Command): void {
  registerCheck(program);
  registerInfo(program);
  registerCompile(program);
  registerTrain(program);
  registerEval(program);
  registerRun(program);
  registerGraph(program);
  registerImport(program);
  registerTokenize(program);
  registerDoctor(program);
  registerFmt(program);
}
