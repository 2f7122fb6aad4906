/**
 * Concatenations written in place by their producers. The gradient of a fused qkv projection is
 * dq, dk and dv laid back side by side: `pad(view(dq)) + pad(view(dk)) + pad(view(dv))`, a copy
 * kernel over [B, N, 3C] after the attention backward. The attention kernels take any row layout for
 * their results, so each writes its part straight into the concatenation instead, and the copy
 * kernel and the separate dq / [dk | dv] buffers go away.
 *
 * Applies to a stored pointwise value that is a sum of zero pads whose boxes are disjoint and tile
 * it, each padding a view (permute, reshape, or the dk / dv half of [dk | dv]) of an
 * attention_grad_q / attention_grad_kv result that nothing else reads. Where each result element
 * lands is found by inverting the views exactly: the pad's operand is a strided region of the
 * value, and each view below it re-strides that region.
 */
import type { HeadLayout } from "../codegen/attention-common.ts";
import type { Node, ValueId } from "../ir/types.ts";
import type { GroupedKernel } from "./group.ts";
import { contiguousStrides, reshapeStrided } from "./views.ts";

/** Where an attention kernel writes its results: into `value`, each tensor at its layout. */
export interface Placement {
  readonly value: ValueId;
  readonly layouts: Readonly<Partial<Record<"dq" | "dk" | "dv", HeadLayout>>>;
}

interface Piece {
  /** The attention result and, for [dk | dv], which half. */
  readonly source: ValueId;
  readonly tensor: "dq" | "dk" | "dv";
  /** Where the tensor's elements live in the concatenation's buffer. */
  readonly view: Strided;
}

interface Strided {
  readonly strides: readonly number[];
  readonly offset: number;
}

const numel = (s: readonly number[]) => s.reduce((a, b) => a * b, 1);

/**
 * The pieces of `root`'s pad-sum, each placed in root's buffer, with the pads' boxes; undefined
 * when the value is not such a sum. Views are inverted exactly: a pad operand is a strided region
 * of root, and each view below it re-strides that region (reshape back, permute back).
 */
function pieces(root: Node, byId: ReadonlyMap<ValueId, Node>): { pieces: Piece[]; boxes: number[][][] } | undefined {
  const out: Piece[] = [];
  const boxes: number[][][] = [];
  const rootShape = root.shape as number[];
  const rootStrides = contiguousStrides(rootShape);
  const visitSum = (n: Node): boolean => {
    if (n.op.kind === "binary" && n.op.op === "add" && n.inputs.every((i) => (byId.get(i)!.shape as number[]).join() === rootShape.join())) {
      return n.inputs.every((i) => visitSum(byId.get(i)!));
    }
    if (n.op.kind !== "pad" || n.op.value !== 0) return false;
    const before = n.op.before;
    const inner = byId.get(n.inputs[0]!)!;
    boxes.push((inner.shape as number[]).map((d, a) => [before[a]!, before[a]! + d]));
    return visitView(inner, { strides: rootStrides, offset: before.reduce((s, b, a) => s + b * rootStrides[a]!, 0) });
  };
  const visitView = (n: Node, at: Strided): boolean => {
    const op = n.op;
    if (op.kind === "attention_grad_q") {
      out.push({ source: n.id, tensor: "dq", view: at });
      return true;
    }
    const src = byId.get(n.inputs[0] ?? -1);
    if (!src) return false;
    const srcShape = src.shape as number[];
    if (op.kind === "slice" && src.op.kind === "attention_grad_kv") {
      // [dk | dv] halves: the slice must be exactly one of them.
      const q = byId.get(src.inputs[0]!)!.shape as number[];
      const d = q[q.length - 1]!;
      const last = srcShape.length - 1;
      const whole = (a: number) => op.starts[a] === 0 && op.ends[a] === srcShape[a] && op.steps[a] === 1;
      if (!srcShape.every((_, a) => a === last || whole(a)) || op.steps[last] !== 1) return false;
      const tensor = op.starts[last] === 0 && op.ends[last] === d ? "dk" : op.starts[last] === d && op.ends[last] === srcShape[last] ? "dv" : undefined;
      if (!tensor) return false;
      out.push({ source: src.id, tensor, view: at });
      return true;
    }
    if (op.kind === "permute") {
      const strides = new Array<number>(op.perm.length);
      op.perm.forEach((p, j) => (strides[p] = at.strides[j]!));
      return visitView(src, { strides, offset: at.offset });
    }
    if (op.kind === "reshape") {
      const strides = reshapeStrided(n.shape as number[], at.strides, srcShape);
      return strides !== undefined && visitView(src, { strides, offset: at.offset });
    }
    return false;
  };
  return visitSum(root) ? { pieces: out, boxes } : undefined;
}

