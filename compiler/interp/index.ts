/**
 * The reference CPU interpreter: runs a graph in plain TypeScript. It is the oracle every WGSL kernel
 * is tested against, so it favours obvious correctness; kernels live in elementwise.ts, linalg.ts,
 * views.ts and attention.ts. In "f32" mode every f32 tensor is stored in a Float32Array (each op
 * rounds once, like the GPU; accumulations run in float64); "f64" mode keeps float64 throughout for
 * gradient checks.
 */
import { evalShape } from "../ir/dims.ts";
import { headsLastPerm } from "../ir/shape-rules.ts";
import type { Graph, Node, ValueId } from "../ir/types.ts";
import { attentionKernel } from "./attention.ts";
import { binaryKernel, castKernel, compareKernel, unaryKernel, whereKernel } from "./elementwise.ts";
import { roundArrayToHalf } from "./half.ts";
import { conv3dKernel, matmulKernel, reduceKernel } from "./linalg.ts";
import { allocData, sizeOf, type Precision, type Tensor, type TensorData } from "./tensor.ts";
import {
  broadcastKernel,
  concatKernel,
  constKernel,
  gatherKernel,
  iotaKernel,
  padKernel,
  permuteKernel,
  randomKernel,
  scatterAddKernel,
  sliceKernel,
} from "./views.ts";

export type { Precision, Tensor, TensorData };

export type HostArray = Float32Array | Float64Array | Int32Array | Uint8Array;

export interface InterpretOptions {
  readonly inputs: ReadonlyMap<string, HostArray> | Readonly<Record<string, HostArray>>;
  readonly params: ReadonlyMap<string, HostArray> | Readonly<Record<string, HostArray>>;
  /** Values of symbolic dims, e.g. `{ B: 2 }`. */
  readonly dims?: Readonly<Record<string, number>>;
  readonly precision?: Precision;
  /** Seed for `random` nodes (see compiler/ir/philox.ts); defaults to 0. */
  readonly seed?: number;
  /** Only these outputs are computed; all by default. */
  readonly outputs?: readonly string[];
  /** Values rounded to f16 once computed: the model of a program that stores them as f16 (Program.halfStored). */
  readonly halfStored?: ReadonlySet<ValueId>;
}

function lookup(m: InterpretOptions["inputs"], key: string): HostArray | undefined {
  return m instanceof Map ? m.get(key) : (m as Record<string, HostArray>)[key];
}

function fromHost(src: HostArray, node: Node, shape: number[], precision: Precision, what: string): Tensor {
  const n = sizeOf(shape);
  if (src.length !== n) throw new Error(`${what} has ${src.length} values but ${node.dtype}[${shape.join(", ")}] needs ${n}`);
  const data = allocData(node.dtype, n, precision);
  data.set(src);
  return { shape, data };
}

/** Nodes needed for the requested outputs, and for each the last node that reads it. */
function plan(graph: Graph, wanted: readonly { id: ValueId }[]): { live: Set<ValueId>; lastUse: Map<ValueId, ValueId> } {
  const byId = new Map(graph.nodes.map((n) => [n.id, n]));
  const live = new Set<ValueId>();
  const stack = wanted.map((o) => o.id);
  while (stack.length) {
    const id = stack.pop()!;
    if (live.has(id)) continue;
    live.add(id);
    stack.push(...byId.get(id)!.inputs);
  }
  const lastUse = new Map<ValueId, ValueId>();
  for (const n of graph.nodes) if (live.has(n.id)) for (const i of n.inputs) lastUse.set(i, n.id);
  return { live, lastUse };
}

