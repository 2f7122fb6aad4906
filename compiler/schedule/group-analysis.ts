/**
 * One candidate kernel group: the values it computes, what it must read from memory, and whether a
 * single dispatch can compute it. The legality conditions are the index maps of access.ts:
 * - matmul epilogue: every member reads the matmul's result only at one injective map, so the
 *   invocation holding an element of the result can compute (and store) the member element it feeds;
 * - row kernel: reductions over the same input shape and axes, one invocation per row; members and
 *   later reductions read a reduction only at their own row, and after the pass that completes it.
 * Stored values the group computes itself are recomputed from their inputs, never read back.
 */
import type { Node, ValueId } from "../ir/types.ts";
import { matmulOperands } from "../codegen/fused/matmul-group.ts";
import { type Affine, identityMap, type IndexMap, linear, readsOf, reshapeMap } from "./access.ts";
import { contiguousStrides } from "./views.ts";

export type GroupKind = "pointwise" | "reduce" | "matmul" | "opaque";

export interface Group {
  readonly kind: GroupKind;
  /** matmul and opaque anchors (conv3d, scatter_add, ...): the anchor node. */
  readonly anchor?: ValueId;
  /** reduce: the reductions, held in registers per row. */
  readonly reduces: readonly ValueId[];
  /** Pointwise values the kernel computes (and stores where other kernels read them). */
  readonly members: readonly ValueId[];
  /** Index of its earliest kernel in the plan's order: the tie-break of the dispatch order. */
  readonly first: number;
}

export interface GroupInfo {
  /** Stored values the kernel reads (a matmul's operand bases included). */
  readonly reads: ReadonlySet<ValueId>;
  /** Storage bindings besides the outputs. */
  readonly inputBindings: number;
  /** reduce: the pass each reduction runs in and each full-shape member is stored in. */
  readonly pass?: ReadonlyMap<ValueId, number>;
  /** reduce: members with one element per row, stored after the last pass. */
  readonly rowMembers?: ReadonlySet<ValueId>;
  /** matmul: per member, the flat offset of the matmul result its element reads (affine in its index). */
  readonly epilogue?: ReadonlyMap<ValueId, Affine>;
}

export function computedBy(g: Group): ValueId[] {
  return [...(g.anchor !== undefined ? [g.anchor] : []), ...g.reduces, ...g.members];
}

function shapeOf(byId: ReadonlyMap<ValueId, Node>, id: ValueId): number[] {
  return byId.get(id)!.shape as number[];
}

function sameAffine(a: Affine, b: Affine, sizes: readonly number[]): boolean {
  return a.c === b.c && sizes.every((d, i) => d === 1 || a.k[i] === b.k[i]);
}

const squeeze = (s: readonly number[]) => s.filter((d) => d !== 1).join(",");
const numel = (s: readonly number[]) => s.reduce((a, b) => a * b, 1);

/** A reduction's row space: input shape, reduced axes, and the kept sizes that number the rows. */
export function rowSpace(byId: ReadonlyMap<ValueId, Node>, reduce: ValueId): { shape: number[]; axes: number[]; kept: number[] } {
  const n = byId.get(reduce)!;
  if (n.op.kind !== "reduce") throw new Error("internal: not a reduce");
  const shape = shapeOf(byId, n.inputs[0]!);
  const axes = [...n.op.axes].sort((a, b) => a - b);
  return { shape, axes, kept: shape.filter((_, i) => !axes.includes(i)) };
}

/**
 * Injective reads of a matmul result at `lin` (an affine offset over a member's axes): every
 * non-trivial axis steps by a positive stride, and the strides nest like a mixed radix, so the
 * member index is recovered from the offset by successive division.
 */
export function invertible(lin: Affine, sizes: readonly number[]): boolean {
  if (lin.c < 0) return false;
  const axes = sizes.map((d, i) => ({ d, k: lin.k[i]! })).filter((a) => a.d !== 1);
  if (axes.some((a) => a.k <= 0)) return false;
  axes.sort((a, b) => b.k - a.k);
  for (let i = 0; i + 1 < axes.length; i++) if (axes[i]!.k < axes[i + 1]!.k * axes[i + 1]!.d) return false;
  return true;
}

/**
 * The group's reads and layout, or undefined when one dispatch cannot compute it. With `maps` off,
 * expressions are walked without index maps (linear in their size): enough for a single kernel's
 * reads, where no in-register value is read across kernels, when a walk with maps ran too long.
 */
