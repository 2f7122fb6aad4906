/**
 * Fusion planning: which values live in memory and which are recomputed inside the kernels that use
 * them. Pointwise ops and views are inlined into their consumers (an expression per element, reads
 * through index arithmetic), so a chain of them costs one pass over memory. A value is materialised
 * when it is a graph output, the result of an anchor op (matmul, reduce, conv3d, scatter_add, the
 * attention family), an operand the matmul or attention generators must read as a strided buffer,
 * shared by several consumers and too costly to recompute in each, or the end of a matmul's
 * elementwise chain that its epilogue will store. Kernels are then merged (group.ts): matmul
 * epilogues, row kernels, siblings; what only its own kernel reads is no longer stored.
 */
import { ATTENTION_OPS, type AttentionOp, type Graph, type Node, type ValueId } from "../ir/types.ts";
import { attentionOperandsToStore, isAttentionOp } from "../codegen/fused/attention-group.ts";
import { type EpilogueStore, matmulOperandFits } from "../codegen/fused/matmul-group.ts";
import { MIN_STORAGE_BUFFERS } from "../codegen/kernel.ts";
import type { RowPlan } from "../codegen/fused/row.ts";
import type { Group } from "./group-analysis.ts";
import { type GroupedKernel, groupKernels } from "./group.ts";
import { headsLastAttention } from "./attention-layout.ts";
import { concatInPlace, type Placement } from "./concat-in-place.ts";
import { fuseRowPrologues, type RowPrologue, type RowPrologueMode } from "./row-prologue.ts";
import { stridedView } from "./views.ts";

/** A row kernel: reductions over the same rows and the pointwise values that read them. */
export type RowKernelPlan = { readonly kind: "reduce"; readonly node: ValueId; readonly outputs: readonly ValueId[] } & RowPlan;

export type KernelPlan =
  | { readonly kind: "pointwise"; readonly outputs: readonly ValueId[] }
  | RowKernelPlan
  /** Independent row kernels whose results no other kernel reads, side by side in one dispatch. */
  | { readonly kind: "rows"; readonly node: ValueId; readonly outputs: readonly ValueId[]; readonly parts: readonly RowKernelPlan[] }
  /**
   * A matmul whose epilogue computes pointwise values of its result (`outputs` may omit the result),
   * and whose `prologue` row kernel computes its A operand (row-prologue.ts).
   */
  | {
      readonly kind: "matmul";
      readonly node: ValueId;
      readonly outputs: readonly ValueId[];
      readonly members: readonly ValueId[];
      readonly epilogue: readonly EpilogueStore[];
      readonly prologue?: { readonly row: RowKernelPlan; readonly operand: ValueId };
    }
  | { readonly kind: "conv3d" | "scatter_add"; readonly node: ValueId; readonly outputs: readonly ValueId[] }
  /** An attention kernel; `into`: it writes its results into a concatenation (concat-in-place.ts). */
  | { readonly kind: AttentionOp; readonly node: ValueId; readonly outputs: readonly ValueId[]; readonly into?: Placement };

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
  /** Buffers one inlined expression may read before it is stored. */
  readonly maxReads?: number;
  /**
   * Storage buffers a merged kernel may bind, reads and writes together. Default 8, the WebGPU
   * minimum of maxStorageBuffersPerShaderStage (lavapipe offers 16).
   */
  readonly maxStorageBuffers?: number;
  /**
   * Row kernels (LayerNorm) run inside the matmul that reads them (the software SIMD tile only):
   * "free" where the matmul is one column tile wide, so no row is computed twice; "always" for every
   * such matmul, each column tile recomputing its rows (fewest dispatches, slower on lavapipe:
   * docs/performance.md); "off" (default) never.
   */
  readonly rowPrologue?: RowPrologueMode;
  /**
   * "f16": forward intermediates are stored as f16 and computed in f32 (schedule/half-values.ts,
   * codegen/half-storage.ts); needs the adapter's shader-f16. "f32" (default): everything f32.
   * It changes what kernels load and store, not which kernels there are.
   */
  readonly precision?: StoragePrecision;
  /**
   * Tiles the autotuner chose (runtime/autotune.ts): the default kernel's hash -> the matmul's
   * `tile`. Kernels not in it keep the default; the numbers do not change.
   */
  readonly tuning?: TuningTable;
}

export type TuningTable = Readonly<Record<string, number>>;

export type StoragePrecision = "f32" | "f16";

