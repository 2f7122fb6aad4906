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

/**
 * The kernel graph while groups merge: groups, the values each computes and reads, edges from
 * producer to reader, and a topological order kept valid across merges (it bounds the cycle checks).
 */
class Grouper {
  private readonly info = new Map<Group, GroupInfo>();
  private readonly producer = new Map<ValueId, Group>();
  private readonly readers = new Map<ValueId, Set<Group>>();
  private readonly succ = new Map<Group, Set<Group>>();
  private readonly pred = new Map<Group, Set<Group>>();
  /** The groups in a topological order, and each one's index in it. */
  private order: Group[] = [];
  private readonly pos = new Map<Group, number>();
  private readonly outputs: ReadonlySet<ValueId>;
  /** Groups never merged. */
  private readonly sealed = new Set<Group>();

  constructor(
    readonly graph: Graph,
    private readonly byId: ReadonlyMap<ValueId, Node>,
    private readonly stored: ReadonlySet<ValueId>,
    private readonly opts: GroupingOptions,
    initial: readonly Group[],
  ) {
    this.outputs = new Set(graph.outputs.map((o) => o.id));
    // One kernel per stored value in graph order is a topological order.
    for (const g of initial) {
      let info = analyzeGroup(g, byId, stored);
      if (!info) {
        // Its expression is too tangled to follow index maps through: it stays a kernel of its own.
        info = analyzeGroup(g, byId, stored, { maps: false });
        if (!info) throw new Error(`internal: kernel ${computedBy(g).join(",")} cannot be lowered alone`);
        this.sealed.add(g);
      }
      this.add(g, info);
      this.pos.set(g, this.order.length);
      this.order.push(g);
    }
  }

  private edge(from: Group, to: Group): void {
    if (from === to) return;
    this.succ.get(from)!.add(to);
    this.pred.get(to)!.add(from);
  }

  private add(g: Group, info: GroupInfo): void {
    this.info.set(g, info);
    this.succ.set(g, new Set());
    this.pred.set(g, new Set());
    for (const v of computedBy(g)) {
      this.producer.set(v, g);
      for (const r of this.readers.get(v) ?? []) this.edge(g, r);
    }
    for (const r of info.reads) {
      let s = this.readers.get(r);
      if (!s) this.readers.set(r, (s = new Set()));
      s.add(g);
      const p = this.producer.get(r);
      if (p) this.edge(p, g);
    }
  }

  private remove(g: Group): void {
    for (const r of this.info.get(g)!.reads) this.readers.get(r)!.delete(g);
    for (const p of this.pred.get(g)!) this.succ.get(p)!.delete(g);
    for (const s of this.succ.get(g)!) this.pred.get(s)!.delete(g);
    this.info.delete(g);
    this.succ.delete(g);
    this.pred.delete(g);
  }

  /** Groups other than `except` reading `v`. */
  private readBy(v: ValueId, except: ReadonlySet<Group>): boolean {
    for (const r of this.readers.get(v) ?? []) if (!except.has(r)) return true;
    return false;
  }

  private written(g: Group, except: ReadonlySet<Group>): ValueId[] {
    return computedBy(g).filter((v) => this.stored.has(v) && (this.outputs.has(v) || this.readBy(v, except)));
  }

  /** Groups strictly between `lo` and `hi` in the order reachable from `from` along `edges`. */
  private reach(from: Group, edges: Map<Group, Set<Group>>, lo: number, hi: number): Set<Group> {
    const seen = new Set<Group>();
    const stack = [from];
    while (stack.length) {
      for (const n of edges.get(stack.pop()!)!) {
        const p = this.pos.get(n)!;
        if (p > lo && p < hi && !seen.has(n)) {
          seen.add(n);
          stack.push(n);
        }
      }
    }
    return seen;
  }

