/**
 * Binds symbolic dims (the batch `B`) to numbers, folding the counts that become constants. The back
 * end specialises every kernel to concrete sizes (lavapipe compiles constants into immediates, and
 * tiling needs sizes), so a bundle is built for one batch size, like an XLA executable.
 */
import { evalDim, evalShape } from "../ir/dims.ts";
import type { Graph, Node, Op } from "../ir/types.ts";

function bindOp(op: Op, env: Readonly<Record<string, number>>): Op {
  switch (op.kind) {
    case "reshape":
    case "broadcast":
      return { ...op, shape: evalShape(op.shape, env) };
    case "scatter_add":
      return { ...op, shape: evalShape(op.shape, env) };
    case "slice":
      return { ...op, ends: op.ends.map((d) => evalDim(d, env)) };
    default:
      return op;
  }
}

/** The value of a one-value constant, looking through broadcasts and reshapes of it. */
function splatValue(n: Node | undefined, bound: ReadonlyMap<number, Node>): number | undefined {
  if (!n) return undefined;
  if (n.op.kind === "const") return n.op.value.length === 1 ? n.op.value[0] : undefined;
  return n.op.kind === "broadcast" || n.op.kind === "reshape" ? splatValue(bound.get(n.inputs[0]!), bound) : undefined;
}

/**
 * A sum or max of a one-value constant (a mean's element count over a symbolic batch) is itself a
 * constant once the sizes are known; folded only where float32 accumulation gives it exactly.
 */
function foldSplatReduce(n: Node, bound: ReadonlyMap<number, Node>): Op | undefined {
  if (n.op.kind !== "reduce") return undefined;
  const input = bound.get(n.inputs[0]!)!;
  const v = splatValue(input, bound);
  if (v === undefined) return undefined;
  if (n.op.op === "max") return { kind: "const", value: [v] };
  const count = n.op.axes.reduce((a, ax) => a * (input.shape[ax] as number), 1);
  return Number.isInteger(v) && Math.abs(v * count) < 2 ** 24 ? { kind: "const", value: [v * count] } : undefined;
}

/** Every dim concrete; throws (a caller bug) when a symbol has no value. */
export function bindDims(graph: Graph, env: Readonly<Record<string, number>>): Graph {
  const bound = new Map<number, Node>();
  const nodes: Node[] = graph.nodes.map((n) => {
    const shaped: Node = { ...n, op: bindOp(n.op, env), shape: evalShape(n.shape, env) };
    const folded = foldSplatReduce(shaped, bound);
    const node: Node = folded ? { ...shaped, op: folded, inputs: [] } : shaped;
    bound.set(n.id, node);
    return node;
  });
  return {
    nodes,
    params: graph.params.map((p) => ({ ...p, shape: evalShape(p.shape, env) })),
    inputs: graph.inputs.map((i) => ({ ...i, shape: evalShape(i.shape, env) })),
    outputs: graph.outputs,
  };
}

/** The symbols a graph's shapes mention. */
export function symbolsOf(graph: Graph): string[] {
  const out = new Set<string>();
  const visit = (d: number | string) => {
    if (typeof d === "string") for (const s of d.split("*")) if (!/^\d+$/.test(s)) out.add(s);
  };
  for (const n of graph.nodes) n.shape.forEach(visit);
  for (const i of graph.inputs) i.shape.forEach(visit);
  return [...out].sort();
}

export function shapeOf(n: Node): number[] {
  return n.shape as number[];
}
