/** Runs a graph through the back end on Dawn and through the reference interpreter, for comparison. */
import { expect } from "vitest";
import { differentiate } from "../../compiler/autodiff/index.ts";
import { GraphBuilder } from "../../compiler/ir/builder.ts";
import { interpret } from "../../compiler/interp/index.ts";
import { type AdapterProfile, profileFor } from "../../compiler/codegen/kernel.ts";
import { bindDims } from "../../compiler/schedule/bind.ts";
import type { FusionOptions } from "../../compiler/schedule/plan.ts";
import { buildProgram, type Program } from "../../compiler/schedule/program.ts";
import type { Graph, ParamInfo, ValueId } from "../../compiler/ir/types.ts";
import { type GpuContext, requestGpu } from "../../runtime/gpu.ts";
import { ProgramRunner, type HostTensor } from "../../runtime/program-runner.ts";

export async function openGpu(): Promise<GpuContext> {
  return requestGpu();
}

export interface Feeds {
  readonly inputs: Record<string, HostTensor>;
  readonly params: Record<string, HostTensor>;
}

/** Deterministic pseudo-random values in [-1, 1). */
export function randomArray(n: number, seed: number): Float32Array {
  let s = seed >>> 0 || 1;
  return Float32Array.from({ length: n }, () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return ((s >>> 0) / 2 ** 32) * 2 - 1;
  });
}

export function randomFeeds(graph: Graph, seed = 1, dims: Record<string, number> = {}): Feeds {
  const size = (shape: readonly (number | string)[]) => shape.reduce<number>((a, d) => a * (typeof d === "number" ? d : dims[d] ?? 1), 1);
  const inputs: Record<string, HostTensor> = {};
  const params: Record<string, HostTensor> = {};
  graph.inputs.forEach((i, k) => {
    const n = size(i.shape);
    inputs[i.name] = i.dtype === "f32" ? randomArray(n, seed * 31 + k) : Int32Array.from(randomArray(n, seed * 31 + k), (x) => Math.floor((x + 1) * 2));
  });
  graph.params.forEach((p, k) => (params[p.path] = randomArray(size(p.shape), seed * 97 + k + 7)));
  return { inputs, params };
}

export interface Compared {
  readonly program: Program;
  /** The kernel profile the program was built for. */
  readonly profile: AdapterProfile;
  readonly gpu: Record<string, HostTensor>;
  readonly reference: Record<string, ArrayLike<number>>;
}

/** `profile` overrides the adapter's own (e.g. the discrete-GPU kernels, run on lavapipe). */
export async function runBoth(gpu: GpuContext, graph: Graph, feeds: Feeds, dims: Record<string, number> = {}, fusion: FusionOptions = {}, profile?: AdapterProfile): Promise<Compared> {
  const used = profile ?? profileFor(gpu.info, gpu.device.features as unknown as ReadonlySet<string>);
  const program = buildProgram(bindDims(graph, dims), used, fusion);
  const runner = await ProgramRunner.create(gpu, program);
  try {
    for (const p of program.params) runner.write(p.name, feeds.params[p.name]!);
    for (const i of program.inputs) runner.write(i.name, feeds.inputs[i.name]!);
    runner.setDynamic({ seed: 0 });
    runner.run();
    const out: Record<string, HostTensor> = {};
    for (const o of program.outputs) out[o.name] = await runner.read(o.name);
    // The program's plan rewrites attention layouts; its value ids are the graph's own plus views.
    const ref = interpret(graph, { inputs: feeds.inputs, params: feeds.params, dims, halfStored: program.halfStored });
    return { program, profile: used, gpu: out, reference: Object.fromEntries(Object.entries(ref).map(([k, v]) => [k, v.data])) };
  } finally {
    runner.destroy();
  }
}

/** Max |a - b| over max(1, |b|) scale: tolerant of tiny values, strict on large ones. */
export function maxError(got: ArrayLike<number>, want: ArrayLike<number>): number {
  let scale = 1;
  for (let i = 0; i < want.length; i++) scale = Math.max(scale, Math.abs(want[i]!));
  let err = 0;
  for (let i = 0; i < want.length; i++) err = Math.max(err, Math.abs(got[i]! - want[i]!));
  return got.length === want.length ? err / scale : Infinity;
}

export function param(b: GraphBuilder, path: string, shape: number[]): ValueId {
  const info: ParamInfo = { path, shape, dtype: "f32", init: { kind: "zeros" }, kind: "param", frozen: false, decay: true };
  return b.param(info);
}

/** Builds `f(b, params...)` as a loss `sum(f * probe)` and differentiates it w.r.t. every param. */
export function withGrads(build: (b: GraphBuilder) => ValueId): Graph {
  const b = new GraphBuilder();
  const y = build(b);
  b.output("y", y);
  const probe = b.input("probe", b.shapeOf(y));
  const prod = b.binary("mul", y, probe);
  const loss = b.reduce("sum", prod, b.shapeOf(prod).map((_, i) => i));
  b.output("loss", loss);
  return differentiate(b.build(), { loss: "loss", wrt: () => true }).graph;
}

/** Every output of `graph` on Dawn within `tolerance` of the interpreter's. */
export async function checkOnGpu(gpu: GpuContext, graph: Graph, tolerance = 1e-4, dims: Record<string, number> = {}, fusion: FusionOptions = {}): Promise<Compared> {
  const feeds = randomFeeds(graph, 3, dims);
  const r = await runBoth(gpu, graph, feeds, dims, fusion);
  for (const o of r.program.outputs) {
    expect(maxError(r.gpu[o.name]!, r.reference[o.name]!), `${o.name}`).toBeLessThan(tolerance);
  }
  return r;
}
