/**
 * Heads-last attention results. Multi-head attention computes [..., H, M, Dv] and the model merges the
 * heads before the output projection: permute to [..., M, H, Dv], reshape to [..., M, H * Dv]. That
 * permute-then-reshape is no strided view, so it costs a copy kernel forward and another for the
 * projection's weight gradient. Computed heads-last instead (the kernel writes each row at its merged
 * place), the merge is a plain reshape of a stored buffer. Readers of the old value (the backward's
 * `attention_stats` reads `o`) read it through the inverse permutation, a view the attention kernels
 * take as a layout. The graph computes the same values; only the attention's own layout changes.
 */
import { headsLastPerm } from "../ir/shape-rules.ts";
import type { Graph, Node, ValueId } from "../ir/types.ts";

function samePerm(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

/** Attention results some reader permutes heads-last, and that are not graph outputs. */
function candidates(graph: Graph): Set<ValueId> {
  const outputs = new Set(graph.outputs.map((o) => o.id));
  const byId = new Map(graph.nodes.map((n) => [n.id, n]));
  const found = new Set<ValueId>();
  for (const n of graph.nodes) {
    if (n.op.kind !== "permute") continue;
    const src = byId.get(n.inputs[0]!)!;
    if (src.op.kind !== "attention" || src.op.heads_last || outputs.has(src.id)) continue;
    const rank = src.shape.length;
    if (rank >= 3 && src.shape[rank - 3] !== 1 && samePerm(n.op.perm, headsLastPerm(rank))) found.add(src.id);
  }
  return found;
}

export function headsLastAttention(graph: Graph): Graph {
  const chosen = candidates(graph);
  if (chosen.size === 0) return graph;
  let next = Math.max(...graph.nodes.map((n) => n.id)) + 1;
  const renamed = new Map<ValueId, ValueId>();
  const nodes: Node[] = [];
  for (const n of graph.nodes) {
    const inputs = n.inputs.map((i) => renamed.get(i) ?? i);
    if (!chosen.has(n.id) || n.op.kind !== "attention") {
      nodes.push(inputs.some((x, i) => x !== n.inputs[i]) ? { ...n, inputs } : n);
      continue;
    }
    const perm = headsLastPerm(n.shape.length);
    nodes.push({ ...n, inputs, op: { ...n.op, heads_last: true }, shape: perm.map((p) => n.shape[p]!) });
    // The old value, as a view of the heads-last one, for every reader.
    const view: Node = { id: next++, op: { kind: "permute", perm }, inputs: [n.id], shape: n.shape, dtype: n.dtype, spans: n.spans, ...(n.name ? { name: n.name } : {}) };
    nodes.push(view);
    renamed.set(n.id, view.id);
  }
  return { ...graph, nodes };
}