  /**
   * Merges b into a when one dispatch can compute both; returns the merged group. With a before b
   * in the order, merging closes a cycle exactly when a path from a reaches b through another group,
   * which lies between them.
   */
  tryMerge(a: Group, b: Group): Group | undefined {
    if (a === b || !this.info.has(a) || !this.info.has(b) || this.sealed.has(a) || this.sealed.has(b)) return undefined;
    const merged = combine(a, b, this.byId);
    if (!merged) return undefined;
    const [lo, hi] = this.pos.get(a)! < this.pos.get(b)! ? [a, b] : [b, a];
    const [pl, ph] = [this.pos.get(lo)!, this.pos.get(hi)!];
    const hiPreds = this.pred.get(hi)!;
    for (const x of this.reach(lo, this.succ, pl, ph)) if (hiPreds.has(x)) return undefined;
    const info = analyzeGroup(merged, this.byId, this.stored);
    if (!info) return undefined;
    // Reads of the pair's own values disappear into the merged kernel; count what it binds.
    const writes = this.written(merged, new Set([a, b]));
    if (info.inputBindings + writes.length > this.opts.maxStorageBuffers) return undefined;
    // The new order: what hi depends on between them, the merged group, then the rest.
    const before = this.reach(hi, this.pred, pl, ph);
    const between = this.order.slice(pl + 1, ph);
    const segment = [...between.filter((g) => before.has(g)), merged, ...between.filter((g) => !before.has(g))];
    this.remove(a);
    this.remove(b);
    this.add(merged, info);
    this.order.splice(pl, ph - pl + 1, ...segment);
    this.pos.delete(a);
    this.pos.delete(b);
    for (let i = pl; i < this.order.length; i++) this.pos.set(this.order[i]!, i);
    return merged;
  }

  ofKind(kind: Group["kind"]): Group[] {
    return [...this.info.keys()].filter((g) => g.kind === kind).sort((x, y) => x.first - y.first);
  }

  has(g: Group): boolean {
    return this.info.has(g);
  }

  /** Groups reading a value `g` computes. */
  consumersOf(g: Group): Group[] {
    return [...this.succ.get(g)!].sort((x, y) => x.first - y.first);
  }

  /** Groups computing a value `g` reads. */
  producersOf(g: Group): Group[] {
    return [...this.pred.get(g)!].sort((x, y) => x.first - y.first);
  }

  /** Dispatch order: producers first, otherwise the order of the plan. */
  finish(): Grouping {
    const stored = new Set(this.stored);
    for (const g of this.info.keys()) for (const v of computedBy(g)) if (!this.outputs.has(v) && !this.readBy(v, new Set([g]))) stored.delete(v);
    const indegree = new Map<Group, number>();
    for (const g of this.info.keys()) indegree.set(g, this.pred.get(g)!.size);
    const ready = [...this.info.keys()].filter((g) => indegree.get(g) === 0);
    const kernels: GroupedKernel[] = [];
    let done = 0;
    while (ready.length) {
      ready.sort((x, y) => y.first - x.first);
      const g = ready.pop()!;
      done++;
      const outputs = computedBy(g).filter((v) => stored.has(v));
      // A kernel nobody reads from (dead code the graph still holds) is not dispatched.
      if (outputs.length) kernels.push({ group: g, info: this.info.get(g)!, outputs });
      for (const s of this.succ.get(g)!) {
        const d = indegree.get(s)! - 1;
        indegree.set(s, d);
        if (d === 0) ready.push(s);
      }
    }
    if (done !== this.info.size) throw new Error("internal: kernel groups form a cycle");
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

/** The key siblings must share to merge: a pointwise kernel's shape, a reduction's rows. */
function siblingKey(g: Group, byId: ReadonlyMap<ValueId, Node>): string {
  if (g.kind === "pointwise") return (byId.get(g.members[0]!)!.shape as number[]).join(",");
  const { shape, axes } = rowSpace(byId, g.reduces[0]!);
  return `${shape.join(",")}/${axes.join(",")}`;
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
    const buckets = new Map<string, Group[]>();
    for (const g of grouper.ofKind(kind)) {
      const key = siblingKey(g, byId);
      buckets.set(key, [...(buckets.get(key) ?? []), g]);
    }
    for (const bucket of buckets.values()) {
      for (let i = 0; i < bucket.length; i++) {
        let current = bucket[i]!;
        if (!grouper.has(current)) continue;
        for (let j = i + 1; j < bucket.length; j++) current = grouper.tryMerge(current, bucket[j]!) ?? current;
      }
    }
  }
  return grouper.finish();
}
