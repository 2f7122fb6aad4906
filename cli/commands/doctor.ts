import type { Command } from "commander";
import { adapterKey, TuningStore } from "../../runtime/autotune.ts";
import { NoAdapterError, requestGpu } from "../../runtime/gpu.ts";
import { softwareVectorNote } from "../../runtime/software-vectors.ts";
import { UserError } from "../errors.ts";

export function registerDoctor(program: Command): void {
  program
    .command("doctor")
    .description("Check that Dawn finds a WebGPU adapter and print its name, backend, features and limits")
    .option("--json", "print machine-readable JSON")
    .action(async (opts: { json?: boolean }) => {
      let ctx;
      try {
        ctx = await requestGpu();
      } catch (e) {
        if (e instanceof NoAdapterError) throw new UserError(e.message, e.help);
        throw e;
      }
      try {
        const s = ctx.info;
        if (opts.json) {
          process.stdout.write(`${JSON.stringify(s, null, 2)}\n`);
          return;
        }
        const name = s.description || s.device || s.architecture || s.vendor || "unknown adapter";
        process.stdout.write(`adapter:   ${name}${s.isSoftware ? " (software rasterizer)" : ""}\n`);
        process.stdout.write(`vendor:    ${s.vendor || "-"}  architecture: ${s.architecture || "-"}\n`);
        process.stdout.write(`backend:   ${s.backend}\n`);
        process.stdout.write(`subgroups: ${s.features.includes("subgroups") ? `yes (size ${s.subgroupMinSize}-${s.subgroupMaxSize})` : "no"}\n`);
        if (s.isSoftware && s.subgroupMinSize > 0 && s.subgroupMinSize === s.subgroupMaxSize) process.stdout.write(`vectors:   ${softwareVectorNote(s.subgroupMinSize)}\n`);
        process.stdout.write(`shader-f16: ${s.features.includes("shader-f16") ? "yes (--precision f16 available)" : "no (--precision f16 unavailable)"}\n`);
        const tuning = new TuningStore(adapterKey(ctx));
        process.stdout.write(`autotune:  ${tuning.problem ?? (tuning.size ? `${tuning.size} kernels tuned for this adapter in ${tuning.path}` : `nothing tuned for this adapter yet (--autotune; cache ${tuning.path})`)}\n`);
        process.stdout.write(`features:  ${s.features.join(", ")}\n`);
        for (const [k, v] of Object.entries(s.limits)) process.stdout.write(`  ${k.padEnd(34)} ${v}\n`);
      } finally {
        ctx.destroy();
      }
    });
}
