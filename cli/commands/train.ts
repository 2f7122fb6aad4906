/**
 * `ivc train FILE [--preset P] [--set k=v ...] [--stage S] [--data synthetic|PATH] [--steps N | --epochs E]
 *   [--batch B] [--lr X] [--out DIR] [--init CKPT] [--resume] [--seed S] [--eval-every N] [--save-every N]
 *   [--engine cpu|gpu]`
 * Trains one stage, or every stage of the file in order when none is named. Exit 0 when training ran
 * to the end (or was interrupted and saved), 1 for bad input (diagnostics, data, checkpoints, a
 * diverged loss), 2 for a bad invocation.
 */
import type { Command } from "commander";
import { ENGINE_KINDS, type EngineKind, defaultEngineKind } from "../../runtime/train/engine.ts";
import { defaultPreset } from "../../runtime/train/compile-stage.ts";
import { runTraining } from "../../runtime/train/run.ts";
import { loadTokenizer } from "../../runtime/text/tokenizer.ts";
import { UsageError } from "../errors.ts";
import { assertReadable, failOnDiagnostics, modelOptions, type ModelFlags, PRECISION_HELP, positiveInt, storagePrecision } from "../model-options.ts";

interface TrainFlags extends ModelFlags {
  data: string;
  steps?: string;
  epochs?: string;
  batch?: string;
  lr?: string;
  out?: string;
  init?: string;
  resume?: boolean;
  seed?: string;
  evalEvery?: string;
  saveEvery?: string;
  logEvery?: string;
  evalClips?: string;
  stopAt?: string;
  engine?: string;
  precision?: string;
  autotune?: boolean;
  tokenizer: string;
  shuffleFrames?: boolean;
}

function optionalPositiveInt(flag: string, value: string | undefined): number | undefined {
  return value === undefined ? undefined : positiveInt(flag, value);
}

function nonNegativeInt(flag: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 0xffffffff) throw new UsageError(`${flag} needs an integer in [0, 2^32), got \`${value}\``);
  return n;
}

export function registerTrain(program: Command): void {
  modelOptions(
    program
      .command("train")
      .description("Train a model on a train stage (all stages in order when --stage is left out; preset `tiny` where the file has one, unless --preset); writes checkpoints, metrics.jsonl, curves.svg, run.json")
      .argument("<file>", ".ivm model file"),
  )
    .option("--data <synthetic|path>", "the stage's own data (synthetic), or an annotation file / folder with train and val lists", "synthetic")
    .option("--steps <n>", "training steps (default: the stage's `steps`)")
    .option("--epochs <n>", "train for whole epochs of the data instead of --steps")
    .option("--batch <n>", "clips per step (default: the stage's `batch`, else 8)")
    .option("--lr <x>", "base learning rate, replacing the stage's optim lr")
    .option("--out <dir>", "run directory (default runs/<model>-<stage>, or runs/<model>/<stage> for several stages)")
    .option("--init <checkpoint>", "start from these weights, matched by parameter path (safetensors or PyTorch)")
    .option("--resume", "continue the run in --out from its checkpoint.safetensors, bit-identically")
    .option("--seed <n>", "seed for initialisation, data order and dropout (default 0)")
    .option("--eval-every <n>", "held-out evaluation every N steps and at the end (default: the stage's `eval_every`, else 50)")
    .option("--save-every <n>", "checkpoint every N steps (and at the end)", "100")
    .option("--log-every <n>", "a metrics row every N steps", "10")
    .option("--eval-clips <n>", "held-out clips per evaluation", "128")
    .option("--stop-at <step>", "stop after this many steps, keeping the schedule of the full run (continue with --resume)")
    .option("--engine <kind>", `step engine: ${ENGINE_KINDS.join(" or ")} (default: gpu when available, else cpu)`)
    .option("--precision <p>", PRECISION_HELP)
    .option("--autotune", "gpu engine: time the matmul tiles on this adapter first and keep the fastest (results cached per adapter; the numbers do not change)")
    .option("--shuffle-frames", "synthetic data with every clip's frames in a random order: the control run, which should stay near chance")
    .option("--tokenizer <spec>", "captions to token ids: byte (no download) or clip:PATH (CLIP's bpe_simple_vocab_16e6.txt.gz; needs text_vocab=49408)", "byte")
    .action(async (file: string, flags: TrainFlags) => {
      assertReadable(file);
      if (flags.steps !== undefined && flags.epochs !== undefined) throw new UsageError("give either --steps or --epochs, not both");
      const engine = (flags.engine ?? (await defaultEngineKind())) as EngineKind;
      if (!ENGINE_KINDS.includes(engine)) throw new UsageError(`--engine must be ${ENGINE_KINDS.join(" or ")}, got \`${flags.engine}\``);
      let lr: number | undefined;
      if (flags.lr !== undefined) {
        lr = Number(flags.lr);
        if (!(lr > 0) || !Number.isFinite(lr)) throw new UsageError(`--lr needs a positive number, got \`${flags.lr}\``);
      }
      const tokenizer = loadTokenizer(flags.tokenizer);
      const interrupt = new AbortController();
      // The first Ctrl-C finishes the current step and saves a checkpoint; a second one exits at once.
      const onSignal = () => {
        if (interrupt.signal.aborted) process.exit(130);
        process.stderr.write("\ninterrupt: saving a checkpoint after this step (Ctrl-C again to quit without saving)\n");
        interrupt.abort();
      };
      process.on("SIGINT", onSignal);
      try {
        await runTraining({
          file,
          preset: flags.preset ?? defaultPreset(file),
          set: flags.set,
          model: flags.model,
          stage: flags.stage,
          data: flags.data,
          steps: optionalPositiveInt("--steps", flags.steps),
          epochs: optionalPositiveInt("--epochs", flags.epochs),
          batch: optionalPositiveInt("--batch", flags.batch),
          lr,
          out: flags.out,
          init: flags.init,
          resume: flags.resume === true,
          seed: nonNegativeInt("--seed", flags.seed),
          evalEvery: optionalPositiveInt("--eval-every", flags.evalEvery),
          saveEvery: optionalPositiveInt("--save-every", flags.saveEvery),
          logEvery: optionalPositiveInt("--log-every", flags.logEvery),
          evalClips: optionalPositiveInt("--eval-clips", flags.evalClips),
          shuffleFrames: flags.shuffleFrames === true,
          stopAt: optionalPositiveInt("--stop-at", flags.stopAt),
          engine,
          precision: storagePrecision(flags.precision),
          autotune: flags.autotune === true,
          tokenizer,
          signal: interrupt.signal,
          output: process.stdout,
          diagnostics: failOnDiagnostics,
        });
      } finally {
        process.off("SIGINT", onSignal);
      }
    });
}
