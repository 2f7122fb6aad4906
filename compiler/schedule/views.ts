/**
 * Resolving chains of views (reshape, permute, slice, broadcast) down to a stored value as one
 * strided index map, so kernels that need plain strided operands (matmul) read through them.
 */
import type { Node, ValueId } from "../ir/types.ts";

export interface StridedView {
  readonly base: ValueId;
  readonly sizes: readonly number[];
  readonly strides: readonly number[];
  readonly offset: number;
}

export function contiguousStrides(sizes: readonly number[]): number[] {
  const s = new Array<number>(sizes.length);
  let acc = 1;
  for (let i = sizes.length - 1; i >= 0; i--) {
    s[i] = acc;
    acc *= sizes[i]!;
  }
  return s;
}

/**
 * Reshape of a strided map: possible when every group of source axes merged into (or split from)
 * target axes steps like one axis. Returns undefined otherwise.
 */
export function reshapeStrided(sizes: readonly number[], strides: readonly number[], target: readonly number[]): number[] | undefined {
  // Drop size-1 source axes: their stride is irrelevant.
  const src = sizes.map((s, i) => ({ s, st: strides[i]! })).filter((a) => a.s !== 1);
  const out: number[] = new Array(target.length).fill(0);
  let i = 0;
  let j = 0;
  while (j < target.length) {
    if (target[j] === 1) {
      out[j] = 0;
      j++;
      continue;
    }
    if (i >= src.length) return undefined;
    // Grow a group of source axes and one of target axes until their sizes agree.
    let srcProd = src[i]!.s;
    let tgtProd = target[j]!;
    const srcStart = i;
    const tgtStart = j;
    while (srcProd !== tgtProd) {
      if (srcProd < tgtProd) {
        i++;
        if (i >= src.length) return undefined;
        srcProd *= src[i]!.s;
      } else {
        j++;
        while (j < target.length && target[j] === 1) j++;
        if (j >= target.length) return undefined;
        tgtProd *= target[j]!;
      }
    }
    // The source group must be contiguous among itself.
    for (let k = srcStart; k < i; k++) if (src[k]!.st !== src[k + 1]!.st * src[k + 1]!.s) return undefined;
    // Assign target strides inside the group from the innermost source stride.
    let stride = src[i]!.st;
    for (let k = j; k >= tgtStart; k--) {
      if (target[k] === 1) {
        out[k] = 0;
        continue;
      }
      out[k] = stride;
      stride *= target[k]!;
    }
    i++;
    j++;
  }
  if (i < src.length) return undefined;
  return out;
}

export function stridedView(id: ValueId, byId: ReadonlyMap<ValueId, Node>, stored: ReadonlySet<ValueId>): StridedView | undefined {
  const n = byId.get(id)!;
  if (stored.has(id)) {
    const sizes = n.shape as number[];
    return { base: id, sizes, strides: contiguousStrides(sizes), offset: 0 };
  }
  const op = n.op;
  if (op.kind !== "reshape" && op.kind !== "permute" && op.kind !== "slice" && op.kind !== "broadcast") return undefined;
  const src = stridedView(n.inputs[0]!, byId, stored);
  if (!src) return undefined;
  const shape = n.shape as number[];
  switch (op.kind) {
    case "permute":
      return { ...src, sizes: shape, strides: op.perm.map((p) => src.strides[p]!) };
    case "slice":
      return {
        ...src,
        sizes: shape,
        strides: src.strides.map((s, i) => s * op.steps[i]!),
        offset: src.offset + op.starts.reduce((a, s, i) => a + s * src.strides[i]!, 0),
      };
    case "broadcast": {
      const lead = shape.length - src.sizes.length;
      const strides = shape.map((d, i) => {
        if (i < lead) return 0;
        const k = i - lead;
        return src.sizes[k] === 1 && d !== 1 ? 0 : src.strides[k]!;
      });
      return { ...src, sizes: shape, strides };
    }
    case "reshape": {
      const strides = reshapeStrided(src.sizes, src.strides, shape);
      return strides ? { ...src, sizes: shape, strides } : undefined;
    }
  }
}