const ANCHORS = new Set<string>(["matmul", "reduce", "conv3d", "scatter_add", ...ATTENTION_OPS]);
const LEAVES = new Set(["input", "param"]);
const VIEWS = new Set(["reshape", "permute", "slice", "broadcast"]);

export function isAnchor(n: Node): boolean {
  return ANCHORS.has(n.op.kind);
}

function isLeaf(n: Node): boolean {
  return LEAVES.has(n.op.kind) || (n.op.kind === "const" && n.op.value.length > 1);
}

/** Elementwise ops that an epilogue can apply to a matmul result element. */
const ELEMENTWISE = new Set(["unary", "binary", "compare", "where", "cast"]);

/**
 * Values worth storing from a matmul's epilogue instead of recomputing in each consumer: walking
 * from a matmul along elementwise ops of its shape that are each the only consumer of the previous
 * value (bias, activation, residual add), the first value with several consumers. Stored there, it
 * replaces the matmul result in memory (which then nobody reads) and its consumers read one buffer
 * instead of recomputing the chain from several.
 */
function epilogueEnds(graph: Graph): Set<ValueId> {
  const users = new Map<ValueId, Set<Node>>();
  for (const n of graph.nodes) for (const i of n.inputs) users.set(i, (users.get(i) ?? new Set()).add(n));
  const outputs = new Set(graph.outputs.map((o) => o.id));
  const ends = new Set<ValueId>();
  for (const m of graph.nodes) {
    if (m.op.kind !== "matmul" || outputs.has(m.id)) continue;
    const shape = m.shape.join(",");
    let cur = m;
    for (;;) {
      const next = [...(users.get(cur.id) ?? [])];
      if (cur !== m && next.length + (outputs.has(cur.id) ? 1 : 0) > 1) {
        ends.add(cur.id);
        break;
      }
      if (next.length !== 1 || !ELEMENTWISE.has(next[0]!.op.kind) || next[0]!.shape.join(",") !== shape) break;
      cur = next[0]!;
    }
  }
  return ends;
}