/** A piece's place as the attention kernels' [batch, heads, rows, width] layout, if it is one. */
function layoutOf(piece: Piece, shape: readonly number[]): HeadLayout | undefined {
  const r = shape.length;
  const s = piece.view.strides;
  if (r < 2 || (shape[r - 1]! > 1 && s[r - 1] !== 1)) return undefined;
  const batchAxes = shape.slice(0, Math.max(0, r - 3)).map((d, a) => ({ d, s: s[a]! })).filter((x) => x.d !== 1);
  for (let a = 0; a + 1 < batchAxes.length; a++) if (batchAxes[a]!.s !== batchAxes[a + 1]!.s * batchAxes[a + 1]!.d) return undefined;
  return {
    batch: batchAxes.length ? batchAxes[batchAxes.length - 1]!.s : 0,
    head: r >= 3 && shape[r - 3] !== 1 ? s[r - 3]! : 0,
    row: shape[r - 2] === 1 ? 0 : s[r - 2]!,
    offset: piece.view.offset,
  };
}

/** Pads' boxes that are pairwise disjoint and fill the value (each lies inside it by the shape rule). */
function tiles(boxes: readonly number[][][], size: number): boolean {
  const overlap = (a: number[][], b: number[][]) => a.every(([lo, hi], i) => lo! < b[i]![1]! && b[i]![0]! < hi!);
  for (let i = 0; i < boxes.length; i++) for (let j = i + 1; j < boxes.length; j++) if (overlap(boxes[i]!, boxes[j]!)) return false;
  return boxes.reduce((acc, b) => acc + numel(b.map(([lo, hi]) => hi! - lo!)), 0) === size;
}

/** The [..., rows, width] shape of a piece's tensor (half of [dk | dv] for those). */
function tensorShape(p: Piece, byId: ReadonlyMap<ValueId, Node>): number[] {
  const shape = byId.get(p.source)!.shape as number[];
  if (p.tensor === "dq") return shape;
  const d = byId.get(byId.get(p.source)!.inputs[0]!)!.shape.at(-1) as number;
  return [...shape.slice(0, -1), p.tensor === "dk" ? d : shape[shape.length - 1]! - d];
}

/**
 * Finds the concatenations the attention backward kernels can write in place; returns the kernels
 * without their copy kernels, the attention kernels' placements, and the values no longer stored.
 */
export function concatInPlace(kernels: readonly GroupedKernel[], byId: ReadonlyMap<ValueId, Node>): { kernels: GroupedKernel[]; placements: Map<ValueId, Placement>; unstored: Set<ValueId> } {
  const readers = new Map<ValueId, GroupedKernel[]>();
  for (const k of kernels) for (const r of k.info.reads) readers.set(r, [...(readers.get(r) ?? []), k]);
  const placements = new Map<ValueId, Placement>();
  const unstored = new Set<ValueId>();
  const dropped = new Set<GroupedKernel>();
  for (const k of kernels) {
    if (k.group.kind !== "pointwise" || k.outputs.length !== 1 || k.group.members.length !== 1) continue;
    const root = byId.get(k.outputs[0]!)!;
    const found = pieces(root, byId);
    if (!found || found.pieces.length === 0 || !tiles(found.boxes, numel(root.shape as number[]))) continue;
    const ps = found.pieces;
    const sources = [...new Set(ps.map((p) => p.source))];
    // Each result is read only by this copy, and each source's tensors all land here.
    if (sources.some((s) => (readers.get(s) ?? []).some((r) => r !== k) || placements.has(s))) continue;
    const kv = ps.filter((p) => p.tensor !== "dq").map((p) => p.source);
    if (kv.some((s) => ps.filter((p) => p.source === s).length !== 2)) continue;
    const layouts = ps.map((p) => layoutOf(p, tensorShape(p, byId)));
    if (layouts.some((l) => !l)) continue;
    for (const s of sources) {
      const mine = ps.flatMap((p, i) => (p.source === s ? [[p.tensor, layouts[i]!] as const] : []));
      placements.set(s, { value: root.id, layouts: Object.fromEntries(mine) });
      unstored.add(s);
    }
    dropped.add(k);
  }
  const out = kernels
    .filter((k) => !dropped.has(k))
    .map((k) => {
      const p = k.group.anchor !== undefined ? placements.get(k.group.anchor) : undefined;
      return p ? { ...k, outputs: [p.value] } : k;
    });
  return { kernels: out, placements, unstored };
}
