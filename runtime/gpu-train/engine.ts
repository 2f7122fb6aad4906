/**
 * The GPU training engine: a whole step (forward, backward, gradient clipping, optimizer update,
 * BatchNorm statistics write-back) is one command buffer on Dawn, with nothing read back inside it.
 *
 * Trainable parameters live packed in one arena (P) with their gradients (G) and optimizer state
 * (M/V or the momentum buffer) laid out identically, so the update is one dispatch over all of
 * them; the fused forward/backward kernels bind their ranges. Frozen parameters and buffers have a
 * buffer each and get no gradient, no state and no update. Programs are specialised to a batch size
 * and built on first use; all of them share the parameter storage.
 */
import { adamw, gradNorm, sgdMomentum, type PackedParam } from "../../compiler/codegen/optimizer.ts";
import { type AdapterProfile, profileFor } from "../../compiler/codegen/kernel.ts";
import { evalShape } from "../../compiler/ir/dims.ts";
import type { Graph } from "../../compiler/ir/types.ts";
import { bindDims } from "../../compiler/schedule/bind.ts";
import type { StoragePrecision } from "../../compiler/schedule/plan.ts";
import { buildProgram, type Program } from "../../compiler/schedule/program.ts";
import { adapterKey, autotuneSteps, TuningStore } from "../autotune.ts";
import { UserError } from "../../cli/errors.ts";
import type { EngineBatch, EngineOptions, EngineSetup, StepHyper, TensorArray, TrainEngine } from "../train/engine.ts";
import { type BufferRef, type DispatchStep, Executor, type Step } from "../executor.ts";
import { type GpuContext, requestGpu } from "../gpu.ts";
import { copyKernel, emaKernel } from "./copy.ts";
import { type CompiledProgram, linkProgram } from "./link.ts";

/** Storage offsets must be multiples of 256 bytes. */
const ALIGN = 64;

export interface ArenaSlot {
  readonly offset: number;
  readonly length: number;
}

export interface Layout {
  readonly slots: ReadonlyMap<string, ArenaSlot>;
  readonly total: number;
}

/** Trainable tensors packed back to back, each slot starting on a 256-byte boundary. */
export function packLayout(paths: readonly string[], sizes: ReadonlyMap<string, number>): Layout {
  const slots = new Map<string, ArenaSlot>();
  let offset = 0;
  for (const p of paths) {
    const length = sizes.get(p)!;
    slots.set(p, { offset, length });
    offset += Math.ceil(length / ALIGN) * ALIGN;
  }
  return { slots, total: Math.max(ALIGN, offset) };
}

function perSample(graph: Graph, name: string): number {
  const input = graph.inputs.find((i) => i.name === name)!;
  return evalShape(input.shape.slice(1), {}).reduce((a, b) => a * b, 1);
}

/**
 * The optimizer's dispatches after the backward, over the packed arenas: global-norm clipping (norm
 * partials, then the norm), one update of every trainable tensor, and the EMA copy when enabled.
 */
