/**
 * `ivc graph FILE -o model.svg [--preset P] [--stage S] [--set k=v] [--depth N] [--kernels] [--lr]`:
 * an SVG picture of the model: modules nested by dotted path, tensors between them labelled with
 * their shapes, frozen parts hatched; with --kernels, the fused kernels the back end dispatches.
 * With --stage the stage's forward with its loss is drawn (not the backward) and its freeze lists
 * decide what is frozen.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import type { Command } from "commander";
import { graphSvg } from "../../compiler/graph/index.ts";
import { compileModel } from "../../compiler/pipeline.ts";
import { UsageError } from "../errors.ts";
import { assertReadable, failOnDiagnostics, modelOptions, type ModelFlags, positiveInt } from "../model-options.ts";

interface GraphFlags extends ModelFlags {
  output?: string;
  depth: string;
  kernels?: boolean;
  batch: string;
  lr?: boolean;
}

export function registerGraph(program: Command): void {
  modelOptions(
    program
      .command("graph")
      .description("Draw the model as an SVG: nested module boxes, tensor shapes on the edges, frozen parts hatched, optionally fused kernels")
      .argument("<file>", ".ivm model file"),
  )
    .option("-o, --output <file>", "SVG file to write (required; '-' prints it)")
    .option("--depth <n>", "module nesting shown, in dotted path segments (as ivc info --depth)", "3")
    .option("--kernels", "draw the fused kernels (one box per dispatch) inside the modules they belong to")
    .option("--batch <n>", "batch size bound for planning the kernels (with --kernels)", "1")
    .option("--lr", "lay out left to right instead of top to bottom")
    .action((file: string, opts: GraphFlags) => {
      assertReadable(file);
      if (!opts.output) throw new UsageError("missing -o FILE (the SVG to write, or '-' for stdout)");
      const depth = positiveInt("--depth", opts.depth);
      const batch = positiveInt("--batch", opts.batch);
      const compiled = compileModel(file, { preset: opts.preset, set: opts.set, model: opts.model, stage: opts.stage });
      failOnDiagnostics(compiled);
      const el = compiled.elaborated!;
      const title = `${el.modelName ?? "model"}${opts.preset ? ` (preset ${opts.preset})` : ""}${opts.stage ? `, stage ${opts.stage}` : ""}${opts.kernels ? ", fused kernels" : ""}`;
      const svg = graphSvg({ graph: compiled.graph!, elaborated: el, depth, kernels: opts.kernels, batch, title, rankdir: opts.lr ? "LR" : "TB" });
      if (opts.output === "-") {
        process.stdout.write(svg);
        return;
      }
      mkdirSync(dirname(opts.output), { recursive: true });
      writeFileSync(opts.output, svg);
      process.stdout.write(`wrote ${opts.output} (${Math.round(svg.length / 1024)} KiB)\n`);
    });
}
