/**
 * Vector-Jacobian products, one rule per op kind, each emitting backward IR through the builder.
 * A rule receives the cotangent `g` of the node's output and returns one cotangent per input, only
 * for the inputs flagged in `needs` (others come back undefined and cost nothing). Rules may read
 * forward values (`x`, `y`) freely; whether they are stored or recomputed is the fusion pass's call.
 *
 * Non-differentiable ops (compare, floor, sign, iota, random, const, integer results, the index of
 * gather/scatter_add, the condition of where) are described by `isDifferentiableEdge`, which the
 * autodiff pass also uses to decide which nodes lie on a gradient path at all.
 */
import type { GraphBuilder } from "../ir/builder.ts";
import { dimEq, dimMul, shapeEq, type Dim, type Shape } from "../ir/dims.ts";
import { dimAdd } from "../ir/shape-rules.ts";
import type { AttentionOp, Node, Op, OpKind, UnaryOp, ValueId } from "../ir/types.ts";
import { attentionVjp, expandAttentionCompanion } from "./attention-vjp.ts";
import { conv3dInputGrad, conv3dWeightGrad } from "./conv-vjp.ts";

export interface VjpContext {
  readonly b: GraphBuilder;
  /** The forward node being differentiated. */
  readonly node: Node;
  /** Its forward inputs. */
  readonly x: readonly ValueId[];
  /** Its forward output. */
  readonly y: ValueId;
  /** The cotangent of its output, same shape as `y`. */
  readonly g: ValueId;
  /** Which inputs want a cotangent. */
  readonly needs: readonly boolean[];
  /**
   * The cotangents of `x` through an expansion of this node into other ops, which `expand` builds
   * from `x`: for ops whose gradient is rarely needed and not worth a hand-written rule.
   */
  readonly through: (expand: () => ValueId) => readonly (ValueId | undefined)[];
}

export type VjpRule = (ctx: VjpContext) => readonly (ValueId | undefined)[];

const NON_DIFFERENTIABLE_UNARY: ReadonlySet<UnaryOp> = new Set(["floor", "sign"]);

/** True when a gradient flows from `node`'s output into its input number `slot`. */
export function isDifferentiableEdge(node: Node, slot: number, inputDtype: string): boolean {
  if (node.dtype !== "f32" || inputDtype !== "f32") return false;
  switch (node.op.kind) {
    case "input":
    case "param":
    case "const":
    case "random":
    case "iota":
    case "compare":
      return false;
    case "unary":
      return !NON_DIFFERENTIABLE_UNARY.has(node.op.op);
    case "where":
      return slot > 0;
    case "gather":
    case "scatter_add":
      return slot === 0;
    default:
      return true;
  }
}

/** Sums a broadcast cotangent back down to `target` (leading axes and stretched 1s). */
export function sumToShape(b: GraphBuilder, g: ValueId, target: Shape): ValueId {
  const shape = b.shapeOf(g);
  if (shapeEq(shape, target)) return g;
  const lead = shape.length - target.length;
  const axes: number[] = [];
  for (let i = 0; i < shape.length; i++) {
    if (i < lead || (target[i - lead] === 1 && shape[i] !== 1)) axes.push(i);
  }
  const reduced = axes.length ? b.reduce("sum", g, axes, true) : g;
  return shapeEq(b.shapeOf(reduced), target) ? reduced : b.reshape(reduced, target);
}

const c = (b: GraphBuilder, v: number): ValueId => b.constant(v);

/** Cotangent for each input of a broadcasting op, from a per-input full-shape cotangent builder. */
function perInput(ctx: VjpContext, grads: readonly ((() => ValueId) | undefined)[]): (ValueId | undefined)[] {
  return ctx.x.map((xi, i) => {
    const f = grads[i];
    return ctx.needs[i] && f ? sumToShape(ctx.b, f(), ctx.b.shapeOf(xi)) : undefined;
  });
}