export function optimizerSteps(setup: Pick<EngineSetup, "optimizer" | "trainable" | "clipGradNorm" | "ema">, layout: Layout, profile: AdapterProfile): Step[] {
  const opt = setup.optimizer;
  if (setup.trainable.length === 0) return [];
  const params: PackedParam[] = setup.trainable.map((t) => ({
    offset: layout.slots.get(t.path)!.offset,
    length: layout.slots.get(t.path)!.length,
    decay: t.decay,
    lrScale: t.lrScale,
  }));
  const clip = setup.clipGradNorm > 0 ? setup.clipGradNorm : undefined;
  const steps: Step[] = [];
  if (clip !== undefined) {
    const norm = gradNorm({ total: layout.total }, profile);
    steps.push({ kernel: norm.partials, buffers: { grad: "G", normPartials: "normPartials" } });
    steps.push({ kernel: norm.finalize, buffers: { normPartials: "normPartials", norm: "norm" } });
  }
  const common = { params, weightDecay: opt.weightDecay, ...(clip !== undefined ? { maxGradNorm: clip } : {}) };
  const norm: Record<string, BufferRef> = clip !== undefined ? { norm: "norm" } : {};
  if (opt.kind === "adamw") {
    steps.push({ kernel: adamw({ ...common, beta1: opt.betas[0], beta2: opt.betas[1], eps: opt.eps }), buffers: { param: "P", grad: "G", m: "M", v: "V", ...norm } });
  } else if (opt.momentum !== 0) {
    steps.push({ kernel: sgdMomentum({ ...common, momentum: opt.momentum, dampening: opt.dampening, nesterov: opt.nesterov }), buffers: { param: "P", grad: "G", buf: "BUF", ...norm } });
  } else {
    steps.push({ kernel: sgdMomentum({ ...common, momentum: 0 }), buffers: { param: "P", grad: "G", buf: "BUF", ...norm } });
  }
  if (setup.ema !== undefined) steps.push({ kernel: emaKernel(layout.total, setup.ema), buffers: { P: "P", E: "E" } });
  return steps;
}

export class GpuEngine implements TrainEngine {
  description = "gpu (fused WGSL on Dawn)";
  private readonly ready: Promise<void>;
  private gpu?: GpuContext;
  private executor?: Executor;
  private profile?: AdapterProfile;
  private readonly sizes = new Map<string, number>();
  private readonly layout: Layout;
  private readonly trainable: readonly string[];
  private readonly programs = new Map<string, CompiledProgram>();
  private readonly state_keys: { m?: string; v?: string; buf?: string };
  private trainLoss?: CompiledProgram;

  private readonly precision: StoragePrecision;
  private tuning?: TuningStore;

  constructor(
    private readonly setup: EngineSetup,
    private readonly options: EngineOptions = {},
  ) {
    this.precision = options.precision ?? "f32";
    for (const p of setup.params) this.sizes.set(p.path, setup.initial.get(p.path)!.length);
    this.trainable = setup.trainable.map((t) => t.path);
    this.layout = packLayout(this.trainable, this.sizes);
    const opt = setup.optimizer;
    this.state_keys = opt.kind === "adamw" ? { m: "optim.exp_avg:", v: "optim.exp_avg_sq:" } : opt.momentum !== 0 ? { buf: "optim.momentum_buffer:" } : {};
    this.ready = this.init();
  }

  whenReady(): Promise<void> {
    return this.ready;
  }

  private async init(): Promise<void> {
    this.gpu = await requestGpu();
    const info = this.gpu.info;
    this.profile = profileFor(info, this.gpu.device.features as unknown as ReadonlySet<string>);
    const adapter = info.description || info.device || info.architecture;
    if (this.precision === "f16" && !this.gpu.device.features.has("shader-f16")) {
      this.gpu.destroy();
      throw new UserError(`--precision f16: the adapter (${adapter}) has no shader-f16`, "train with --precision f32 (the default), or on an adapter that offers shader-f16");
    }
    this.description = `gpu (${adapter}, fused WGSL on Dawn${this.precision === "f16" ? ", f16 activation storage" : ""})`;
    const arenaBytes = this.layout.total * 4;
    const plan = [
      { bufferId: "P", bytes: arenaBytes },
      { bufferId: "G", bytes: arenaBytes },
      ...(this.state_keys.m ? [{ bufferId: "M", bytes: arenaBytes }, { bufferId: "V", bytes: arenaBytes }] : []),
      // SGD binds a momentum buffer even without momentum (the kernel then ignores its contents).
      ...(this.setup.optimizer.kind === "sgd" ? [{ bufferId: "BUF", bytes: arenaBytes }] : []),
      ...(this.setup.ema !== undefined ? [{ bufferId: "E", bytes: arenaBytes }] : []),
      { bufferId: "normPartials", bytes: 4 * 4096 },
      { bufferId: "norm", bytes: 16 },
      ...this.setup.params.filter((p) => !this.layout.slots.has(p.path)).map((p) => ({ bufferId: `S:${p.path}`, bytes: this.sizes.get(p.path)! * 4 })),
    ];
    this.executor = new Executor(this.gpu.device, plan);
    // Arenas start at zero (padding stays zero: its gradient is never written).
    for (const id of ["P", "G", "M", "V", "BUF"]) if (plan.some((b) => b.bufferId === id)) this.executor.write(id, new Float32Array(this.layout.total));
    for (const [path, value] of this.setup.initial) this.writeParam(path, value);
    if (this.setup.ema !== undefined) {
      for (const path of this.trainable) this.executor.write("E", this.setup.initial.get(path) as Float32Array, this.layout.slots.get(path)!.offset);
    }
  }

