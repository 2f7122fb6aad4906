/**
 * The step engine: everything that touches parameters during training sits behind this interface, so
 * the training loop (run.ts) is the same for the CPU reference engine (cpu-engine.ts) and the GPU
 * engine (fused WGSL kernels on Dawn), which plugs in through `createEngine`.
 */
import { UserError } from "../../cli/errors.ts";
import type { Graph, ParamInfo } from "../../compiler/ir/types.ts";
import type { StoragePrecision } from "../../compiler/schedule/plan.ts";
import { GpuEngine } from "../gpu-train/engine.ts";
import { NoAdapterError, requestGpu } from "../gpu.ts";
import { CpuEngine } from "./cpu-engine.ts";
import type { OptimizerSpec, TrainableParam } from "./optim.ts";

export type TensorArray = Float32Array | Int32Array;
export type EngineBatch = Record<string, TensorArray>;

export interface StepHyper {
  /** 0-based index of this step in the stage; the optimizer's update count is step + 1. */
  readonly step: number;
  readonly lr: number;
  /** Seed of the step's `random` nodes (dropout, masking, drop path). */
  readonly seed: number;
}

export interface TrainEngine {
  /** Resolves once the engine can step (the GPU engine has its device): its description is final then. */
  whenReady(): Promise<void>;
  /** One whole step: forward, backward, optimizer update. No readback. */
  step(batch: EngineBatch, hyper: StepHyper): Promise<void>;
  /** The loss of the latest step (read back asynchronously; call every N steps, not every step). */
  lastLoss(): Promise<number>;
  /** Eval-mode forward outputs (logits) for a batch; needs `EngineSetup.evalForward`. */
  evaluate(batch: EngineBatch): Promise<Float32Array>;
  /** The stage's loss in eval mode (no dropout, BatchNorm running statistics) for a held-out batch. */
  evaluateLoss(batch: EngineBatch): Promise<number>;
  /** Parameters, buffers and optimizer state (m/v per trainable param only) for checkpoints. */
  state(): Promise<Map<string, TensorArray>>;
  load(state: ReadonlyMap<string, TensorArray>): Promise<void>;
  dispose(): void;
  /** One line for logs and run.json, e.g. "cpu (reference interpreter, f32)". */
  readonly description: string;
}

export interface EngineSetup {
  /** Forward + backward of the stage: outputs `loss`, `grad:<path>` per trainable, `state:<path>` per updated buffer. */
  readonly train: Graph;
  /** The stage's loss, elaborated in eval mode. */
  readonly evalLoss: Graph;
  /** The model's forward (output `output`, logits); absent when the stage has no classification output. */
  readonly evalForward?: Graph;
  /** Every parameter and buffer of the model (the graphs may each read only some of them). */
  readonly params: readonly ParamInfo[];
  readonly optimizer: OptimizerSpec;
  readonly trainable: readonly TrainableParam[];
  /** Global gradient-norm limit; 0 = no clipping. */
  readonly clipGradNorm: number;
  /** EMA decay of the weights; absent = no EMA. */
  readonly ema?: number;
  /** Initial parameters and buffers by path (every entry of `params`). */
  readonly initial: ReadonlyMap<string, TensorArray>;
}

export type EngineKind = "cpu" | "gpu";
export const ENGINE_KINDS: readonly EngineKind[] = ["cpu", "gpu"];

/** The engine `ivc train` uses without --engine: the GPU engine where an adapter is available, else the CPU. */
export async function defaultEngineKind(): Promise<EngineKind> {
  try {
    const gpu = await requestGpu();
    gpu.destroy();
    return "gpu";
  } catch (e) {
    if (e instanceof NoAdapterError) return "cpu";
    throw e;
  }
}

/** Fails early (before compiling anything) when an engine cannot be built on this machine. */
export async function assertEngineAvailable(kind: EngineKind): Promise<void> {
  if (kind !== "gpu") return;
  try {
    (await requestGpu()).destroy();
  } catch (e) {
    if (e instanceof NoAdapterError) throw new UserError(`--engine gpu: ${e.message}`, `${e.help}; or train with --engine cpu (the reference interpreter)`);
    throw e;
  }
}

/** How the GPU engine builds its programs (the CPU engine is the f32 reference and takes none). */
export interface EngineOptions {
  /** "f16": forward activations stored as f16 (`--precision f16`). */
  readonly precision?: StoragePrecision;
  /** Time the tunable kernels' tile widths on this adapter and keep the fastest (`--autotune`; runtime/autotune.ts). */
  readonly autotune?: boolean;
  /** Where the engine reports what it tuned. */
  readonly log?: (line: string) => void;
}

/** The one place engines are constructed. */
export function createEngine(kind: EngineKind, setup: EngineSetup, options: EngineOptions = {}): TrainEngine {
  switch (kind) {
    case "cpu":
      if ((options.precision ?? "f32") !== "f32") throw new UserError(`--precision ${options.precision} needs the gpu engine`, "the cpu engine is the f32 reference interpreter: drop --precision, or train with --engine gpu");
      if (options.autotune) throw new UserError("--autotune needs the gpu engine", "the cpu engine has no kernels to tune: drop --autotune, or train with --engine gpu");
      return new CpuEngine(setup);
    case "gpu":
      return new GpuEngine(setup, options);
  }
}