const UNARY_VJP: Record<UnaryOp, ((b: GraphBuilder, x: ValueId, y: ValueId, g: ValueId) => ValueId) | undefined> = {
  neg: (b, _x, _y, g) => b.unary("neg", g),
  abs: (b, x, _y, g) => b.binary("mul", g, b.unary("sign", x)),
  exp: (b, _x, y, g) => b.binary("mul", g, y),
  log: (b, x, _y, g) => b.binary("div", g, x),
  sqrt: (b, _x, y, g) => b.binary("div", b.binary("mul", g, c(b, 0.5)), y),
  rsqrt: (b, _x, y, g) => b.binary("mul", g, b.binary("mul", c(b, -0.5), b.binary("mul", y, b.binary("mul", y, y)))),
  recip: (b, _x, y, g) => b.unary("neg", b.binary("mul", g, b.binary("mul", y, y))),
  tanh: (b, _x, y, g) => b.binary("mul", g, b.binary("sub", c(b, 1), b.binary("mul", y, y))),
  sigmoid: (b, _x, y, g) => b.binary("mul", g, b.binary("mul", y, b.binary("sub", c(b, 1), y))),
  erf: (b, x, _y, g) =>
    b.binary("mul", g, b.binary("mul", c(b, 2 / Math.sqrt(Math.PI)), b.unary("exp", b.unary("neg", b.binary("mul", x, x))))),
  sin: (b, x, _y, g) => b.binary("mul", g, b.unary("cos", x)),
  cos: (b, x, _y, g) => b.unary("neg", b.binary("mul", g, b.unary("sin", x))),
  relu: (b, x, _y, g) => b.where(b.compare("gt", x, c(b, 0)), g, c(b, 0)),
  floor: undefined,
  sign: undefined,
};

function binaryVjp(ctx: VjpContext, op: Extract<Op, { kind: "binary" }>["op"]): (ValueId | undefined)[] {
  const { b, g, y } = ctx;
  const [a, d] = ctx.x as [ValueId, ValueId];
  switch (op) {
    case "add":
      return perInput(ctx, [() => g, () => g]);
    case "sub":
      return perInput(ctx, [() => g, () => b.unary("neg", g)]);
    case "mul":
      return perInput(ctx, [() => b.binary("mul", g, d), () => b.binary("mul", g, a)]);
    case "div":
      return perInput(ctx, [() => b.binary("div", g, d), () => b.unary("neg", b.binary("div", b.binary("mul", g, y), d))]);
    case "max":
    case "min": {
      // Ties send the whole cotangent to the first operand, like the forward's tie-break.
      let mask: ValueId | undefined;
      const m = () => (mask ??= b.compare(op === "max" ? "ge" : "le", a, d));
      return perInput(ctx, [() => b.where(m(), g, c(b, 0)), () => b.where(m(), c(b, 0), g)]);
    }
    case "pow":
      // d/da a^e = e a^(e-1); d/de a^e = a^e ln a (defined for a > 0).
      return perInput(ctx, [
        () => b.binary("mul", g, b.binary("mul", d, b.binary("pow", a, b.binary("sub", d, c(b, 1))))),
        () => b.binary("mul", g, b.binary("mul", y, b.unary("log", a))),
      ]);
  }
}

/** Shape of a reduction's result with its reduced axes kept as 1. */
function keptShape(x: Shape, axes: readonly number[]): Dim[] {
  return x.map((d, i) => (axes.includes(i) ? 1 : d));
}

/** Spreads g over a strided window back to the full axis: the adjoint of slice. */
function unslice(b: GraphBuilder, g: ValueId, op: Extract<Op, { kind: "slice" }>, xShape: Shape): ValueId {
  const gShape = b.shapeOf(g);
  let v = g;
  if (op.steps.some((s) => s > 1)) {
    const split = gShape.flatMap((d, i) => (op.steps[i]! > 1 ? [d, 1] : [d]));
    const after = gShape.flatMap((_, i) => (op.steps[i]! > 1 ? [0, op.steps[i]! - 1] : [0]));
    v = b.pad(b.reshape(v, split), after.map(() => 0), after, 0);
    v = b.reshape(v, gShape.map((d, i) => (op.steps[i]! > 1 ? (d as number) * op.steps[i]! : d)));
  }
  const vShape = b.shapeOf(v);
  const before: number[] = [];
  const after: number[] = [];
  const keep: Dim[] = [];
  for (let i = 0; i < xShape.length; i++) {
    const X = xShape[i]!;
    const L = vShape[i]!;
    if (op.starts[i] === 0 && dimEq(L, X)) {
      before.push(0);
      after.push(0);
      keep.push(L);
      continue;
    }
    if (typeof X !== "number" || typeof L !== "number")
      throw new Error(`cannot differentiate a partial slice of symbolic axis ${i} (${String(X)})`);
    const start = op.starts[i]!;
    const len = Math.min(L, X - start);
    keep.push(len);
    before.push(start);
    after.push(X - start - len);
  }
  if (keep.some((d, i) => !dimEq(d, vShape[i]!))) v = b.slice(v, keep.map(() => 0), keep);
  return before.some((x) => x > 0) || after.some((x) => x > 0) ? b.pad(v, before, after, 0) : v;
}

