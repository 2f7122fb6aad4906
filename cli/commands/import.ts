/**
 * `ivc import CKPT... --model FILE [--preset P] [--set k=v] -o W.safetensors`: converts official
 * checkpoints once to the model's own parameter paths (docs/checkpoints.md), so later runs load
 * them with the identity mapping. Several files combine into one (InternVideo from its VideoMAE,
 * UniFormerV2 and InternVideo-MM parts). The write is atomic: a killed import leaves no half file.
 */
import type { Command } from "commander";
import { compileModel } from "../../compiler/pipeline.ts";
import type { TensorToWrite } from "../../runtime/io/safetensors.ts";
import { writeSafetensors } from "../../runtime/io/safetensors.ts";
import { readHeadRemap } from "../../runtime/weights/head-remap.ts";
import { describeLoad, loadWeights } from "../../runtime/weights/load.ts";
import { UsageError, UserError } from "../errors.ts";
import { assertReadable, failOnDiagnostics } from "../model-options.ts";

interface ImportFlags {
  model?: string;
  modelName?: string;
  preset?: string;
  set: string[];
  output?: string;
  initMissing?: boolean;
  ignoreExtra?: boolean;
  remapHead?: string;
  json?: boolean;
}

export function registerImport(program: Command): void {
  program
    .command("import")
    .description("Convert official checkpoints (.pth/.pyth/.ckpt/safetensors) to a model's parameter names as safetensors")
    .argument("<checkpoints...>", "checkpoint files (several combine: e.g. InternVideo's parts)")
    .option("--model <file>", "the .ivm model file the weights are for")
    .option("--model-name <name>", "which model of the file, when it declares several")
    .option("--preset <name>", "configure the model with this preset")
    .option(
      "--set <key=value>",
      "override a config value (repeatable)",
      (v: string, acc: string[]) => [...acc, v],
      [] as string[],
    )
    .option("-o, --output <file>", "the safetensors file to write")
    .option("--init-missing", "initialise parameters the checkpoints lack from their @init (seed 0) instead of failing")
    .option("--ignore-extra", "convert although some checkpoint keys are not used by the model")
    .option(
      "--remap-head <k400|file.json>",
      "keep these rows of a classifier head with other classes: k400 = the first 400 of K710, or a JSON list of row indices",
    )
    .option("--json", "print the mapping report as JSON")
    .action((checkpoints: string[], opts: ImportFlags) => {
      if (!opts.model)
        throw new UsageError("--model is required: the .ivm file the weights are for (e.g. --model models/uniformerv2.ivm)");
      if (!opts.output) throw new UsageError("-o/--output is required: the .safetensors file to write");
      if (!/\.safetensors$/i.test(opts.output))
        throw new UsageError(`the output must be a .safetensors file, got \`${opts.output}\``);
      assertReadable(opts.model);
      const compiled = compileModel(opts.model, { preset: opts.preset, set: opts.set, model: opts.modelName });
      failOnDiagnostics(compiled);
      const remapHead = opts.remapHead !== undefined ? readHeadRemap(opts.remapHead) : undefined;
      const params = compiled.graph!.params;
      const modelName = compiled.elaborated!.modelName;
      const loaded = loadWeights(checkpoints, params, {
        ...(modelName !== undefined ? { model: modelName } : {}),
        initMissing: opts.initMissing ?? false,
        ignoreExtra: opts.ignoreExtra ?? false,
        ...(remapHead ? { remapHead } : {}),
      });
      const tensors = new Map<string, TensorToWrite>();
      let values = 0;
      for (const p of params) {
        const data = loaded.weights.get(p.path)!;
        const shape = p.shape.map(Number);
        tensors.set(p.path, data instanceof Float32Array ? { dtype: "F32", shape, data } : { dtype: "I32", shape, data });
        values += data.length;
      }
      const metadata: Record<string, string> = {
        format: "ivc",
        model: modelName ?? "",
        model_file: opts.model,
        preset: opts.preset ?? "",
        set: JSON.stringify(opts.set),
        sources: JSON.stringify(loaded.mapped.map((m) => ({ file: m.file, format: m.result.source }))),
        ...(remapHead ? { remap_head: remapHead.source } : {}),
        initialised: JSON.stringify(loaded.initialised),
      };
      try {
        writeSafetensors(opts.output, tensors, metadata);
      } catch (e) {
        throw new UserError(`cannot write ${opts.output}: ${(e as Error).message}`, "choose a writable location with -o");
      }
      const mapping = describeLoad(loaded);
      if (opts.json) {
        const report = {
          output: opts.output,
          model: modelName,
          tensors: tensors.size,
          values,
          sources: loaded.mapped.map((m) => ({
            file: m.file,
            format: m.result.source,
            target: m.result.target,
            applied: m.result.applied,
            dropped: m.result.dropped,
            extra: m.result.extra,
            regenerated: m.result.regenerated,
            remapped: m.result.remapped,
          })),
          initialised: loaded.initialised,
        };
        process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
        return;
      }
      process.stdout.write(
        `${mapping.join("\n")}\nwrote ${tensors.size} tensors (${values.toLocaleString("en-US")} values) to ${opts.output}\n`,
      );
    });
}