  private paramRef(path: string): BufferRef {
    const slot = this.layout.slots.get(path);
    return slot ? { id: "P", offset: slot.offset * 4, size: slot.length * 4 } : `S:${path}`;
  }

  private writeParam(path: string, value: TensorArray): void {
    const slot = this.layout.slots.get(path);
    if (slot) this.executor!.write("P", value as Float32Array, slot.offset);
    else this.executor!.write(`S:${path}`, value);
  }

  private async program(kind: "train" | "evalForward" | "evalLoss", batch: number): Promise<CompiledProgram> {
    const key = `${kind}@${batch}`;
    const hit = this.programs.get(key);
    if (hit) return hit;
    const graph = kind === "train" ? this.setup.train : kind === "evalForward" ? this.setup.evalForward : this.setup.evalLoss;
    if (!graph) throw new Error("this engine was built without an eval forward graph");
    const program = buildProgram(bindDims(graph, { B: batch }), this.profile!, { precision: this.precision });
    const linked = linkProgram(program, key, {
      param: (path) => this.paramRef(path),
      grad: (path) => {
        const slot = this.layout.slots.get(path);
        return slot ? { id: "G", offset: slot.offset * 4, size: slot.length * 4 } : undefined;
      },
      state: (path) => `S:${path}`,
    });
    this.executor!.allocate(linked.buffers);
    const steps: Step[] = this.options.autotune ? await this.autotuned(program, linked.steps) : [...linked.steps];
    if (kind === "train") steps.push(...this.optimizerSteps());
    await this.executor!.load(steps.flatMap((s) => ("kernel" in s ? [s.kernel] : [])));
    const compiled: CompiledProgram = { ...linked, recording: this.executor!.record(steps) };
    this.programs.set(key, compiled);
    return compiled;
  }

  /** The linked steps with the program's tunable kernels at their fastest tiles here. */
  private async autotuned(program: Program, linked: readonly DispatchStep[]): Promise<Step[]> {
    const log = this.options.log ?? (() => {});
    if (!this.tuning) {
      this.tuning = new TuningStore(adapterKey(this.gpu!));
      if (this.tuning.problem) log(`warning: ${this.tuning.problem}`);
    }
    const own = program.steps.length;
    const tuned = await autotuneSteps(this.executor!, linked.slice(0, own), program.steps.map((s) => s.retile), this.tuning, { log });
    const tunable = program.steps.filter((s) => s.retile).length;
    log(`autotune: ${tunable} tunable kernels, ${tuned.timed} timed now, the rest from ${this.tuning.path}`);
    return [...tuned.steps, ...linked.slice(own)];
  }

  private optimizerSteps(): Step[] {
    return optimizerSteps(this.setup, this.layout, this.profile!);
  }

  private batchOf(graph: Graph, batch: EngineBatch): number {
    const first = graph.inputs.find((i) => i.shape[0] === "B");
    if (!first) throw new Error("the graph has no batched input");
    return batch[first.name]!.length / perSample(graph, first.name);
  }