export function analyzeGroup(g: Group, byId: ReadonlyMap<ValueId, Node>, stored: ReadonlySet<ValueId>, opts: { readonly maps?: boolean } = {}): GroupInfo | undefined {
  const computed = new Set(computedBy(g));
  const locals = new Set<ValueId>(g.kind === "matmul" ? [g.anchor!] : g.kind === "reduce" ? g.reduces : []);
  const boundary = (id: ValueId) => locals.has(id) || (stored.has(id) && !computed.has(id));
  const reads = new Set<ValueId>();
  const useMaps = opts.maps ?? true;
  /** Walks `root` at `map`; returns the local reads, or undefined when the walk fails. */
  const walk = (root: ValueId, map: IndexMap, sizes: readonly number[], computeRoot = true) => {
    const r = readsOf(root, useMaps ? map : undefined, sizes, byId, boundary, { computeRoot });
    if (!r.ok) return undefined;
    const local = new Map<ValueId, readonly IndexMap[]>();
    for (const [id, maps] of r.hits) (locals.has(id) ? local.set(id, maps) : reads.add(id));
    return local;
  };

  if (g.kind === "opaque") {
    for (const i of byId.get(g.anchor!)!.inputs) if (!walk(i, undefined, [], false)) return undefined;
    return { reads, inputBindings: reads.size };
  }
  if (g.kind === "pointwise") {
    for (const m of g.members) {
      const shape = shapeOf(byId, m);
      if (!walk(m, identityMap(shape), shape)) return undefined;
    }
    return { reads, inputBindings: reads.size };
  }
  if (g.kind === "matmul") return analyzeEpilogue(g, byId, stored, reads, walk);
  return analyzeRows(g, byId, walk, reads);
}

type Walk = (root: ValueId, map: IndexMap, sizes: readonly number[], computeRoot?: boolean) => Map<ValueId, readonly IndexMap[]> | undefined;

function analyzeEpilogue(g: Group, byId: ReadonlyMap<ValueId, Node>, stored: ReadonlySet<ValueId>, reads: Set<ValueId>, walk: Walk): GroupInfo | undefined {
  const anchor = g.anchor!;
  const mShape = shapeOf(byId, anchor);
  const epilogue = new Map<ValueId, Affine>();
  for (const m of g.members) {
    const shape = shapeOf(byId, m);
    const local = walk(m, identityMap(shape), shape);
    const maps = local?.get(anchor);
    if (!maps || maps.some((x) => !x)) return undefined;
    const lins = maps.map((x) => linear(x!, mShape, shape));
    if (lins.some((l) => !sameAffine(l, lins[0]!, shape)) || !invertible(lins[0]!, shape)) return undefined;
    epilogue.set(m, lins[0]!);
  }
  const epilogueReads = reads.size;
  const ops = matmulOperands(byId.get(anchor)!, byId, stored);
  if (!ops) throw new Error(`internal: matmul ${anchor} operands are not strided views`);
  reads.add(ops.a.base).add(ops.b.base);
  return { reads, inputBindings: 2 + epilogueReads, epilogue };
}

function analyzeRows(g: Group, byId: ReadonlyMap<ValueId, Node>, walk: Walk, reads: Set<ValueId>): GroupInfo | undefined {
  const { shape, axes, kept } = rowSpace(byId, g.reduces[0]!);
  const rows = numel(kept);
  const keptStrides = contiguousStrides(kept);
  // A value laid out one element per row, read at the current row of the input space.
  let keptAxis = 0;
  const rowOffset: Affine = {
    c: 0,
    k: shape.map((d, i) => {
      if (axes.includes(i)) return 0;
      const stride = keptStrides[keptAxis++]!;
      return d === 1 ? 0 : stride;
    }),
  };
  const deps = new Map<ValueId, Set<ValueId>>();
  /** Locals read by a walk from a value of `sizes`, each at the offset `want`; undefined if elsewhere. */
  const localDeps = (root: ValueId, sizes: readonly number[], want: Affine, computeRoot: boolean, map: IndexMap): Set<ValueId> | undefined => {
    const local = walk(root, map, sizes, computeRoot);
    if (!local) return undefined;
    for (const [id, maps] of local) {
      const lshape = shapeOf(byId, id);
      if (maps.some((m) => !m || !sameAffine(linear(m, lshape, sizes), want, sizes))) return undefined;
    }
    return new Set(local.keys());
  };
  for (const r of g.reduces) {
    const d = localDeps(byId.get(r)!.inputs[0]!, shape, rowOffset, false, identityMap(shape));
    if (!d) return undefined;
    deps.set(r, d);
  }
  const level = new Map<ValueId, number>();
  const levelOf = (r: ValueId): number => {
    const hit = level.get(r);
    if (hit !== undefined) return hit;
    const l = Math.max(-1, ...[...deps.get(r)!].map(levelOf)) + 1;
    level.set(r, l);
    return l;
  };
  const pass = new Map<ValueId, number>();
  for (const r of g.reduces) pass.set(r, levelOf(r));
  const rowMembers = new Set<ValueId>();
  for (const m of g.members) {
    const mshape = shapeOf(byId, m);
    const size = mshape.reduce((a, b) => a * b, 1);
    if (size === numel(shape) && size !== rows) {
      // Shaped like the input, or a reshape of it (computed at the same flat offset; a reshape that
      // splits an axis is not affine, so it may read no reduction of the group).
      const d = localDeps(m, shape, rowOffset, true, reshapeMap(identityMap(shape), shape, mshape, shape));
      if (!d) return undefined;
      pass.set(m, Math.max(-1, ...[...d].map(levelOf)) + 1);
    } else if (size === rows && squeeze(mshape) === squeeze(kept)) {
      if (!localDeps(m, mshape, linear(identityMap(mshape), mshape, mshape), true, identityMap(mshape))) return undefined;
      rowMembers.add(m);
    } else return undefined;
  }
  return { reads, inputBindings: reads.size, pass, rowMembers };
}
