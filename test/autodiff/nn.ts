/** Small building blocks written with the builder, as the elaborator would emit them from std/nn. */
import type { GraphBuilder } from "../../compiler/ir/builder.ts";
import type { ValueId } from "../../compiler/ir/types.ts";

export function mean(b: GraphBuilder, x: ValueId, axes: number[]): ValueId {
  const shape = b.shapeOf(x) as number[];
  const rank = shape.length;
  const count = axes.reduce((n, a) => n * shape[a < 0 ? a + rank : a]!, 1);
  return b.binary("div", b.reduce("sum", x, axes, true), b.constant(count));
}

/** Softmax as exp(x - max) / sum, over the last axis. */
export function softmax(b: GraphBuilder, x: ValueId): ValueId {
  const e = b.unary("exp", b.binary("sub", x, b.reduce("max", x, [-1], true)));
  return b.binary("div", e, b.reduce("sum", e, [-1], true));
}

export function layerNorm(b: GraphBuilder, x: ValueId, gamma: ValueId, beta: ValueId, eps = 1e-5): ValueId {
  const xc = b.binary("sub", x, mean(b, x, [-1]));
  const variance = mean(b, b.binary("mul", xc, xc), [-1]);
  const normed = b.binary("mul", xc, b.unary("rsqrt", b.binary("add", variance, b.constant(eps))));
  return b.binary("add", b.binary("mul", normed, gamma), beta);
}

/** BatchNorm in training mode over [N, C, T, H, W]: batch statistics per channel. */
export function batchNormTrain(b: GraphBuilder, x: ValueId, gamma: ValueId, beta: ValueId, eps = 1e-5): ValueId {
  const axes = [0, 2, 3, 4];
  const xc = b.binary("sub", x, mean(b, x, axes));
  const variance = mean(b, b.binary("mul", xc, xc), axes);
  const normed = b.binary("mul", xc, b.unary("rsqrt", b.binary("add", variance, b.constant(eps))));
  const C = b.shapeOf(gamma)[0]!;
  const perChannel = (v: ValueId) => b.reshape(v, [C, 1, 1, 1]);
  return b.binary("add", b.binary("mul", normed, perChannel(gamma)), perChannel(beta));
}

export function quickGelu(b: GraphBuilder, x: ValueId): ValueId {
  return b.binary("mul", x, b.unary("sigmoid", b.binary("mul", x, b.constant(1.702))));
}

export function gelu(b: GraphBuilder, x: ValueId): ValueId {
  const inner = b.binary("add", b.constant(1), b.unary("erf", b.binary("mul", x, b.constant(Math.SQRT1_2))));
  return b.binary("mul", b.binary("mul", x, b.constant(0.5)), inner);
}

function transposeLast(b: GraphBuilder, x: ValueId): ValueId {
  const r = b.shapeOf(x).length;
  const perm = [...Array(r).keys()];
  [perm[r - 2], perm[r - 1]] = [perm[r - 1]!, perm[r - 2]!];
  return b.permute(x, perm);
}

/** Scaled dot-product attention over [..., L, dh] operands. */
export function attention(b: GraphBuilder, q: ValueId, k: ValueId, v: ValueId): ValueId {
  const dh = b.shapeOf(q).at(-1) as number;
  const scores = b.binary("mul", b.matmul(q, transposeLast(b, k)), b.constant(1 / Math.sqrt(dh)));
  return b.matmul(softmax(b, scores), v);
}

/** Multi-head self-attention on x [B, L, D] with a fused qkv projection. */
export function multiHeadAttention(b: GraphBuilder, x: ValueId, wqkv: ValueId, wo: ValueId, heads: number): ValueId {
  const [B, L, D] = b.shapeOf(x) as number[];
  const dh = D! / heads;
  const qkv = b.permute(b.reshape(b.matmul(x, wqkv), [B!, L!, 3, heads, dh]), [2, 0, 3, 1, 4]);
  const part = (i: number) => b.reshape(b.slice(qkv, [i, 0, 0, 0, 0], [i + 1, B!, heads, L!, dh]), [B!, heads, L!, dh]);
  const o = attention(b, part(0), part(1), part(2));
  return b.matmul(b.reshape(b.permute(o, [0, 2, 1, 3]), [B!, L!, D!]), wo);
}