function need(ctx: VjpContext, f: () => ValueId): (ValueId | undefined)[] {
  return [ctx.needs[0] ? f() : undefined];
}

/** Product of a list of dims (symbolic ones included). */
function dimProduct(dims: readonly Dim[]): Dim {
  return dims.reduce<Dim>((acc, d) => dimMul(acc, d), 1);
}

/**
 * d/dW of a @ W where W [K, N] is shared by every batch of a [..., M, K]: one matmul with the batch
 * folded into the contraction, (a as [bM, K])^T @ (g as [bM, N]), instead of a per-batch product
 * summed afterwards (which would store batch x K x N values).
 */
function matmulGradB(b: GraphBuilder, g: ValueId, a: ValueId, w: ValueId): ValueId {
  const as = b.shapeOf(a);
  const ws = b.shapeOf(w);
  if (ws.length === 2 && as.length > 2) {
    const rows = dimProduct(as.slice(0, -1));
    const flatA = b.reshape(a, [rows, as[as.length - 1]!]);
    const gs = b.shapeOf(g);
    const flatG = b.reshape(g, [rows, gs[gs.length - 1]!]);
    return b.matmul(b.transposeLast(flatA), flatG);
  }
  return sumToShape(b, b.matmul(b.transposeLast(a), g), ws);
}

/** d/da of a @ W where a [M, K] is shared by every batch of W [..., K, N]: the batch folds into N. */
function matmulGradA(b: GraphBuilder, g: ValueId, a: ValueId, w: ValueId): ValueId {
  const as = b.shapeOf(a);
  const ws = b.shapeOf(w);
  if (as.length === 2 && ws.length > 2) {
    const gs = b.shapeOf(g);
    const batch = gs.slice(0, -2);
    const rank = gs.length;
    // g [..., M, N] -> [M, ..., N] -> [M, bN]; W [..., K, N] -> [..., N, K] -> [bN, K]
    const gPerm = b.permute(g, [rank - 2, ...batch.map((_, i) => i), rank - 1]);
    const flatG = b.reshape(gPerm, [gs[rank - 2]!, dimMul(dimProduct(batch), gs[rank - 1]!)]);
    const wt = b.transposeLast(b.broadcast(w, [...batch, ...ws.slice(-2)]));
    const flatW = b.reshape(wt, [dimMul(dimProduct(batch), ws[ws.length - 1]!), ws[ws.length - 2]!]);
    return b.matmul(flatG, flatW);
  }
  return sumToShape(b, b.matmul(g, b.transposeLast(w)), as);
}

