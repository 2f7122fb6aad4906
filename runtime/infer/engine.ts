/**
 * One eval-mode forward pass on Dawn (the fused kernels, ProgramRunner) or on the reference
 * interpreter. Without a WebGPU adapter the GPU engine falls back to the interpreter and says so
 * through `onNote`, because a missing driver should not stop a one-off inference.
 */
import { profileFor } from "../../compiler/codegen/kernel.ts";
import { interpret } from "../../compiler/interp/index.ts";
import type { Graph } from "../../compiler/ir/types.ts";
import { bindDims } from "../../compiler/schedule/bind.ts";
import { buildProgram } from "../../compiler/schedule/program.ts";
import { NoAdapterError, requestGpu } from "../gpu.ts";
import { ProgramRunner } from "../program-runner.ts";

export type Engine = "gpu" | "cpu";

export interface ForwardRequest {
  readonly graph: Graph;
  readonly params: ReadonlyMap<string, Float32Array | Int32Array>;
  readonly inputs: Readonly<Record<string, Float32Array | Int32Array>>;
  readonly dims: Readonly<Record<string, number>>;
  readonly engine: Engine;
  readonly onNote?: (line: string) => void;
}

export interface ForwardResult {
  /** Every graph output by name, with its concrete shape. */
  readonly outputs: Map<string, { shape: number[]; data: Float32Array | Int32Array }>;
  /** The engine that actually ran (cpu after a fallback). */
  readonly engine: Engine;
  readonly adapter?: string;
}

function outputShapes(graph: Graph, dims: Readonly<Record<string, number>>): Map<string, number[]> {
  const bound = bindDims(graph, dims);
  const byId = new Map(bound.nodes.map((n) => [n.id, n]));
  return new Map(bound.outputs.map((o) => [o.name, byId.get(o.id)!.shape as number[]]));
}

/** A compiled forward kept open for several batches of the same shape (pipelines built once). */
export interface ForwardSession {
  /** The engine that actually runs (cpu after a fallback). */
  readonly engine: Engine;
  readonly adapter?: string;
  run(inputs: Readonly<Record<string, Float32Array | Int32Array>>): Promise<ForwardResult["outputs"]>;
  close(): void;
}

export type SessionRequest = Omit<ForwardRequest, "inputs">;

async function openGpu(req: SessionRequest): Promise<ForwardSession | undefined> {
  let gpu;
  try {
    gpu = await requestGpu();
  } catch (e) {
    if (!(e instanceof NoAdapterError)) throw e;
    req.onNote?.(`note: ${e.message}; running on the CPU interpreter instead (slow)`);
    return undefined;
  }
  let runner: ProgramRunner | undefined;
  try {
    const bound = bindDims(req.graph, req.dims);
    const program = buildProgram(bound, profileFor(gpu.info, gpu.device.features as unknown as ReadonlySet<string>));
    const opened = await ProgramRunner.create(gpu, program);
    runner = opened;
    for (const p of program.params) opened.write(p.name, req.params.get(p.name)!);
    const shapes = outputShapes(req.graph, req.dims);
    const device = gpu;
    return {
      engine: "gpu",
      adapter: gpu.info.description || gpu.info.device || gpu.info.vendor,
      async run(inputs) {
        for (const i of program.inputs) opened.write(i.name, inputs[i.name]!);
        opened.setDynamic({ seed: 0 });
        opened.run();
        const outputs: ForwardResult["outputs"] = new Map();
        for (const o of program.outputs) outputs.set(o.name, { shape: shapes.get(o.name)!, data: await opened.read(o.name) });
        return outputs;
      },
      close() {
        opened.destroy();
        device.destroy();
      },
    };
  } catch (e) {
    runner?.destroy();
    gpu.destroy();
    throw e;
  }
}

function cpuSession(req: SessionRequest): ForwardSession {
  return {
    engine: "cpu",
    async run(inputs) {
      const out = interpret(req.graph, { inputs, params: req.params, dims: req.dims });
      const outputs: ForwardResult["outputs"] = new Map();
      for (const o of req.graph.outputs) {
        const t = out[o.name]!;
        const data =
          t.data instanceof Float32Array || t.data instanceof Int32Array
            ? t.data
            : t.data instanceof Uint8Array
              ? Int32Array.from(t.data)
              : Float32Array.from(t.data);
        outputs.set(o.name, { shape: [...t.shape], data });
      }
      return outputs;
    },
    close() {},
  };
}

/** Opens the forward on Dawn (falling back to the interpreter without an adapter) or on the interpreter. */
export async function openForward(req: SessionRequest): Promise<ForwardSession> {
  if (req.engine === "gpu") {
    const session = await openGpu(req);
    if (session) return session;
  }
  return cpuSession(req);
}

export async function runForward(req: ForwardRequest): Promise<ForwardResult> {
  const session = await openForward(req);
  try {
    const outputs = await session.run(req.inputs);
    return { outputs, engine: session.engine, ...(session.adapter !== undefined ? { adapter: session.adapter } : {}) };
  } finally {
    session.close();
  }
}
