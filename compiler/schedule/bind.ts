/**
 * Binds symbolic dims (the batch `B`) to numbers. The back end specialises every kernel to concrete
 * sizes (lavapipe compiles constants into immediates, and tiling needs sizes), so a bundle is built
 * for one batch size, like an XLA executable.
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

/** Every dim concrete; throws (a caller bug) when a symbol has no value. */
export function bindDims(graph: Graph, env: Readonly<Record<string, number>>): Graph {
  const nodes: Node[] = graph.nodes.map((n) => ({ ...n, op: bindOp(n.op, env), shape: evalShape(n.shape, env) }));
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
