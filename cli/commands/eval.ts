/**
 * `ivc eval FILE --weights CKPT [--forward NAME ...] [--stage S] [--data synthetic|PATH] [--clips N]`:
 * held-out top-1 accuracy and cross-entropy of a checkpoint, for one or several classifier forwards on
 * the same clips (e.g. InternVideo's combined scores against `mae_logits` and `mml_logits` alone).
 * The held-out clips are those of the stage's data (the file's last stage unless --stage), as `ivc train`
 * evaluates them.
 */
import type { Command } from "commander";
import { compileModel } from "../../compiler/pipeline.ts";
import { readCheckpoint } from "../../runtime/io/checkpoint.ts";
import type { Engine } from "../../runtime/infer/engine.ts";
import { type ClassifierScore, evaluateClassifier } from "../../runtime/infer/evaluate.ts";
import { defaultPreset, defaultDiagnosticsSink, stagesOf } from "../../runtime/train/compile-stage.ts";
import { stageData } from "../../runtime/train/data.ts";
import { STATE_PREFIXES } from "../../runtime/train/optim.ts";
import { combine, describeLoad, mapFile } from "../../runtime/weights/load.ts";
import { UsageError } from "../errors.ts";
import { assertReadable, failOnDiagnostics, modelOptions, type ModelFlags, positiveInt } from "../model-options.ts";

interface EvalFlags extends ModelFlags {
  weights: string[];
  forward: string[];
  data: string;
  clips: string;
  batch: string;
  engine: string;
  json?: boolean;
}

const collect = (v: string, acc: string[]) => [...acc, ...v.split(",").filter(Boolean)];

export function registerEval(program: Command): void {
  modelOptions(
    program
      .command("eval")
      .description("Held-out accuracy of a checkpoint, for one or several classifier forwards on the same clips")
      .argument("<file>", ".ivm model file"),
  )
    .option("--weights <file>", "checkpoint (ivc training checkpoint, official .pth/.pyth, safetensors; repeatable: parts of one model)", collect, [] as string[])
    .option("--forward <name>", "a named forward of the model (repeatable or comma-separated; `default` is the model's forward)", collect, [] as string[])
    .option("--data <synthetic|path>", "the stage's own data (synthetic), or an annotation file / folder with a val list", "synthetic")
    .option("--clips <n>", "held-out clips", "256")
    .option("--batch <n>", "clips per forward pass", "8")
    .option("--engine <engine>", "gpu (Dawn; falls back to cpu without an adapter) or cpu (reference interpreter)", "gpu")
    .option("--json", "print the results as JSON on stdout")
    .action(async (file: string, opts: EvalFlags) => {
      assertReadable(file);
      if (opts.engine !== "gpu" && opts.engine !== "cpu") throw new UsageError(`--engine must be gpu or cpu, got \`${opts.engine}\``);
      if (opts.weights.length === 0) throw new UsageError("--weights is required (e.g. runs/<model>-<stage>/checkpoint.safetensors)");
      for (const w of opts.weights) assertReadable(w);
      const clips = positiveInt("--clips", opts.clips);
      const batch = positiveInt("--batch", opts.batch);
      const preset = opts.preset ?? defaultPreset(file);
      const base = { preset, set: opts.set, model: opts.model };
      const stage = opts.stage ?? stagesOf({ file, ...base }, defaultDiagnosticsSink).at(-1);
      if (stage === undefined) throw new UsageError(`${file} declares no train stage, so there are no held-out clips to evaluate on`);
      const staged = compileModel(file, { ...base, stage });
      failOnDiagnostics(staged);
      const dataset = stageData(staged.elaborated!.stage!.data, { data: opts.data, evalClips: clips }).heldOut;

      // Every forward compiles before any weights are read, so a misspelt name fails fast.
      const forwards = (opts.forward.length ? opts.forward : ["default"]).map((name) => {
        const compiled = compileModel(file, { ...base, ...(name === "default" ? {} : { forward: name }) });
        failOnDiagnostics(compiled);
        return { name, graph: compiled.graph!, modelName: compiled.elaborated!.modelName };
      });
      // Training checkpoints also hold optimizer state and EMA weights: evaluate the raw weights.
      const checkpoints = opts.weights.map((w) => ({ file: w, tensors: new Map([...readCheckpoint(w).tensors].filter(([k]) => !STATE_PREFIXES.some((p) => k.startsWith(p)) && !k.startsWith("ema:"))) }));
      const results: ({ forward: string } & ClassifierScore)[] = [];
      for (const { name, graph, modelName } of forwards) {
        const mapped = checkpoints.map((c) => ({ file: c.file, result: mapFile(c.file, c.tensors, graph.params, modelName) }));
        // A named forward uses some of the model's parameters: the checkpoint's others are expected extras.
        const loaded = combine(mapped, graph.params, { ignoreExtra: true });
        if (!opts.json) process.stderr.write(`${name}: ${describeLoad(loaded).join("; ")}\n`);
        const score = await evaluateClassifier({
          graph,
          params: loaded.weights,
          dataset,
          batch,
          engine: opts.engine as Engine,
          onNote: (line) => process.stderr.write(`${line}\n`),
        });
        results.push({ forward: name, ...score });
      }
      if (opts.json) {
        process.stdout.write(`${JSON.stringify({ file, preset, stage, weights: opts.weights, results }, null, 2)}\n`);
        return;
      }
      const first = results[0]!;
      const lines = [`held-out: ${first.clips} clips of stage \`${stage}\`'s data, on ${first.engine}${first.adapter ? ` (${first.adapter})` : ""}`];
      const width = Math.max(7, ...results.map((r) => r.forward.length));
      lines.push(`${"forward".padEnd(width)}  accuracy  loss`);
      for (const r of results) lines.push(`${r.forward.padEnd(width)}  ${(100 * r.accuracy).toFixed(1).padStart(7)}%  ${r.loss.toFixed(4)}`);
      process.stdout.write(`${lines.join("\n")}\n`);
    });
}