export const VJP: Record<OpKind, VjpRule | undefined> = {
  input: undefined,
  param: undefined,
  const: undefined,
  random: undefined,
  iota: undefined,
  compare: undefined,
  unary: (ctx) => {
    const op = (ctx.node.op as Extract<Op, { kind: "unary" }>).op;
    const rule = UNARY_VJP[op];
    return rule ? need(ctx, () => rule(ctx.b, ctx.x[0]!, ctx.y, ctx.g)) : [undefined];
  },
  binary: (ctx) => binaryVjp(ctx, (ctx.node.op as Extract<Op, { kind: "binary" }>).op),
  where: (ctx) => {
    const { b, g } = ctx;
    const cond = ctx.x[0]!;
    return perInput(ctx, [undefined, () => b.where(cond, g, c(b, 0)), () => b.where(cond, c(b, 0), g)]);
  },
  cast: (ctx) => need(ctx, () => ctx.g),
  reduce: (ctx) => {
    const { b, g, y, node } = ctx;
    const op = node.op as Extract<Op, { kind: "reduce" }>;
    const x = ctx.x[0]!;
    const xShape = b.shapeOf(x);
    const kept = keptShape(xShape, op.axes);
    return need(ctx, () => {
      const gk = op.keepdims ? g : b.reshape(g, kept);
      if (op.op === "sum") return b.broadcast(gk, xShape);
      // max: split the cotangent evenly among the positions equal to the maximum.
      const yk = op.keepdims ? y : b.reshape(y, kept);
      const mask = b.cast(b.compare("eq", x, yk), "f32");
      const count = b.reduce("sum", mask, op.axes, true);
      return b.binary("mul", mask, b.binary("div", gk, count));
    });
  },
  matmul: (ctx) => {
    const { b, g } = ctx;
    const [a, w] = ctx.x as [ValueId, ValueId];
    return [
      ctx.needs[0] ? matmulGradA(b, g, a, w) : undefined,
      ctx.needs[1] ? matmulGradB(b, g, a, w) : undefined,
    ];
  },
  conv3d: (ctx) => {
    const { b, g } = ctx;
    const op = ctx.node.op as Extract<Op, { kind: "conv3d" }>;
    const [x, w] = ctx.x as [ValueId, ValueId];
    return [
      ctx.needs[0] ? conv3dInputGrad(b, g, w, b.shapeOf(x), op) : undefined,
      ctx.needs[1] ? conv3dWeightGrad(b, x, g, b.shapeOf(w), op) : undefined,
    ];
  },
  reshape: (ctx) => need(ctx, () => ctx.b.reshape(ctx.g, ctx.b.shapeOf(ctx.x[0]!))),
  permute: (ctx) => {
    const perm = (ctx.node.op as Extract<Op, { kind: "permute" }>).perm;
    const inverse = perm.map((_, i) => perm.indexOf(i));
    return need(ctx, () => ctx.b.permute(ctx.g, inverse));
  },
  slice: (ctx) => need(ctx, () => unslice(ctx.b, ctx.g, ctx.node.op as Extract<Op, { kind: "slice" }>, ctx.b.shapeOf(ctx.x[0]!))),
  pad: (ctx) => {
    const { b, g } = ctx;
    const op = ctx.node.op as Extract<Op, { kind: "pad" }>;
    const xShape = b.shapeOf(ctx.x[0]!);
    return need(ctx, () => b.slice(g, op.before, xShape.map((d, i) => dimAdd(d, op.before[i]!)!)));
  },
  concat: (ctx) => {
    const { b, g } = ctx;
    const axis = (ctx.node.op as Extract<Op, { kind: "concat" }>).axis;
    const gShape = b.shapeOf(g);
    // Offsets are sums of the earlier sizes; undefined once they stop being expressible.
    let offset: Dim | undefined = 0;
    return ctx.x.map((xi, k) => {
      const size = b.shapeOf(xi)[axis]!;
      const start = offset;
      offset = offset === undefined ? undefined : dimAdd(offset, size);
      if (!ctx.needs[k]) return undefined;
      if (typeof start !== "number") throw new Error(`cannot differentiate concat input ${k}: its offset along axis ${axis} is not a number`);
      const starts = gShape.map((_, i) => (i === axis ? start : 0));
      const ends = gShape.map((d, i) => (i === axis ? dimAdd(start, size)! : d));
      return b.slice(g, starts, ends);
    });
  },
  broadcast: (ctx) => need(ctx, () => sumToShape(ctx.b, ctx.g, ctx.b.shapeOf(ctx.x[0]!))),
  gather: (ctx) => {
    const { b, g } = ctx;
    const axis = (ctx.node.op as Extract<Op, { kind: "gather" }>).axis;
    return [ctx.needs[0] ? b.scatterAdd(g, ctx.x[1]!, axis, b.shapeOf(ctx.x[0]!)) : undefined, undefined];
  },
  scatter_add: (ctx) => {
    const axis = (ctx.node.op as Extract<Op, { kind: "scatter_add" }>).axis;
    return [ctx.needs[0] ? ctx.b.gather(ctx.g, ctx.x[1]!, axis) : undefined, undefined];
  },
  attention: attentionVjp,
  attention_stats: companionVjp,
  attention_grad_q: companionVjp,
  attention_grad_kv: companionVjp,
};

function companionVjp(ctx: VjpContext): readonly (ValueId | undefined)[] {
  return ctx.through(() => expandAttentionCompanion(ctx.b, ctx.node.op as Extract<Op, { kind: AttentionOp }>, ctx.x));
}
