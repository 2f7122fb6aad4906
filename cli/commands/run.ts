/**
 * `ivc run FILE --weights W --input X [--output Y.npy] [--json] [--engine gpu|cpu]`: one eval-mode
 * forward pass of a model with an official (or imported) checkpoint. Prints the top-k classes per
 * clip for logits [B, K], the values otherwise; `--output` writes the first output as .npy.
 */
import type { Command } from "commander";
import type { Graph, InputInfo } from "../../compiler/ir/types.ts";
import { compileModel } from "../../compiler/pipeline.ts";
import { writeNpy } from "../../runtime/io/npy.ts";
import { type Engine, runForward } from "../../runtime/infer/engine.ts";
import { concatBatch, type HostInput, readInput } from "../../runtime/infer/input.ts";
import { topK } from "../../runtime/infer/topk.ts";
import { readHeadRemap } from "../../runtime/weights/head-remap.ts";
import { describeLoad, loadWeights } from "../../runtime/weights/load.ts";
import { UsageError, UserError } from "../errors.ts";
import { assertReadable, failOnDiagnostics } from "../model-options.ts";

interface RunFlags {
  preset?: string;
  set: string[];
  model?: string;
  weights: string[];
  input: string[];
  output?: string;
  json?: boolean;
  engine: string;
  top: string;
  initMissing?: boolean;
  ignoreExtra?: boolean;
  remapHead?: string;
}

const collect = (v: string, acc: string[]) => [...acc, v];

/** `--input PATH` feeds the model's first input (the clip); `--input NAME=PATH` any named input. */
async function gatherInputs(
  graph: Graph,
  specs: readonly string[],
): Promise<{ inputs: Record<string, Float32Array | Int32Array>; batch: number; files: Record<string, string[]> }> {
  const byName = new Map<string, string[]>();
  const names = graph.inputs.map((i) => i.name);
  for (const spec of specs) {
    const eq = spec.indexOf("=");
    const named = eq > 0 && names.includes(spec.slice(0, eq));
    const name = named ? spec.slice(0, eq) : names[0]!;
    byName.set(name, [...(byName.get(name) ?? []), named ? spec.slice(eq + 1) : spec]);
  }
  const lacking = graph.inputs.filter((i) => !byName.has(i.name));
  if (lacking.length) {
    const show = (i: InputInfo) => `${i.name}: ${i.dtype}[${i.shape.join(", ")}]`;
    throw new UserError(
      `the model also takes ${lacking.map(show).join(", ")}`,
      `give ${lacking.map((i) => `--input ${i.name}=FILE.npy`).join(" ")}`,
    );
  }
  const inputs: Record<string, Float32Array | Int32Array> = {};
  let batch: number | undefined;
  let batchFrom = "";
  for (const input of graph.inputs) {
    const files = byName.get(input.name)!;
    const parts: HostInput[] = [];
    for (const f of files) parts.push(await readInput(f, input));
    const joined = concatBatch(parts);
    if (batch !== undefined && joined.batch !== batch) {
      throw new UserError(
        `\`${input.name}\` holds ${joined.batch} samples but \`${batchFrom}\` holds ${batch}`,
        "every input needs the same batch size B",
      );
    }
    batch = joined.batch;
    batchFrom = input.name;
    inputs[input.name] = joined.data;
  }
  return { inputs, batch: batch!, files: Object.fromEntries(byName) };
}

