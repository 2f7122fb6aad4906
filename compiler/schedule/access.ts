/**
 * Which element of a value an inlined expression reads, as an affine function of the index the
 * expression is evaluated at. Fusion needs it to prove that a consumer fused into a producer's kernel
 * reads the producer's in-register value where the producer has it at hand (the element a matmul
 * epilogue holds, the row a row kernel reduced) and not an element another invocation owns.
 *
 * Maps are followed inward, from a consumer's index to its inputs' indices: views and broadcasting
 * rewrite the index exactly (a reshape by exact division of affine forms); gathers, pads and concats
 * make it unknown.
 */
import type { Node, ValueId } from "../ir/types.ts";
import { contiguousStrides } from "./views.ts";

/** c + sum k[i] * x[i] over the iteration axes x, x[i] in [0, sizes[i]). */
export interface Affine {
  readonly c: number;
  readonly k: readonly number[];
}

/** One affine form per axis of a value, or undefined when the index is not affine. */
export type IndexMap = readonly Affine[] | undefined;

export function identityMap(sizes: readonly number[]): Affine[] {
  return sizes.map((d, i) => ({ c: 0, k: sizes.map((_, j) => (j === i && d !== 1 ? 1 : 0)) }));
}

function scale(a: Affine, s: number, add = 0): Affine {
  return { c: a.c * s + add, k: a.k.map((x) => x * s) };
}

function sum(parts: readonly Affine[], axes: number): Affine {
  const k = new Array<number>(axes).fill(0);
  let c = 0;
  for (const p of parts) {
    c += p.c;
    p.k.forEach((x, i) => (k[i]! += x));
  }
  return { c, k };
}

/** The flat row-major offset into `shape` of the index `map` (an affine form over the iteration axes). */
export function linear(map: readonly Affine[], shape: readonly number[], sizes: readonly number[]): Affine {
  const st = contiguousStrides(shape);
  return sum(
    map.map((a, i) => scale(a, shape[i] === 1 ? 0 : st[i]!)),
    sizes.length,
  );
}

function maxOf(a: Affine, sizes: readonly number[]): number {
  return a.c + a.k.reduce((m, k, i) => m + k * (sizes[i]! - 1), 0);
}

/** floor(a / d) as an affine form, when the terms that do not divide by d never carry past it. */
function div(a: Affine, d: number, sizes: readonly number[]): Affine | undefined {
  if (d === 1) return a;
  if (a.c < 0 || a.k.some((k) => k < 0)) return undefined;
  const low: Affine = { c: a.c % d, k: a.k.map((k) => (k % d === 0 ? 0 : k)) };
  if (maxOf(low, sizes) >= d) return undefined;
  return { c: Math.floor(a.c / d), k: a.k.map((k) => (k % d === 0 ? k / d : 0)) };
}

/** a mod m as an affine form, when exact. */
function mod(a: Affine, m: number, sizes: readonly number[]): Affine | undefined {
  if (a.c < 0 || a.k.some((k) => k < 0)) return undefined;
  if (maxOf(a, sizes) < m) return a;
  const low: Affine = { c: a.c % m, k: a.k.map((k) => (k % m === 0 ? 0 : k)) };
  return maxOf(low, sizes) < m ? low : undefined;
}

/** Index of input `k` of broadcasting op `n` given `n`'s index (size-1 input axes pinned to 0). */
function aligned(map: readonly Affine[], inShape: readonly number[], outShape: readonly number[], axes: number): Affine[] {
  const lead = outShape.length - inShape.length;
  return inShape.map((d, i) => (d === 1 ? { c: 0, k: new Array<number>(axes).fill(0) } : map[i + lead]!));
}

/** The index into `to` of the element at `map` in `from`, a row-major reshape of it; undefined if not affine. */
export function reshapeMap(map: readonly Affine[], from: readonly number[], to: readonly number[], sizes: readonly number[]): IndexMap {
  const flat = linear(map, from, sizes);
  const st = contiguousStrides(to);
  const m = to.map((d, i) => {
    if (d === 1) return { c: 0, k: new Array<number>(sizes.length).fill(0) };
    const q = div(flat, st[i]!, sizes);
    return q && mod(q, d, sizes);
  });
  return m.every((a) => a !== undefined) ? (m as Affine[]) : undefined;
}

const ELEMENTWISE = new Set(["unary", "binary", "compare", "where", "cast", "broadcast"]);

/** The index maps of `n`'s inputs when `n` is read at `map`; undefined entries are not affine. */
export function inputMaps(n: Node, map: IndexMap, byId: ReadonlyMap<ValueId, Node>, sizes: readonly number[]): IndexMap[] {
  const shapeOf = (id: ValueId) => byId.get(id)!.shape as number[];
  const out = n.shape as number[];
  const op = n.op;
  if (!map) return n.inputs.map(() => undefined);
  if (ELEMENTWISE.has(op.kind)) return n.inputs.map((i) => aligned(map, shapeOf(i), out, sizes.length));
  switch (op.kind) {
    case "permute": {
      const m = new Array<Affine>(op.perm.length);
      op.perm.forEach((p, i) => (m[p] = map[i]!));
      return [m];
    }
    case "slice":
      return [map.map((a, i) => scale(a, op.steps[i]!, op.starts[i]!))];
    case "reshape":
      return [reshapeMap(map, out, shapeOf(n.inputs[0]!), sizes)];
    default:
      return n.inputs.map(() => undefined);
  }
}

export function mapKey(map: IndexMap): string {
  return map ? map.map((a) => `${a.c}:${a.k.join(",")}`).join("|") : "?";
}

const INLINABLE = new Set(["const", "iota", "random", "unary", "binary", "compare", "where", "cast", "reshape", "permute", "slice", "broadcast", "pad", "concat", "gather"]);

export interface Reads {
  /** Boundary values reached, with every distinct index map they are read at. */
  readonly hits: ReadonlyMap<ValueId, readonly IndexMap[]>;
  /** False when the walk met an op that cannot be inlined, or ran past its budget. */
  readonly ok: boolean;
}

/**
 * Walks the expression of `root` evaluated at `map` (over iteration axes of `sizes`) down to the
 * values `boundary` accepts (stored values, in-register values), recording where each is read.
 */
export function readsOf(
  root: ValueId,
  map: IndexMap,
  sizes: readonly number[],
  byId: ReadonlyMap<ValueId, Node>,
  boundary: (id: ValueId) => boolean,
  opts: { readonly computeRoot?: boolean; readonly budget?: number } = {},
): Reads {
  const budget = opts.budget ?? 4000;
  const hits = new Map<ValueId, IndexMap[]>();
  const seen = new Set<string>();
  let steps = 0;
  let ok = true;
  const visit = (id: ValueId, m: IndexMap, isRoot: boolean) => {
    const key = `${id}#${mapKey(m)}`;
    if (seen.has(key) || !ok) return;
    seen.add(key);
    if (++steps > budget) return void (ok = false);
    if (!isRoot && boundary(id)) {
      const list = hits.get(id) ?? [];
      list.push(m);
      hits.set(id, list);
      return;
    }
    const n = byId.get(id)!;
    if (!INLINABLE.has(n.op.kind)) return void (ok = false);
    inputMaps(n, m, byId, sizes).forEach((im, k) => visit(n.inputs[k]!, im, false));
  };
  visit(root, map, opts.computeRoot ?? true);
  return { hits, ok };
}

export function isInlinable(n: Node): boolean {
  return INLINABLE.has(n.op.kind);
}
