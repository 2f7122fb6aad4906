/**
 * Kernel grouping: once the plan has chosen which values are stored, kernels that can share one
 * dispatch are merged, in order of what they save:
 * 1. pointwise kernels reading a matmul's result become its epilogue (bias, activation, residual,
 *    the transposed copy of a weight gradient, the head split of a QKV projection);
 * 2. reductions over the same rows join pointwise kernels before and after them into one row kernel
 *    (softmax, LayerNorm forward and backward: statistics and the normalised output in one pass set);
 * 3. siblings: pointwise kernels over one shape, reductions over the same rows (dBias/dGamma/dBeta).
 * A merge must keep the kernel graph acyclic and the storage bindings within the adapter limit.
 * Values only the group itself reads stop being stored.
 */
import type { Graph, Node, ValueId } from "../ir/types.ts";
import { analyzeGroup, computedBy, type Group, type GroupInfo, rowSpace } from "./group-analysis.ts";

export interface GroupedKernel {
  readonly group: Group;
  readonly info: GroupInfo;
  /** The values it writes to memory. */
  readonly outputs: readonly ValueId[];
}

export interface Grouping {
  readonly kernels: readonly GroupedKernel[];
  /** The plan's stored values less those only their own kernel reads. */
  readonly stored: ReadonlySet<ValueId>;
}

export interface GroupingOptions {
  /** Storage buffers one kernel may bind (reads and writes). */
  readonly maxStorageBuffers: number;
}

class Grouper {
  private readonly groups = new Set<Group>();
  private readonly info = new Map<Group, GroupInfo>();
  private readonly producer = new Map<ValueId, Group>();
  private readonly readers = new Map<ValueId, Set<Group>>();
  private readonly outputs: ReadonlySet<ValueId>;

  constructor(
    readonly graph: Graph,
    private readonly byId: ReadonlyMap<ValueId, Node>,
    private readonly stored: ReadonlySet<ValueId>,
    private readonly opts: GroupingOptions,
    initial: readonly Group[],
  ) {
    this.outputs = new Set(graph.outputs.map((o) => o.id));
    for (const g of initial) {
      const info = analyzeGroup(g, byId, stored);
      if (!info) throw new Error(`internal: kernel ${computedBy(g).join(",")} cannot be lowered alone`);
      this.add(g, info);
    }
  }

  private add(g: Group, info: GroupInfo): void {
    this.groups.add(g);
    this.info.set(g, info);
    for (const v of computedBy(g)) this.producer.set(v, g);
    for (const r of info.reads) {
      let s = this.readers.get(r);
      if (!s) this.readers.set(r, (s = new Set()));
      s.add(g);
    }
  }

  private remove(g: Group): void {
    this.groups.delete(g);
    for (const r of this.info.get(g)!.reads) this.readers.get(r)!.delete(g);
    this.info.delete(g);
  }

  /** Groups other than `except` reading `v`. */
  private readBy(v: ValueId, except: ReadonlySet<Group>): boolean {
    for (const r of this.readers.get(v) ?? []) if (!except.has(r)) return true;
    return false;
  }

  private written(g: Group, except: ReadonlySet<Group>): ValueId[] {
    return computedBy(g).filter((v) => this.stored.has(v) && (this.outputs.has(v) || this.readBy(v, except)));
  }

  private successors(g: Group): Set<Group> {
    const out = new Set<Group>();
    for (const v of computedBy(g)) for (const r of this.readers.get(v) ?? []) if (r !== g) out.add(r);
    return out;
  }

  private predecessors(info: GroupInfo, self: ReadonlySet<Group>): Set<Group> {
    const out = new Set<Group>();
    for (const r of info.reads) {
      const p = this.producer.get(r);
      if (p && !self.has(p)) out.add(p);
    }
    return out;
  }

  /** Merging a and b into c would close a cycle through another group. */
  private closesCycle(a: Group, b: Group, info: GroupInfo): boolean {
    const pair = new Set([a, b]);
    const preds = this.predecessors(info, pair);
    if (preds.size === 0) return false;
    const stack = [...this.successors(a), ...this.successors(b)].filter((g) => !pair.has(g));
    const seen = new Set<Group>();
    while (stack.length) {
      const g = stack.pop()!;
      if (seen.has(g)) continue;
      seen.add(g);
      if (preds.has(g)) return true;
      for (const s of this.successors(g)) if (!pair.has(s)) stack.push(s);
    }
    return false;
  }

  /** Merges b into a when one dispatch can compute both; returns the merged group. */
  tryMerge(a: Group, b: Group): Group | undefined {
    if (a === b || !this.groups.has(a) || !this.groups.has(b)) return undefined;
    const merged = combine(a, b, this.byId);
    if (!merged) return undefined;
    const info = analyzeGroup(merged, this.byId, this.stored);
    if (!info) return undefined;
    const pair = new Set([a, b]);
    // Reads of the pair's own values disappear into the merged kernel; count what it binds.
    const writes = this.written(merged, pair);
    if (info.inputBindings + writes.length > this.opts.maxStorageBuffers) return undefined;
    if (this.closesCycle(a, b, info)) return undefined;
    this.remove(a);
    this.remove(b);
    this.add(merged, info);
    return merged;
  }

  ofKind(kind: Group["kind"]): Group[] {
    return [...this.groups].filter((g) => g.kind === kind).sort((x, y) => x.first - y.first);
  }