export function registerRun(program: Command): void {
  program
    .command("run")
    .description("Run a model's forward pass (eval mode) with checkpoint weights on a clip, video or frame folder; print top-k")
    .argument("<file>", ".ivm model file")
    .option("--preset <name>", "configure the model with this preset")
    .option("--set <key=value>", "override a config value (repeatable)", collect, [] as string[])
    .option("--model <name>", "which model of the file, when it declares several")
    .option(
      "--weights <file>",
      "checkpoint: official .pth/.pyth/.ckpt or safetensors (repeatable: parts of one model)",
      collect,
      [] as string[],
    )
    .option(
      "--input <path>",
      "clip .npy [B,3,T,H,W] in [0,1], a video file or a frame folder; NAME=FILE.npy for other inputs (repeatable)",
      collect,
      [] as string[],
    )
    .option("--output <file.npy>", "write the model's first output")
    .option("--json", "print JSON (predictions, output shape, mapping) on stdout")
    .option("--engine <engine>", "gpu (Dawn; falls back to cpu without an adapter) or cpu (reference interpreter)", "gpu")
    .option("--top <k>", "classes to print per clip", "5")
    .option("--init-missing", "initialise parameters the checkpoint lacks from their @init instead of failing")
    .option("--ignore-extra", "load although some checkpoint keys are not used by the model")
    .option("--remap-head <k400|file.json>", "keep these rows of a classifier head with other classes (K710 checkpoints; see ivc import)")
    .action(async (file: string, opts: RunFlags) => {
      assertReadable(file);
      if (opts.engine !== "gpu" && opts.engine !== "cpu")
        throw new UsageError(`--engine must be gpu or cpu, got \`${opts.engine}\``);
      const top = Number(opts.top);
      if (!Number.isInteger(top) || top < 1) throw new UsageError(`--top must be a positive integer, got \`${opts.top}\``);
      if (opts.weights.length === 0) throw new UsageError("--weights is required (a checkpoint file; see docs/checkpoints.md)");
      if (opts.input.length === 0) throw new UsageError("--input is required (a clip .npy, a video file or a frame folder)");
      const compiled = compileModel(file, { preset: opts.preset, set: opts.set, model: opts.model });
      failOnDiagnostics(compiled);
      const graph = compiled.graph!;
      const modelName = compiled.elaborated!.modelName;
      const loaded = loadWeights(opts.weights, graph.params, {
        ...(modelName !== undefined ? { model: modelName } : {}),
        initMissing: opts.initMissing ?? false,
        ignoreExtra: opts.ignoreExtra ?? false,
        ...(opts.remapHead !== undefined ? { remapHead: readHeadRemap(opts.remapHead) } : {}),
      });
      const mapping = describeLoad(loaded);
      if (!opts.json) process.stderr.write(`${mapping.join("\n")}\n`);
      const { inputs, batch, files } = await gatherInputs(graph, opts.input);
      const notes: string[] = [];
      const result = await runForward({
        graph,
        params: loaded.weights,
        inputs,
        dims: { B: batch },
        engine: opts.engine as Engine,
        onNote: (line) => {
          notes.push(line);
          process.stderr.write(`${line}\n`);
        },
      });
      const first = graph.outputs[0]!.name;
      const out = result.outputs.get(first)!;
      if (opts.output) {
        try {
          writeNpy(
            opts.output,
            out.data instanceof Float32Array
              ? { dtype: "f4", shape: out.shape, data: out.data }
              : { dtype: "i4", shape: out.shape, data: out.data },
          );
        } catch (e) {
          throw new UserError(`cannot write ${opts.output}: ${(e as Error).message}`, "choose a writable location with --output");
        }
      }
      const isLogits = out.shape.length === 2 && out.shape[0] === batch && out.data instanceof Float32Array;
      const predictions = isLogits ? topK(out.data, batch, out.shape[1]!, top) : undefined;
      if (opts.json) {
        const report = {
          model: modelName,
          engine: result.engine,
          ...(result.adapter ? { adapter: result.adapter } : {}),
          weights: opts.weights,
          inputs: files,
          batch,
          output: { name: first, shape: out.shape, ...(opts.output ? { file: opts.output } : {}) },
          ...(predictions ? { predictions } : { values: Array.from(out.data) }),
          mapping,
          notes,
        };
        process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
        return;
      }
      const lines: string[] = [
        `${modelName} on ${result.engine}${result.adapter ? ` (${result.adapter})` : ""}: ${first} [${out.shape.join(", ")}]`,
      ];
      if (predictions) {
        predictions.forEach((row, b) =>
          lines.push(`clip ${b}: ${row.map((p) => `${String(p.index).padStart(4)} ${p.probability.toFixed(4)}`).join("  ")}`),
        );
      } else {
        const values = Array.from(out.data.slice(0, 16), (v) => Number(v.toPrecision(6)));
        lines.push(`values: ${values.join(", ")}${out.data.length > 16 ? `, ... (${out.data.length} in all)` : ""}`);
      }
      if (opts.output) lines.push(`wrote ${opts.output}`);
      process.stdout.write(`${lines.join("\n")}\n`);
    });
}
