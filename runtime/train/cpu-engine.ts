/**
 * The CPU engine: the reference interpreter runs the train graph (forward + backward) and the eval
 * graphs; the optimizer, clipping and EMA are the TypeScript reference implementations in optim.ts.
 * Slow, exact, and the oracle the GPU engine's steps are compared against.
 */
import { interpret, type HostArray } from "../../compiler/interp/index.ts";
import { evalShape } from "../../compiler/ir/dims.ts";
import type { Graph } from "../../compiler/ir/types.ts";
import type { EngineBatch, EngineSetup, StepHyper, TensorArray, TrainEngine } from "./engine.ts";
import { Optimizer, WeightEma, clipGradNorm } from "./optim.ts";

/** The batch size implied by the batch: every input's leading dim is the symbolic `B`. */
function batchSize(graph: Graph, batch: EngineBatch): number {
  for (const input of graph.inputs) {
    const data = batch[input.name];
    if (!data) throw new Error(`the batch has no input '${input.name}' (it has ${Object.keys(batch).join(", ")})`);
    if (input.shape[0] === "B") {
      const perSample = evalShape(input.shape.slice(1), {}).reduce((a, b) => a * b, 1);
      return data.length / perSample;
    }
  }
  throw new Error("the graph has no batched input");
}

function inputsOf(graph: Graph, batch: EngineBatch): Record<string, HostArray> {
  return Object.fromEntries(graph.inputs.map((i) => [i.name, batch[i.name]!]));
}

export class CpuEngine implements TrainEngine {
  readonly description = "cpu (reference interpreter, f32)";
  private readonly values = new Map<string, TensorArray>();
  private readonly sizes = new Map<string, number>();
  private readonly optimizer: Optimizer;
  private readonly ema: WeightEma | undefined;
  private readonly trainablePaths: readonly string[];
  private latestLoss = Number.NaN;

  constructor(private readonly setup: EngineSetup) {
    for (const p of setup.params) {
      const initial = setup.initial.get(p.path);
      if (!initial) throw new Error(`no initial value for ${p.path}`);
      this.values.set(p.path, initial.slice());
      this.sizes.set(p.path, initial.length);
    }
    this.trainablePaths = setup.trainable.map((t) => t.path);
    for (const path of this.trainablePaths) {
      if (!setup.train.outputs.some((o) => o.name === `grad:${path}`)) throw new Error(`the train graph has no gradient for ${path}`);
      if (!(this.values.get(path) instanceof Float32Array)) throw new Error(`trainable parameter ${path} is not f32`);
    }
    this.optimizer = new Optimizer(setup.optimizer, setup.trainable, this.sizes);
    this.ema = setup.ema === undefined ? undefined : new WeightEma(setup.ema, this.trainableValues());
  }

  whenReady(): Promise<void> {
    return Promise.resolve();
  }


  private trainableValues(): Map<string, Float32Array> {
    return new Map(this.trainablePaths.map((p) => [p, this.values.get(p) as Float32Array]));
  }

  async step(batch: EngineBatch, hyper: StepHyper): Promise<void> {
    const graph = this.setup.train;
    const out = interpret(graph, { inputs: inputsOf(graph, batch), params: this.values, dims: { B: batchSize(graph, batch) }, seed: hyper.seed });
    this.latestLoss = out.loss!.data[0]!;
    const grads = new Map<string, Float32Array>();
    const seen = new Set<ArrayBufferLike>();
    for (const path of this.trainablePaths) {
      const data = out[`grad:${path}`]!.data as Float32Array;
      if (data.length !== this.sizes.get(path)) throw new Error(`gradient of ${path} has ${data.length} values, the parameter ${this.sizes.get(path)}`);
      // Outputs may share storage (CSE, views); clipping scales in place, so each gradient gets its own copy once shared.
      grads.set(path, seen.has(data.buffer) ? data.slice() : data);
      seen.add(data.buffer);
    }
    clipGradNorm([...grads.values()], this.setup.clipGradNorm);
    this.optimizer.update(this.trainableValues(), grads, hyper.lr, hyper.step + 1);
    for (const o of graph.outputs) {
      if (o.name.startsWith("state:")) this.values.set(o.name.slice(6), (out[o.name]!.data as TensorArray).slice());
    }
    this.ema?.update(this.trainableValues());
  }

  async lastLoss(): Promise<number> {
    return this.latestLoss;
  }

  async evaluate(batch: EngineBatch): Promise<Float32Array> {
    const graph = this.setup.evalForward;
    if (!graph) throw new Error("this engine was built without an eval forward graph");
    const out = interpret(graph, { inputs: inputsOf(graph, batch), params: this.values, dims: { B: batchSize(graph, batch) }, outputs: ["output"] });
    return Float32Array.from(out.output!.data as Float32Array);
  }

  async evaluateLoss(batch: EngineBatch): Promise<number> {
    const graph = this.setup.evalLoss;
    const out = interpret(graph, { inputs: inputsOf(graph, batch), params: this.values, dims: { B: batchSize(graph, batch) }, outputs: ["loss"] });
    return out.loss!.data[0]!;
  }

  async state(): Promise<Map<string, TensorArray>> {
    const state = new Map<string, TensorArray>();
    for (const [path, v] of this.values) state.set(path, v.slice());
    for (const [key, v] of this.optimizer.state) state.set(key, v.slice());
    if (this.ema) for (const [key, v] of this.ema.state) state.set(key, v.slice());
    return state;
  }

  async load(state: ReadonlyMap<string, TensorArray>): Promise<void> {
    const targets = new Map<string, TensorArray>([...this.values, ...this.optimizer.state, ...(this.ema?.state ?? [])]);
    const missing = [...targets.keys()].filter((k) => !state.has(k));
    if (missing.length > 0) throw new Error(`the state lacks ${missing.length} entries: ${missing.slice(0, 5).join(", ")}${missing.length > 5 ? ", ..." : ""}`);
    for (const [key, target] of targets) {
      const source = state.get(key)!;
      if (source.length !== target.length) throw new Error(`${key} has ${source.length} values, expected ${target.length}`);
      if (source.constructor !== target.constructor) throw new Error(`${key} is ${source.constructor.name}, expected ${target.constructor.name}`);
      target.set(source);
    }
  }

  dispose(): void {
    this.values.clear();
  }
}
