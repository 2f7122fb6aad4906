/**
 * Gradients of the attention family. `attention` differentiates into its companion ops, which
 * recompute the probabilities from two numbers per query instead of storing the [..., M, N] matrix:
 *   stats = attention_stats(q, k, o, dO)              logsumexp of the scores, rowsum(dO * o)
 *   dq = attention_grad_q(q, k, v, dO, stats)
 *   [dk | dv] = attention_grad_kv(q, k, v, dO, stats)  sliced apart on the last axis
 * The companions (differentiated only when a gradient is differentiated again) go through their
 * expansion into primitives, written from the same definitions as the interpreter
 * (compiler/interp/attention.ts): the expansion stores the probabilities, which is fine for a path no
 * model trains on.
 */
import type { GraphBuilder } from "../ir/builder.ts";
import type { AttentionAttrs, AttentionOp, Dim, Op, ValueId } from "../ir/types.ts";
import { headsLastPerm } from "../ir/shape-rules.ts";
import type { VjpContext } from "./vjp-rules.ts";

type AttentionNodeOp = Extract<Op, { kind: AttentionOp }>;

/** Columns [start, end) of the last axis. */
function lastAxisSlice(b: GraphBuilder, x: ValueId, start: number, end: Dim): ValueId {
  const shape = b.shapeOf(x);
  return b.slice(
    x,
    shape.map((_, i) => (i === shape.length - 1 ? start : 0)),
    shape.map((d, i) => (i === shape.length - 1 ? end : d)),
  );
}

function width(b: GraphBuilder, x: ValueId): number {
  const d = b.shapeOf(x).at(-1)!;
  if (typeof d !== "number") throw new Error(`cannot differentiate attention over the symbolic width ${d}`);
  return d;
}

export function attentionVjp(ctx: VjpContext): (ValueId | undefined)[] {
  const { b, needs } = ctx;
  const attrs = ctx.node.op as AttentionNodeOp;
  const [q, k, v] = ctx.x as [ValueId, ValueId, ValueId];
  // A heads-last result and its cotangent are read through the permutation back to [..., H, M, Dv].
  const back = (x: ValueId) => (attrs.kind === "attention" && attrs.heads_last ? b.permute(x, headsLastPerm(b.shapeOf(x).length)) : x);
  const [y, g] = [back(ctx.y), back(ctx.g)];
  const stats = b.attentionBackward("attention_stats", [q, k, y, g], attrs);
  const dq = needs[0] ? b.attentionBackward("attention_grad_q", [q, k, v, g, stats], attrs) : undefined;
  if (!needs[1] && !needs[2]) return [dq, undefined, undefined];
  const dkv = b.attentionBackward("attention_grad_kv", [q, k, v, g, stats], attrs);
  const d = width(b, q);
  return [dq, needs[1] ? lastAxisSlice(b, dkv, 0, d) : undefined, needs[2] ? lastAxisSlice(b, dkv, d, d + width(b, v)) : undefined];
}

/** Scaled scores q k^T, masked entries (causal: key after query) at -1e30 so exp() gives exactly 0. */
function scores(b: GraphBuilder, attrs: AttentionAttrs, q: ValueId, k: ValueId): ValueId {
  const s = b.binary("mul", b.matmul(q, b.transposeLast(k)), b.constant(attrs.scale));
  if (!attrs.causal) return s;
  const [M, N] = b.shapeOf(s).slice(-2) as [Dim, Dim];
  const allowed = b.compare("le", b.iota([M, N], 1), b.iota([M, N], 0));
  return b.where(allowed, s, b.constant(-1e30));
}

function keepLast(b: GraphBuilder, op: "sum" | "max", x: ValueId): ValueId {
  return b.reduce(op, x, [b.shapeOf(x).length - 1], true);
}

/** Probabilities and the score gradient ds = p * (dO v^T - D), from the stats. */
function probabilities(b: GraphBuilder, attrs: AttentionAttrs, [q, k, v, dO, stats]: readonly ValueId[]): { p: ValueId; ds: ValueId } {
  const lse = lastAxisSlice(b, stats!, 0, 1);
  const D = lastAxisSlice(b, stats!, 1, 2);
  const p = b.unary("exp", b.binary("sub", scores(b, attrs, q!, k!), lse));
  const ds = b.binary("mul", p, b.binary("sub", b.matmul(dO!, b.transposeLast(v!)), D));
  return { p, ds };
}

/** The companion op as primitives, computed from its inputs `x`. */
export function expandAttentionCompanion(b: GraphBuilder, attrs: AttentionNodeOp, x: readonly ValueId[]): ValueId {
  const scale = b.constant(attrs.scale);
  const [q, k] = x as [ValueId, ValueId];
  const last = b.shapeOf(q).length - 1;
  switch (attrs.kind) {
    case "attention_stats": {
      const s = scores(b, attrs, q, k);
      const m = keepLast(b, "max", s);
      const lse = b.binary("add", b.unary("log", keepLast(b, "sum", b.unary("exp", b.binary("sub", s, m)))), m);
      return b.concat([lse, keepLast(b, "sum", b.binary("mul", x[3]!, x[2]!))], last);
    }
    case "attention_grad_q":
      return b.binary("mul", b.matmul(probabilities(b, attrs, x).ds, k), scale);
    case "attention_grad_kv": {
      const { p, ds } = probabilities(b, attrs, x);
      const dk = b.binary("mul", b.matmul(b.transposeLast(ds), q), scale);
      return b.concat([dk, b.matmul(b.transposeLast(p), x[3]!)], last);
    }
    case "attention":
      throw new Error("internal: attention differentiates into its companions, not an expansion");
  }
}
