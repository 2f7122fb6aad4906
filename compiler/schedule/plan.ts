/**
 * Fusion planning: which values live in memory and which are recomputed inside the kernels that use
 * them. Pointwise ops and views are inlined into their consumers (an expression per element, reads
 * through index arithmetic), so a chain of them costs one pass over memory. A value is materialised
 * when it is a graph output, the result of an anchor op (matmul, reduce, conv3d, scatter_add, the
 * attention family), an operand the matmul or attention generators must read as a strided buffer, or
 * shared by several consumers and too costly to recompute in each.
 */
import { ATTENTION_OPS, type AttentionOp, type Graph, type Node, type ValueId } from "../ir/types.ts";
import { attentionOperandsToStore, isAttentionOp } from "../codegen/fused/attention-group.ts";
import { matmulOperandFits } from "../codegen/fused/matmul-group.ts";
import { stridedView } from "./views.ts";

export type KernelPlan =
  | { readonly kind: "pointwise"; readonly outputs: readonly ValueId[] }
  | { readonly kind: "reduce" | "matmul" | "conv3d" | "scatter_add" | AttentionOp; readonly node: ValueId };

export interface FusionPlan {
  readonly graph: Graph;
  /** Values with a buffer: leaves (params, inputs, multi-valued constants) and kernel results. */
  readonly materialized: ReadonlySet<ValueId>;
  readonly kernels: readonly KernelPlan[];
}

export interface FusionOptions {
  /** Recompute a shared value in each consumer only while its inlined expression has fewer ops. */
  readonly recomputeLimit?: number;
  /** Largest inlined expression before it is stored (bounds shader size). */
  readonly maxInlineOps?: number;
  /** Buffers one kernel may read (the adapter's storage-buffer limit minus outputs and slack). */
  readonly maxReads?: number;
}

const ANCHORS = new Set<string>(["matmul", "reduce", "conv3d", "scatter_add", ...ATTENTION_OPS]);
const LEAVES = new Set(["input", "param"]);
const VIEWS = new Set(["reshape", "permute", "slice", "broadcast"]);

export function isAnchor(n: Node): boolean {
  return ANCHORS.has(n.op.kind);
}

function isLeaf(n: Node): boolean {
  return LEAVES.has(n.op.kind) || (n.op.kind === "const" && n.op.value.length > 1);
}

export function planFusion(graph: Graph, opts: FusionOptions = {}): FusionPlan {
  const recomputeLimit = opts.recomputeLimit ?? 3;
  const maxInlineOps = opts.maxInlineOps ?? 48;
  const maxReads = opts.maxReads ?? 6;
  const byId = new Map(graph.nodes.map((n) => [n.id, n]));
  const consumers = new Map<ValueId, Node[]>();
  for (const n of graph.nodes) for (const i of n.inputs) consumers.set(i, [...(consumers.get(i) ?? []), n]);
  const outputs = new Set(graph.outputs.map((o) => o.id));
  const materialized = new Set<ValueId>();
  // For inlined values: ops in the inlined expression, and the buffers it reads.
  const cost = new Map<ValueId, number>();
  const reads = new Map<ValueId, Set<ValueId>>();

  const readsOf = (id: ValueId): Set<ValueId> => (materialized.has(id) ? new Set([id]) : reads.get(id)!);
  const costOf = (id: ValueId): number => (materialized.has(id) ? 0 : cost.get(id)!);

  for (const n of graph.nodes) {
    if (isLeaf(n) || isAnchor(n)) {
      materialized.add(n.id);
      continue;
    }
    const own = VIEWS.has(n.op.kind) || n.op.kind === "const" ? 0 : 1;
    const r = new Set<ValueId>();
    for (const i of n.inputs) for (const x of readsOf(i)) r.add(x);
    cost.set(n.id, own + n.inputs.reduce((a, i) => a + costOf(i), 0));
    reads.set(n.id, r);
    const users = consumers.get(n.id) ?? [];
    const sharedAndCostly = users.length + (outputs.has(n.id) ? 1 : 0) > 1 && cost.get(n.id)! >= recomputeLimit;
    if (outputs.has(n.id) || sharedAndCostly || cost.get(n.id)! > maxInlineOps || r.size > maxReads) {
      materialized.add(n.id);
    }
  }

  // The matmul generator reads operands as strided buffers: an operand that is not a view of a
  // stored value is stored first.
  for (const n of graph.nodes) {
    if (n.op.kind !== "matmul") continue;
    const batchShape = (n.shape as number[]).slice(0, -2);
    for (const i of n.inputs) {
      const view = stridedView(i, byId, materialized);
      if (!view || !matmulOperandFits(view, batchShape)) materialized.add(i);
    }
  }

  // The attention kernels read their operands in place as per-head strided rows; others are stored.
  for (const n of graph.nodes) {
    if (isAttentionOp(n.op.kind)) for (const i of attentionOperandsToStore(n, byId, materialized)) materialized.add(i);
  }

  const kernels: KernelPlan[] = [];
  for (const n of graph.nodes) {
    if (!materialized.has(n.id) || isLeaf(n)) continue;
    if (isAnchor(n)) kernels.push({ kind: n.op.kind as "reduce", node: n.id });
    else kernels.push({ kind: "pointwise", outputs: [n.id] });
  }
  return { graph, materialized, kernels };
}