  has(g: Group): boolean {
    return this.groups.has(g);
  }

  /** Groups reading a value `g` computes. */
  consumersOf(g: Group): Group[] {
    return [...this.successors(g)].sort((x, y) => x.first - y.first);
  }

  /** Groups computing a value `g` reads. */
  producersOf(g: Group): Group[] {
    return [...this.predecessors(this.info.get(g)!, new Set([g]))].sort((x, y) => x.first - y.first);
  }

  /** Dispatch order: producers first, otherwise the order of the plan. */
  finish(): Grouping {
    const stored = new Set(this.stored);
    for (const g of this.groups) for (const v of computedBy(g)) if (!this.outputs.has(v) && !this.readBy(v, new Set([g]))) stored.delete(v);
    const indegree = new Map<Group, number>();
    for (const g of this.groups) indegree.set(g, this.predecessors(this.info.get(g)!, new Set([g])).size);
    const ready = [...this.groups].filter((g) => indegree.get(g) === 0);
    const kernels: GroupedKernel[] = [];
    while (ready.length) {
      ready.sort((x, y) => y.first - x.first);
      const g = ready.pop()!;
      const outputs = computedBy(g).filter((v) => stored.has(v));
      // A kernel nobody reads from (dead code the graph still holds) is not dispatched.
      if (outputs.length) kernels.push({ group: g, info: this.info.get(g)!, outputs });
      for (const s of this.successors(g)) {
        const d = indegree.get(s)! - 1;
        indegree.set(s, d);
        if (d === 0) ready.push(s);
      }
    }
    if (this.groups.size !== [...indegree.values()].filter((d) => d === 0).length) throw new Error("internal: kernel groups form a cycle");
    return { kernels, stored };
  }
}

function sameRows(byId: ReadonlyMap<ValueId, Node>, r1: ValueId, r2: ValueId): boolean {
  const a = rowSpace(byId, r1);
  const b = rowSpace(byId, r2);
  return a.shape.join(",") === b.shape.join(",") && a.axes.join(",") === b.axes.join(",");
}

/** The group computing both, when their kinds can share a kernel (legality is checked after). */
function combine(a: Group, b: Group, byId: ReadonlyMap<ValueId, Node>): Group | undefined {
  const first = Math.min(a.first, b.first);
  const members = [...a.members, ...b.members];
  const shape = (id: ValueId) => (byId.get(id)!.shape as number[]).join(",");
  if (b.kind !== "pointwise" && a.kind === "pointwise") return combine(b, a, byId);
  if (a.kind === "matmul" && b.kind === "pointwise") return { ...a, members, first };
  if (a.kind === "reduce" && b.kind === "pointwise") return { ...a, members, first };
  if (a.kind === "reduce" && b.kind === "reduce" && sameRows(byId, a.reduces[0]!, b.reduces[0]!)) {
    return { ...a, reduces: [...a.reduces, ...b.reduces], members, first };
  }
  if (a.kind === "pointwise" && b.kind === "pointwise" && shape(a.members[0]!) === shape(b.members[0]!)) return { ...a, members, first };
  return undefined;
}

/** Reduced axes are the trailing ones: rows are contiguous, so a row kernel loses no parallelism. */
function trailingRows(byId: ReadonlyMap<ValueId, Node>, g: Group): boolean {
  const { shape, axes } = rowSpace(byId, g.reduces[0]!);
  const rows = shape.filter((_, i) => !axes.includes(i)).reduce((x, y) => x * y, 1);
  return axes.every((a, i) => a === shape.length - axes.length + i) && rows > 1;
}

/** Merges into `g` whatever `candidates(g)` offers until nothing more merges; returns the final group. */
function absorb(grouper: Grouper, g: Group, candidates: (g: Group) => Group[]): void {
  let current = g;
  for (let changed = true; changed; ) {
    changed = false;
    for (const c of candidates(current)) {
      const merged = grouper.tryMerge(current, c);
      if (merged) {
        current = merged;
        changed = true;
        break;
      }
    }
  }
}

export function groupKernels(graph: Graph, stored: ReadonlySet<ValueId>, initial: readonly Group[], opts: GroupingOptions): Grouping {
  const byId = new Map(graph.nodes.map((n) => [n.id, n]));
  const grouper = new Grouper(graph, byId, stored, opts, initial);
  for (const m of grouper.ofKind("matmul")) absorb(grouper, m, (g) => grouper.consumersOf(g).filter((c) => c.kind === "pointwise"));
  const rowMates = (g: Group, c: Group) => c.kind === "pointwise" || (c.kind === "reduce" && sameRows(byId, g.reduces[0]!, c.reduces[0]!));
  for (const r of grouper.ofKind("reduce")) {
    if (!grouper.has(r)) continue;
    absorb(grouper, r, (g) => [
      ...grouper.consumersOf(g).filter((c) => rowMates(g, c)),
      ...(trailingRows(byId, g) ? grouper.producersOf(g).filter((c) => rowMates(g, c)) : []),
    ]);
  }
  for (const kind of ["reduce", "pointwise"] as const) {
    for (const g of grouper.ofKind(kind)) {
      if (!grouper.has(g)) continue;
      absorb(grouper, g, (cur) => grouper.ofKind(kind).filter((c) => c !== cur && c.first > cur.first));
    }
  }
  return grouper.finish();
}
