/**
 * conv3d gradients written with existing primitives (no transposed-conv primitive is needed, so the
 * GPU side lowers nothing new):
 *
 * Input gradient (a transposed convolution): for one spatial axis with input size X, kernel k,
 * stride s, padding p, dilation d and output size Y,
 *   dx[i] = sum_j gd[i + p - (k-1-j')d] w[j']  ...  = correlation of gd with the flipped kernel,
 * where gd is g with s-1 zeros inserted between elements (reshape + pad), padded by (k-1)d - p before
 * and X - (Y-1)s - 1 + p after (negative amounts become slices). The kernel is flipped with a gather
 * over a reversed index and regrouped from [O, C/G, k] to [C, O/G, k]; the conv then runs with
 * stride 1, the original dilation and the same groups.
 *
 * Weight gradient: dw[o, c', t] = sum_n sum_y x[n, group(o)*Cg + c', y*s + t*d - p] g[n, o, y], i.e. a
 * convolution where batch and channels swap roles: x becomes [Cg, G*N, ...] (group-major channels),
 * g becomes weights [O, N, Y...], with groups G, stride d, dilation s and padding p. Its output
 * covers at least k taps per axis; the first k are the gradient.
 */
import type { GraphBuilder } from "../ir/builder.ts";
import { dimMul, type Dim } from "../ir/dims.ts";
import type { Op, ValueId } from "../ir/types.ts";

type Conv = Extract<Op, { kind: "conv3d" }>;

function concrete(d: Dim, what: string): number {
  if (typeof d !== "number") throw new Error(`conv3d gradient needs a concrete ${what}, got ${d}`);
  return d;
}

/** Pads (positive) or trims (negative) `before`/`after` elements on the given axes. */
function padOrTrim(b: GraphBuilder, v: ValueId, before: readonly number[], after: readonly number[]): ValueId {
  const shape = b.shapeOf(v);
  const trimStart = before.map((x) => Math.max(0, -x));
  const trimEnd = after.map((x) => Math.max(0, -x));
  if (trimStart.some((x) => x > 0) || trimEnd.some((x) => x > 0)) {
    const ends = shape.map((d, i) => (trimEnd[i]! > 0 ? concrete(d, "size") - trimEnd[i]! : d));
    v = b.slice(v, trimStart, ends);
  }
  const padBefore = before.map((x) => Math.max(0, x));
  const padAfter = after.map((x) => Math.max(0, x));
  if (padBefore.some((x) => x > 0) || padAfter.some((x) => x > 0)) v = b.pad(v, padBefore, padAfter, 0);
  return v;
}

/** Inserts `s - 1` zeros after every element along the spatial axes (2, 3, 4) of a 5-D tensor. */
function dilateSpatial(b: GraphBuilder, g: ValueId, strides: readonly number[]): ValueId {
  if (strides.every((s) => s === 1)) return g;
  const [n, c, ...sp] = b.shapeOf(g);
  const split = [n!, c!, ...sp.flatMap((d) => [d, 1])];
  const r = b.reshape(g, split);
  const after = [0, 0, ...strides.flatMap((s) => [0, s - 1])];
  const padded = b.pad(r, after.map(() => 0), after, 0);
  return b.reshape(padded, [n!, c!, ...sp.map((d, i) => dimMul(d, strides[i]!))]);
}

/** Reverses axis `axis` of `v` with a gather over a constant reversed index. */
function flipAxis(b: GraphBuilder, v: ValueId, axis: number): ValueId {
  const size = concrete(b.shapeOf(v)[axis]!, "kernel size");
  if (size === 1) return v;
  const index = b.constant(Array.from({ length: size }, (_, i) => size - 1 - i), [size], "i32");
  return b.gather(v, index, axis);
}

export function conv3dInputGrad(b: GraphBuilder, g: ValueId, w: ValueId, xShape: readonly Dim[], op: Conv): ValueId {
  const wShape = b.shapeOf(w);
  const gShape = b.shapeOf(g);
  const G = op.groups;
  const convPad: number[] = [];
  const before: number[] = [0, 0];
  const after: number[] = [0, 0];
  for (let i = 0; i < 3; i++) {
    const k = concrete(wShape[2 + i]!, "kernel size");
    const { stride: s, padding: p, dilation: d } = { stride: op.stride[i]!, padding: op.padding[i]!, dilation: op.dilation[i]! };
    const X = xShape[2 + i]!;
    let lo: number;
    let hi: number;
    if (typeof X === "number") {
      const Y = concrete(gShape[2 + i]!, "output size");
      lo = (k - 1) * d - p;
      hi = X - (Y - 1) * s - 1 + p - (s - 1);
    } else {
      // The shape rule only keeps a symbolic axis when stride is 1 and 2p = d(k-1): both sides pad by p.
      lo = hi = p;
    }
    const symmetric = Math.max(0, Math.min(lo, hi));
    convPad.push(symmetric);
    before.push(lo - symmetric);
    after.push(hi - symmetric);
  }
  const gd = padOrTrim(b, dilateSpatial(b, g, op.stride), before, after);
  let wf = w;
  for (let axis = 2; axis < 5; axis++) wf = flipAxis(b, wf, axis);
  const [O, Cg, ...k] = wShape;
  if (G > 1) {
    const Og = concrete(O!, "out channels") / G;
    wf = b.reshape(wf, [G, Og, Cg!, ...k]);
    wf = b.permute(wf, [0, 2, 1, 3, 4, 5]);
    wf = b.reshape(wf, [dimMul(G, Cg!), Og, ...k]);
  } else {
    wf = b.permute(wf, [1, 0, 2, 3, 4]);
  }
  const dilation = op.dilation as [number, number, number];
  return b.conv3d(gd, wf, { stride: [1, 1, 1], padding: convPad as [number, number, number], dilation, groups: G });
}

export function conv3dWeightGrad(b: GraphBuilder, x: ValueId, g: ValueId, wShape: readonly Dim[], op: Conv): ValueId {
  const G = op.groups;
  const [N, C, T, H, W] = b.shapeOf(x);
  let xs: ValueId;
  if (G > 1) {
    const Cg = concrete(C!, "channel count") / G;
    xs = b.reshape(x, [N!, G, Cg, T!, H!, W!]);
    xs = b.permute(xs, [2, 1, 0, 3, 4, 5]);
    xs = b.reshape(xs, [Cg, dimMul(G, N!), T!, H!, W!]);
  } else {
    xs = b.permute(x, [1, 0, 2, 3, 4]);
  }
  const gw = b.permute(g, [1, 0, 2, 3, 4]);
  const r = b.conv3d(xs, gw, {
    stride: op.dilation as [number, number, number],
    padding: op.padding as [number, number, number],
    dilation: op.stride as [number, number, number],
    groups: G,
  });
  const rShape = b.shapeOf(r);
  const k = wShape.slice(2).map((d) => concrete(d, "kernel size"));
  const trimmed = rShape.slice(2).every((d, i) => d === k[i]) ? r : b.slice(r, [0, 0, 0, 0, 0], [rShape[0]!, rShape[1]!, ...k]);
  return b.permute(trimmed, [1, 0, 2, 3, 4]);
}