/** Which values get a buffer: see the module comment. `promoted` are stored in any case. */
function chooseStored(graph: Graph, opts: FusionOptions, promoted: ReadonlySet<ValueId>): Set<ValueId> {
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
    if (outputs.has(n.id) || promoted.has(n.id) || sharedAndCostly || cost.get(n.id)! > maxInlineOps || r.size > maxReads) {
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
  // The attention kernels read their operands in place through strided views too.
  for (const n of graph.nodes) if (isAttentionOp(n.op.kind)) for (const v of attentionOperandsToStore(n, byId, materialized)) materialized.add(v);
  return materialized;
}

/** One kernel per stored value, as the grouping starts from. */
function singleKernels(graph: Graph, stored: ReadonlySet<ValueId>): Group[] {
  const groups: Group[] = [];
  for (const n of graph.nodes) {
    if (!stored.has(n.id) || isLeaf(n)) continue;
    const first = groups.length;
    const kind = n.op.kind;
    if (kind === "matmul") groups.push({ kind, anchor: n.id, reduces: [], members: [], first });
    else if (kind === "reduce") groups.push({ kind, reduces: [n.id], members: [], first });
    else if (isAnchor(n)) groups.push({ kind: "opaque", anchor: n.id, reduces: [], members: [], first });
    else groups.push({ kind: "pointwise", reduces: [], members: [n.id], first });
  }
  return groups;
}

function toKernelPlan(
  k: GroupedKernel,
  byId: ReadonlyMap<ValueId, Node>,
  stored: ReadonlySet<ValueId>,
  placements: ReadonlyMap<ValueId, Placement> = new Map(),
  prologues: ReadonlyMap<GroupedKernel, RowPrologue> = new Map(),
): KernelPlan {
  const { group: g, info, outputs } = k;
  switch (g.kind) {
    case "pointwise":
      return { kind: "pointwise", outputs };
    case "matmul": {
      const epilogue = g.members.filter((m) => stored.has(m)).map((id) => ({ id, offset: info.epilogue!.get(id)! }));
      const p = prologues.get(k);
      // The prologue computes its operand whether or not it is stored.
      const prologue = p ? { row: toKernelPlan(p.row, byId, new Set([...stored, p.operand])) as RowKernelPlan, operand: p.operand } : undefined;
      return { kind: "matmul", node: g.anchor!, outputs, members: g.members, epilogue, ...(prologue ? { prologue } : {}) };
    }
    case "reduce": {
      const pass = info.pass!;
      return {
        kind: "reduce",
        node: g.reduces[0]!,
        outputs,
        reduces: g.reduces.map((id) => ({ id, pass: pass.get(id)! })),
        stores: g.members.filter((m) => stored.has(m) && !info.rowMembers!.has(m)).map((id) => ({ id, pass: pass.get(id)! })),
        rowStores: [...g.reduces, ...g.members].filter((v) => stored.has(v) && (info.rowMembers!.has(v) || g.reduces.includes(v))),
      };
    }
    case "opaque": {
      const kind = byId.get(g.anchor!)!.op.kind;
      if (!isAttentionOp(kind)) return { kind: kind as "conv3d" | "scatter_add", node: g.anchor!, outputs };
      const into = placements.get(g.anchor!);
      return { kind, node: g.anchor!, outputs, ...(into ? { into } : {}) };
    }
  }
}

function rowsPlan(parts: readonly GroupedKernel[], byId: ReadonlyMap<ValueId, Node>, stored: ReadonlySet<ValueId>): KernelPlan {
  const plans = parts.map((k) => toKernelPlan(k, byId, stored) as RowKernelPlan);
  if (plans.length === 1) return plans[0]!;
  return { kind: "rows", node: plans[0]!.node, outputs: plans.flatMap((p) => p.outputs), parts: plans };
}

/**
 * Row kernels that no other kernel reads from (a backward's bias, gamma and beta gradients: only the
 * optimizer reads them) depend on nothing that depends on them, so several can share a dispatch
 * whatever their shapes, up to the binding limit. Each batch runs where its last member did, when
 * every member's inputs exist. Other kernels pass through; a batch is an array.
 */
function batchSinkRows(kernels: readonly GroupedKernel[], graph: Graph, maxStorageBuffers: number): (GroupedKernel | GroupedKernel[])[] {
  const read = new Set<ValueId>();
  for (const k of kernels) for (const r of k.info.reads) read.add(r);
  const outputs = new Set(graph.outputs.map((o) => o.id));
  const isSink = (k: GroupedKernel) => k.group.kind === "reduce" && k.outputs.every((v) => outputs.has(v) && !read.has(v));
  const bindings = (ks: readonly GroupedKernel[]) => new Set(ks.flatMap((k) => [...k.info.reads, ...k.outputs])).size;
  const batches: GroupedKernel[][] = [];
  for (const k of kernels) {
    if (!isSink(k)) continue;
    const open = batches.find((b) => bindings([...b, k]) <= maxStorageBuffers);
    if (open) open.push(k);
    else batches.push([k]);
  }
  const last = new Map(batches.map((b) => [b[b.length - 1]!, b]));
  const batched = new Set(batches.flat());
  return kernels.flatMap((k) => (last.has(k) ? [last.get(k)!] : batched.has(k) ? [] : [k]));
}

/** The plan works on the graph with heads-last attention results (attention-layout.ts): use `plan.graph`. */
export function planFusion(input: Graph, opts: FusionOptions = {}): FusionPlan {
  const graph = headsLastAttention(input);
  const byId = new Map(graph.nodes.map((n) => [n.id, n]));
  const maxStorageBuffers = opts.maxStorageBuffers ?? MIN_STORAGE_BUFFERS;
  let promoted = epilogueEnds(graph);
  for (;;) {
    const stored = chooseStored(graph, opts, promoted);
    const grouping = groupKernels(graph, stored, singleKernels(graph, stored), { maxStorageBuffers });
    // A promoted value that no matmul epilogue took would cost a kernel of its own: inline it again.
    const inEpilogue = new Set(grouping.kernels.flatMap((k) => (k.group.kind === "matmul" ? k.group.members : [])));
    const kept = new Set([...promoted].filter((v) => inEpilogue.has(v)));
    if (kept.size === promoted.size) {
      const mode = opts.rowPrologue ?? "off";
      const rows = mode !== "off" ? fuseRowPrologues(grouping.kernels, byId, grouping.stored, maxStorageBuffers, mode) : { kernels: grouping.kernels, prologues: new Map(), unstored: new Set<ValueId>() };
      const inPlace = concatInPlace(rows.kernels, byId);
      const stored = new Set([...grouping.stored].filter((v) => !inPlace.unstored.has(v) && !rows.unstored.has(v)));
      const kernels = batchSinkRows(inPlace.kernels, graph, maxStorageBuffers);
      return {
        graph,
        materialized: stored,
        kernels: kernels.map((k) => (Array.isArray(k) ? rowsPlan(k, byId, stored) : toKernelPlan(k, byId, stored, inPlace.placements, rows.prologues))),
      };
    }
    promoted = kept;
  }
}
