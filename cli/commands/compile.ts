/**
 * `ivc compile FILE -o DIR [--preset P] [--set k=v] [--stage S] [--train] [--batch N] [--weights W] [--explain]`:
 * compile a model to a runnable bundle (docs/bundle.md). Kernels are specialised for the adapter
 * found here (lavapipe's profile when there is none), and for one batch size.
 */
import type { Command } from "commander";
import { compileBundle, explain, writeCompiled } from "../../compiler/bundle/index.ts";
import { checkTarget } from "../../compiler/bundle/write.ts";
import { type AdapterProfile, LAVAPIPE_PROFILE, profileFor } from "../../compiler/codegen/kernel.ts";
import type { RowPrologueMode } from "../../compiler/schedule/row-prologue.ts";
import type { TuningTable } from "../../compiler/schedule/plan.ts";
import type { Program } from "../../compiler/schedule/program.ts";
import { adapterKey, autotuneProgram, TuningStore } from "../../runtime/autotune.ts";
import { type GpuContext, NoAdapterError, requestGpu } from "../../runtime/gpu.ts";
import { UsageError, UserError } from "../errors.ts";
import { assertReadable, failOnDiagnostics, modelOptions, type ModelFlags, PRECISION_HELP, positiveInt, storagePrecision } from "../model-options.ts";

interface CompileFlags extends ModelFlags {
  output?: string;
  train?: boolean;
  batch?: string;
  weights?: string;
  explain?: boolean;
  rowPrologues?: string;
  precision?: string;
  autotune?: boolean;
}

/** The profile of the adapter this machine has, or lavapipe's when Dawn finds none. */
async function adapterProfile(): Promise<{ profile: AdapterProfile; name: string }> {
  try {
    const gpu = await requestGpu();
    try {
      const name = gpu.info.description || gpu.info.device || gpu.info.vendor || "unknown adapter";
      return { profile: profileFor(gpu.info, gpu.device.features as unknown as ReadonlySet<string>), name };
    } finally {
      gpu.destroy();
    }
  } catch (e) {
    if (e instanceof NoAdapterError) return { profile: LAVAPIPE_PROFILE, name: "none found (lavapipe profile)" };
    throw e;
  }
}

/** `--autotune`: the program's tunable kernels timed on this machine's adapter (runtime/autotune.ts). */
async function tuneOnAdapter(program: Program): Promise<TuningTable> {
  let gpu: GpuContext;
  try {
    gpu = await requestGpu();
  } catch (e) {
    if (e instanceof NoAdapterError) throw new UserError(`--autotune: ${e.message}`, `${e.help}; or compile without --autotune`);
    throw e;
  }
  try {
    const store = new TuningStore(adapterKey(gpu));
    if (store.problem) process.stderr.write(`warning: ${store.problem}\n`);
    const { table, timed } = await autotuneProgram(gpu, program, store);
    const tunable = program.steps.filter((s) => s.retile).length;
    process.stderr.write(`autotune: ${tunable} tunable kernels, ${timed} timed now, the rest from ${store.path}\n`);
    return table;
  } finally {
    gpu.destroy();
  }
}

function parseBatch(text: string | undefined): number | undefined {
  return text === undefined ? undefined : positiveInt("--batch", text);
}

function kib(bytes: number): string {
  return bytes >= 1 << 20 ? `${(bytes / (1 << 20)).toFixed(1)} MiB` : `${(bytes / 1024).toFixed(1)} KiB`;
}

export function registerCompile(program: Command): void {
  modelOptions(
    program
      .command("compile")
      .description("Compile a model to a runnable bundle: manifest.json, kernels/*.wgsl, index.ts/index.js, weights")
      .argument("<file>", ".ivm model file"),
  )
    .option("-o, --output <dir>", "bundle directory to write (required)")
    .option("--train", "compile the stage's training step (forward, backward, optimizer); needs --stage")
    .option("--batch <n>", "batch size the kernels are specialised for (default 1; train: the stage's batch, else 2)")
    .option("--weights <file>", "checkpoint (safetensors or PyTorch) keyed by parameter path, stored as weights.safetensors")
    .option("--explain", "print per-kernel statistics: kind, fused ops, source lines, bytes, FLOPs")
    .option("--row-prologues <mode>", "run row kernels (LayerNorm) inside the matmuls that read them on lavapipe's SIMD tile: off (default, faster there), free (one-tile-wide matmuls), always (fewest dispatches)")
    .option("--precision <p>", PRECISION_HELP)
    .option("--autotune", "time the matmul tiles on this machine's adapter and compile the fastest (cached per adapter; the numbers do not change)")
    .action(async (file: string, opts: CompileFlags) => {
      assertReadable(file);
      if (!opts.output) throw new UsageError("missing -o DIR (the bundle directory to write)");
      if (opts.train && !opts.stage) throw new UsageError("--train needs --stage NAME");
      if (opts.weights) assertReadable(opts.weights);
      const batch = parseBatch(opts.batch);
      const rowPrologue = opts.rowPrologues ?? "off";
      if (!["off", "free", "always"].includes(rowPrologue)) throw new UsageError(`--row-prologues must be off, free or always, got '${rowPrologue}'`);
      const precision = storagePrecision(opts.precision);
      checkTarget(opts.output);
      const result = await compileBundle({
        file,
        preset: opts.preset,
        set: opts.set,
        model: opts.model,
        stage: opts.stage,
        train: opts.train,
        batch,
        adapter: adapterProfile,
        weights: opts.weights,
        fusion: { rowPrologue: rowPrologue as RowPrologueMode, precision },
        ...(opts.autotune ? { tune: tuneOnAdapter } : {}),
      });
      if (result.failed) {
        failOnDiagnostics(result.failed);
        return;
      }
      failOnDiagnostics(result.compiled!);
      const written = await writeCompiled(opts.output, result, opts.weights);
      const m = result.manifest!;
      if (opts.explain) process.stdout.write(`${explain(result)}\n\n`);
      if (written.unusedWeights.length > 0) {
        process.stderr.write(
          `warning: ${written.unusedWeights.length} checkpoint tensor(s) are not model parameters and were left out (e.g. ${written.unusedWeights[0]})\n`,
        );
      }
      const t = result.timings;
      process.stdout.write(
        `wrote ${opts.output}: ${m.model}${m.preset ? ` (preset ${m.preset})` : ""}, ${m.mode}${m.precision === "f16" ? " (f16 activations)" : ""}, batch ${m.batch}, ${m.kernels.length} kernels, ` +
          `${m.schedule.length} steps, peak ${kib(m.buffers.peakBytes)}, bundle ${kib(written.bytes)}; ` +
          `compile ${Math.round(t.compileMs)} ms, ${t.tuneMs !== undefined ? `autotune ${Math.round(t.tuneMs)} ms, ` : ""}codegen ${Math.round(t.codegenMs)} ms, write ${Math.round(written.writeMs)} ms (${m.compiler.adapter})\n`,
      );
    });
}
