import type { Command } from "commander";
import { modelInfo } from "../../compiler/info/index.ts";
import { compileModel } from "../../compiler/pipeline.ts";
import { assertReadable, failOnDiagnostics, modelOptions, type ModelFlags } from "../model-options.ts";

function human(n: number): string {
  if (n >= 1e12) return `${(n / 1e12).toFixed(2)}T`;
  if (n >= 1e9) return `${(n / 1e9).toFixed(2)}G`;
  if (n >= 1e6) return `${(n / 1e6).toFixed(2)}M`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(1)}K`;
  return String(n);
}

export function registerInfo(program: Command): void {
  modelOptions(
    program
      .command("info")
      .description("Print the model summary: parameters (total/trainable/frozen), buffers, FLOPs per sample, modules, ops")
      .argument("<file>", ".ivm model file"),
  )
    .option("--depth <n>", "module table depth", "2")
    .option("--json", "print JSON with keys params, buffers, flops, modules, ops")
    .action((file: string, opts: ModelFlags & { json?: boolean; depth: string }) => {
      assertReadable(file);
      const base = { preset: opts.preset, set: opts.set, model: opts.model };
      const forward = compileModel(file, base);
      failOnDiagnostics(forward);
      // Freeze flags come from the stage when one is named; FLOPs always from the eval forward.
      const staged = opts.stage ? compileModel(file, { ...base, stage: opts.stage }) : undefined;
      if (staged) failOnDiagnostics(staged);
      const params = (staged ?? forward).elaborated!.graph.params;
      const info = modelInfo(forward.graph!, params, forward.elaborated!.modules);
      if (opts.json) {
        process.stdout.write(`${JSON.stringify(info, null, 2)}\n`);
        return;
      }
      const out: string[] = [];
      out.push(`model ${forward.elaborated!.modelName}${opts.preset ? ` (preset ${opts.preset})` : ""}${opts.stage ? `, stage ${opts.stage}` : ""}`);
      out.push(`params     ${info.params.total.toLocaleString("en-US")} (${human(info.params.total)})`);
      out.push(`  trainable ${info.params.trainable.toLocaleString("en-US")}`);
      out.push(`  frozen    ${info.params.frozen.toLocaleString("en-US")}`);
      out.push(`buffers    ${info.buffers.toLocaleString("en-US")}`);
      out.push(`FLOPs      ${human(info.flops)} multiply-adds per sample`);
      out.push("");
      const depth = Number(opts.depth);
      out.push(`${"module".padEnd(44)} ${"type".padEnd(26)} ${"params".padStart(12)} ${"FLOPs".padStart(9)}`);
      for (const m of info.modules) {
        const level = m.path === "" ? 0 : m.path.split(".").length;
        if (level > depth) continue;
        const name = `${"  ".repeat(level)}${m.path === "" ? "(model)" : m.path.split(".").pop()}${m.frozen ? " [frozen]" : ""}`;
        out.push(`${name.padEnd(44)} ${m.type.padEnd(26)} ${m.params.toLocaleString("en-US").padStart(12)} ${human(m.flops).padStart(9)}`);
      }
      out.push("");
      out.push(`ops: ${Object.entries(info.ops).sort((a, b) => b[1] - a[1]).map(([k, v]) => `${k} ${v}`).join(", ")}`);
      process.stdout.write(`${out.join("\n")}\n`);
    });
}
