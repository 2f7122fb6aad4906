/**
 * `ivc compile` as a function: model -> graph (eval forward, or the stage's forward+backward) ->
 * batch bound -> Program for an adapter profile -> bundle directory (manifest.json, kernels/*.wgsl,
 * index.ts/js, runtime.ts/js, optional weights.safetensors). See docs/bundle.md.
 */
import { performance } from "node:perf_hooks";
import type { AdapterProfile } from "../codegen/kernel.ts";
import type { Graph } from "../ir/types.ts";
import { type Compiled, compileModel } from "../pipeline.ts";
import { bindDims, symbolsOf } from "../schedule/bind.ts";
import type { FusionOptions, TuningTable } from "../schedule/plan.ts";
import { buildProgram, type Program } from "../schedule/program.ts";
import { bundleCode } from "./entry.ts";
import { explainTable, type KernelStats, programStats } from "./explain.ts";
import { buildManifest, evalPlan, type BundlePlan, type Manifest } from "./manifest.ts";
import { trainPlan } from "./train.ts";
import { bundleWeights, writeBundle } from "./write.ts";

export interface BundleRequest {
  readonly file: string;
  readonly preset?: string;
  readonly set?: readonly string[];
  readonly model?: string;
  readonly stage?: string;
  readonly train?: boolean;
  /** Default: 1 for eval, the stage's `batch` setting (else 2) for train. */
  readonly batch?: number;
  /** The adapter profile to generate kernels for and its name; asked only once the model compiles. */
  readonly adapter: () => Promise<{ readonly profile: AdapterProfile; readonly name: string }>;
  /** A checkpoint to convert into the bundle's weights.safetensors. */
  readonly weights?: string;
  /** Fusion choices beyond the adapter's defaults (row prologues, precision). */
  readonly fusion?: FusionOptions;
  /**
   * Times the program's tunable kernels on the adapter (`--autotune`, runtime/autotune.ts); the
   * program is built again with the table it returns.
   */
  readonly tune?: (program: Program) => Promise<TuningTable>;
}

export interface BundleResult {
  /** Set when compilation stopped with diagnostics (nothing was built). */
  readonly failed?: Compiled;
  /** Warnings of a successful compile, for printing. */
  readonly compiled?: Compiled;
  readonly manifest?: Manifest;
  readonly plan?: BundlePlan;
  readonly stats?: readonly KernelStats[];
  readonly program?: Program;
  readonly graph?: Graph;
  readonly timings: { compileMs: number; codegenMs: number; tuneMs?: number; writeMs?: number };
  /** Checkpoint keys that are not model parameters (ignored). */
  readonly unusedWeights?: readonly string[];
}

/** Compiles to an in-memory plan and manifest; `writeCompiled` puts it on disk. */
export async function compileBundle(req: BundleRequest): Promise<BundleResult> {
  const t0 = performance.now();
  const set = [...(req.set ?? [])];
  const compiled = compileModel(req.file, {
    preset: req.preset,
    set,
    model: req.model,
    stage: req.stage,
    differentiate: req.train === true,
  });
  const compileMs = performance.now() - t0;
  if (!compiled.graph || compiled.diagnostics.some((d) => d.severity === "error"))
    return { failed: compiled, timings: { compileMs, codegenMs: 0 } };
  const stageBatch = compiled.elaborated?.stage?.settings.batch;
  const batch = req.batch ?? (req.train ? (typeof stageBatch === "number" ? stageBatch : 2) : 1);
  const dims: Record<string, number> = {};
  for (const s of symbolsOf(compiled.graph)) dims[s] = batch;
  const graph = bindDims(compiled.graph, dims);
  const { profile, name: adapter } = await req.adapter();
  let tuneMs = 0;
  let tuning: TuningTable | undefined;
  if (req.tune) {
    const t = performance.now();
    tuning = await req.tune(buildProgram(graph, profile, req.fusion));
    tuneMs = performance.now() - t;
  }
  const t1 = performance.now();
  const program = buildProgram(graph, profile, { ...req.fusion, ...(tuning ? { tuning } : {}) });
  const stats = programStats(graph, program);
  const train = req.train ? trainPlan(compiled, program, stats, profile) : undefined;
  const plan = train?.plan ?? evalPlan(program, stats);
  const codegenMs = performance.now() - t1;
  const manifest = buildManifest({
    file: req.file,
    compiled,
    graph,
    program,
    plan,
    profile,
    adapter,
    preset: req.preset,
    set,
    stage: req.stage,
    mode: req.train ? "train" : "eval",
    batch,
    optimizer: train?.optimizer,
    weights: req.weights ? "weights.safetensors" : undefined,
  });
  return {
    compiled,
    manifest,
    plan,
    stats: plan.kernels.map((k) => k.stats!).filter(Boolean),
    program,
    graph,
    timings: { compileMs, codegenMs, ...(req.tune ? { tuneMs } : {}) },
  };
}

export async function writeCompiled(
  dir: string,
  result: BundleResult,
  weightsFile?: string,
): Promise<{ bytes: number; writeMs: number; unusedWeights: string[] }> {
  const t0 = performance.now();
  const manifest = result.manifest!;
  const weights = weightsFile ? bundleWeights(weightsFile, result.graph!.params) : undefined;
  const code = await bundleCode(manifest);
  const { bytes } = writeBundle(dir, {
    manifest,
    kernels: result.plan!.kernels.map((k) => k.kernel),
    code,
    weights: weights?.tensors,
  });
  return { bytes, writeMs: performance.now() - t0, unusedWeights: weights?.unused ?? [] };
}

export function explain(result: BundleResult): string {
  const m = result.manifest!;
  return explainTable(result.stats ?? [], {
    peakBytes: m.buffers.peakBytes,
    dispatches: m.schedule.filter((s) => "kernel" in s).length,
  });
}