export function interpret(graph: Graph, opts: InterpretOptions): Record<string, Tensor> {
  const precision = opts.precision ?? "f32";
  const dims = opts.dims ?? {};
  const seed = (opts.seed ?? 0) >>> 0;
  const wanted = opts.outputs
    ? opts.outputs.map((name) => graph.outputs.find((o) => o.name === name) ?? missingOutput(name))
    : graph.outputs;
  const { live, lastUse } = plan(graph, wanted);
  const keep = new Set(wanted.map((o) => o.id));
  const values = new Map<ValueId, Tensor>();
  for (const node of graph.nodes) {
    if (!live.has(node.id)) continue;
    const args = node.inputs.map((i) => values.get(i)!);
    const value = evalNode(node, args, evalShape(node.shape, dims), { opts, precision, seed });
    const data = value.data;
    const half = opts.halfStored?.has(node.id) && (data instanceof Float32Array || data instanceof Float64Array);
    values.set(node.id, half ? { shape: value.shape, data: roundArrayToHalf(data) } : value);
    for (const i of new Set(node.inputs)) if (lastUse.get(i) === node.id && !keep.has(i)) values.delete(i);
  }
  const result: Record<string, Tensor> = {};
  for (const o of wanted) result[o.name] = values.get(o.id)!;
  return result;
}

function missingOutput(name: string): never {
  throw new Error(`the graph has no output '${name}'`);
}

export interface EvalContext {
  readonly opts: InterpretOptions;
  readonly precision: Precision;
  readonly seed: number;
}

/** Evaluates one node on concrete inputs; exported for constant folding. */
export function evalNode(node: Node, args: readonly Tensor[], shape: number[], ctx: EvalContext): Tensor {
  const op = node.op;
  const { precision } = ctx;
  const dt = node.dtype;
  switch (op.kind) {
    case "input": {
      const src = lookup(ctx.opts.inputs, op.name);
      if (!src) throw new Error(`input '${op.name}' was not provided`);
      return fromHost(src, node, shape, precision, `input '${op.name}'`);
    }
    case "param": {
      const src = lookup(ctx.opts.params, op.path);
      if (!src) throw new Error(`parameter '${op.path}' was not provided`);
      return fromHost(src, node, shape, precision, `parameter '${op.path}'`);
    }
    case "const":
      return constKernel(op.value, shape, dt, precision);
    case "random":
      return randomKernel(op.dist, op.p, op.stream, ctx.seed, shape, precision);
    case "iota":
      return iotaKernel(shape, op.axis, dt, precision);
    case "unary":
      return unaryKernel(op.op, args[0]!, dt, precision);
    case "binary":
      return binaryKernel(op.op, args[0]!, args[1]!, shape, dt, precision);
    case "compare":
      return compareKernel(op.op, args[0]!, args[1]!, shape);
    case "where":
      return whereKernel(args[0]!, args[1]!, args[2]!, shape, dt, precision);
    case "cast":
      return castKernel(args[0]!, op.to, precision);
    case "reduce":
      return reduceKernel(op.op, args[0]!, op.axes, shape, dt, precision);
    case "matmul":
      return matmulKernel(args[0]!, args[1]!, shape, precision);
    case "conv3d":
      return conv3dKernel(args[0]!, args[1]!, shape, op, precision);
    case "reshape":
      return { shape, data: args[0]!.data };
    case "permute":
      return permuteKernel(args[0]!, op.perm, shape, dt, precision);
    case "slice":
      return sliceKernel(args[0]!, op.starts, op.steps, shape, dt, precision);
    case "concat":
      return concatKernel(args, op.axis, shape, dt, precision);
    case "pad":
      return padKernel(args[0]!, op.before, op.value, shape, dt, precision);
    case "broadcast":
      return broadcastKernel(args[0]!, shape, dt, precision);
    case "gather":
      return gatherKernel(args[0]!, args[1]!, op.axis, shape, dt, precision);
    case "scatter_add":
      return scatterAddKernel(args[0]!, args[1]!, op.axis, shape, dt, precision);
    case "attention": {
      if (!op.heads_last) return attentionKernel(op.kind, op, args, shape, precision);
      const perm = headsLastPerm(shape.length);
      const headsFirst = attentionKernel(op.kind, op, args, perm.map((p) => shape[p]!), precision);
      return permuteKernel(headsFirst, perm, shape, dt, precision);
    }
    case "attention_stats":
    case "attention_grad_q":
    case "attention_grad_kv":
      return attentionKernel(op.kind, op, args, shape, precision);
  }
}