  private feed(p: CompiledProgram, batch: EngineBatch): void {
    for (const input of p.inputs) {
      const data = batch[input.name];
      if (!data) throw new Error(`the batch has no input '${input.name}'`);
      this.executor!.write(input.buffer, data);
    }
  }

  async step(batch: EngineBatch, hyper: StepHyper): Promise<void> {
    await this.ready;
    const p = await this.program("train", this.batchOf(this.setup.train, batch));
    this.feed(p, batch);
    this.executor!.setDynamic({ step: hyper.step + 1, seed: hyper.seed, lr: hyper.lr });
    this.executor!.submit(p.recording);
    this.trainLoss = p;
  }

  async lastLoss(): Promise<number> {
    await this.ready;
    if (!this.trainLoss) return Number.NaN;
    return (await this.executor!.read(this.trainLoss.outputs.get("loss")!, 1))[0]!;
  }

  async evaluate(batch: EngineBatch): Promise<Float32Array> {
    await this.ready;
    const graph = this.setup.evalForward;
    if (!graph) throw new Error("this engine was built without an eval forward graph");
    const p = await this.program("evalForward", this.batchOf(graph, batch));
    this.feed(p, batch);
    this.executor!.submit(p.recording);
    return this.executor!.read(p.outputs.get("output")!, p.outputSizes.get("output"));
  }

  async evaluateLoss(batch: EngineBatch): Promise<number> {
    await this.ready;
    const p = await this.program("evalLoss", this.batchOf(this.setup.evalLoss, batch));
    this.feed(p, batch);
    this.executor!.submit(p.recording);
    return (await this.executor!.read(p.outputs.get("loss")!, 1))[0]!;
  }

  async state(): Promise<Map<string, TensorArray>> {
    await this.ready;
    const out = new Map<string, TensorArray>();
    const arena = async (id: string) => this.executor!.read(id, this.layout.total);
    const P = await arena("P");
    for (const p of this.setup.params) {
      const slot = this.layout.slots.get(p.path);
      if (slot) out.set(p.path, P.slice(slot.offset, slot.offset + slot.length));
      else out.set(p.path, p.dtype === "f32" ? await this.executor!.read(`S:${p.path}`, this.sizes.get(p.path)) : await this.executor!.readInt(`S:${p.path}`, this.sizes.get(p.path)));
    }
    for (const [prefix, id] of this.arenaStates()) {
      const data = await arena(id);
      for (const path of this.trainable) {
        const slot = this.layout.slots.get(path)!;
        out.set(`${prefix}${path}`, data.slice(slot.offset, slot.offset + slot.length));
      }
    }
    return out;
  }

  async load(state: ReadonlyMap<string, TensorArray>): Promise<void> {
    await this.ready;
    for (const p of this.setup.params) {
      const v = state.get(p.path);
      if (!v) throw new Error(`the state lacks ${p.path}`);
      if (v.length !== this.sizes.get(p.path)) throw new Error(`${p.path} has ${v.length} values, expected ${this.sizes.get(p.path)}`);
      this.writeParam(p.path, v);
    }
    for (const [prefix, id] of this.arenaStates()) {
      for (const path of this.trainable) {
        const v = state.get(`${prefix}${path}`);
        if (!v) throw new Error(`the state lacks ${prefix}${path}`);
        this.executor!.write(id, v as Float32Array, this.layout.slots.get(path)!.offset);
      }
    }
  }

  /** Checkpoint key prefix and arena of each kind of per-parameter state. */
  private arenaStates(): [string, string][] {
    const out: [string, string][] = [];
    if (this.state_keys.m) out.push([this.state_keys.m, "M"], [this.state_keys.v!, "V"]);
    if (this.state_keys.buf) out.push([this.state_keys.buf, "BUF"]);
    if (this.setup.ema !== undefined) out.push(["ema:", "E"]);
    return out;
  }

  dispose(): void {
    void this.ready.then(() => {
      this.executor?.destroy();
      this.gpu?.destroy();
    });
  }
}

export { copyKernel };
