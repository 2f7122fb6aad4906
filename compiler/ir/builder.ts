/**
 * GraphBuilder: the only way nodes enter a graph. Every method runs the op's shape rule first, so a
 * built graph is well-typed by construction; a failing rule throws ShapeRuleError, which the
 * elaborator catches and turns into a located diagnostic.
 */
import type { Span } from "../../diagnostics/span.ts";
import { canonDim, formatShape, shapeEq, type Dim, type Shape } from "./dims.ts";
import { inferShape, isShapeError } from "./shape-rules.ts";
import type {
  AttentionAttrs,
  AttentionOp,
  BinaryOp,
  CompareOp,
  DType,
  Graph,
  InputInfo,
  Node,
  Op,
  ParamInfo,
  ReduceOp,
  UnaryOp,
  ValueId,
} from "./types.ts";

export class ShapeRuleError extends Error {
  constructor(
    message: string,
    readonly op: Op["kind"],
    readonly spans: readonly Span[],
  ) {
    super(message);
    this.name = "ShapeRuleError";
  }
}

/** Where a node came from; omitted fields fall back to the builder's current provenance. */
export interface NodeOrigin {
  readonly spans?: readonly Span[];
  readonly name?: string;
}

export interface Conv3dOptions {
  readonly stride?: readonly [number, number, number];
  readonly padding?: readonly [number, number, number];
  readonly dilation?: readonly [number, number, number];
  readonly groups?: number;
}

export class GraphBuilder {
  private readonly nodes: Node[] = [];
  private readonly byId = new Map<ValueId, Node>();
  private readonly params = new Map<string, { info: ParamInfo; id: ValueId }>();
  private readonly inputs = new Map<string, { info: InputInfo; id: ValueId }>();
  private readonly outputs: { name: string; id: ValueId }[] = [];
  private nextId = 0;
  /** Applied to nodes created without an explicit origin (autodiff tags backward nodes this way). */
  provenance: NodeOrigin = {};

  /** Continues an existing graph: its nodes, params, inputs and outputs are kept as they are. */
  static from(graph: Graph): GraphBuilder {
    const b = new GraphBuilder();
    for (const n of graph.nodes) {
      b.nodes.push(n);
      b.byId.set(n.id, n);
      b.nextId = Math.max(b.nextId, n.id + 1);
      if (n.op.kind === "param") {
        const info = graph.params.find((p) => p.path === (n.op as { path: string }).path);
        if (info && !b.params.has(info.path)) b.params.set(info.path, { info, id: n.id });
      } else if (n.op.kind === "input") {
        const info = graph.inputs.find((i) => i.name === (n.op as { name: string }).name);
        if (info && !b.inputs.has(info.name)) b.inputs.set(info.name, { info, id: n.id });
      }
    }
    for (const p of graph.params) if (!b.params.has(p.path)) b.params.set(p.path, { info: p, id: -1 });
    for (const i of graph.inputs) if (!b.inputs.has(i.name)) b.inputs.set(i.name, { info: i, id: -1 });
    b.outputs.push(...graph.outputs.map((o) => ({ ...o })));
    return b;
  }

  node(id: ValueId): Node {
    const n = this.byId.get(id);
    if (!n) throw new Error(`no node %${id} in this builder`);
    return n;
  }

  shapeOf(id: ValueId): Shape {
    return this.node(id).shape;
  }

  dtypeOf(id: ValueId): DType {
    return this.node(id).dtype;
  }

  /** Appends a node after running its shape rule; `declared` is the shape of source ops. */
  add(op: Op, inputs: readonly ValueId[], origin?: NodeOrigin, declared?: { shape: Shape; dtype: DType }): ValueId {
    const ins = inputs.map((i) => this.node(i));
    const spans = origin?.spans ?? this.provenance.spans ?? [];
    const name = origin?.name ?? this.provenance.name;
    const r = inferShape(
      op,
      ins.map((n) => n.shape),
      ins.map((n) => n.dtype),
      declared,
    );
    if (isShapeError(r)) throw new ShapeRuleError(r.message, op.kind, spans);
    const id = this.nextId++;
    const node: Node = { id, op, inputs: [...inputs], shape: r.shape, dtype: r.dtype, spans: [...spans], ...(name !== undefined ? { name } : {}) };
    this.nodes.push(node);
    this.byId.set(id, node);
    return id;
  }

  input(name: string, shape: Shape, dtype: DType = "f32", origin?: NodeOrigin): ValueId {
    const existing = this.inputs.get(name);
    if (existing && existing.id >= 0) return existing.id;
    const info: InputInfo = { name, shape: shape.map(canonDim), dtype };
    const id = this.add({ kind: "input", name }, [], origin ?? { name }, { shape, dtype });
    this.inputs.set(name, { info, id });
    return id;
  }

  /** Parameters deduplicate by path: asking twice for `blocks.0.w` gives the same value. */
  param(info: ParamInfo, origin?: NodeOrigin): ValueId {
    const existing = this.params.get(info.path);
    if (existing && existing.id >= 0) {
      const known = existing.info;
      if (!shapeEq(known.shape, info.shape) || known.dtype !== info.dtype)
        throw new ShapeRuleError(
          `parameter '${info.path}' is declared as ${known.dtype}${formatShape(known.shape)} and again as ${info.dtype}${formatShape(info.shape)}`,
          "param",
          origin?.spans ?? (info.span ? [info.span] : []),
        );
      return existing.id;
    }
    const spans = origin?.spans ?? (info.span ? [info.span] : undefined);
    const id = this.add({ kind: "param", path: info.path }, [], { spans, name: origin?.name ?? info.path }, info);
    this.params.set(info.path, { info, id });
    return id;
  }

  constant(value: number | readonly number[], shape: Shape = [], dtype: DType = "f32", origin?: NodeOrigin): ValueId {
    const values = typeof value === "number" ? [value] : [...value];
    return this.add({ kind: "const", value: values }, [], origin, { shape, dtype });
  }

  unary(op: UnaryOp, x: ValueId, origin?: NodeOrigin): ValueId {
    return this.add({ kind: "unary", op }, [x], origin);
  }

  binary(op: BinaryOp, a: ValueId, b: ValueId, origin?: NodeOrigin): ValueId {
    return this.add({ kind: "binary", op }, [a, b], origin);
  }

  compare(op: CompareOp, a: ValueId, b: ValueId, origin?: NodeOrigin): ValueId {
    return this.add({ kind: "compare", op }, [a, b], origin);
  }

  where(cond: ValueId, a: ValueId, b: ValueId, origin?: NodeOrigin): ValueId {
    return this.add({ kind: "where" }, [cond, a, b], origin);
  }

  cast(x: ValueId, to: DType, origin?: NodeOrigin): ValueId {
    return this.add({ kind: "cast", to }, [x], origin);
  }

  /** Negative axes count from the end; axes are stored sorted and non-negative. */
  reduce(op: ReduceOp, x: ValueId, axes: readonly number[], keepdims = false, origin?: NodeOrigin): ValueId {
    const rank = this.shapeOf(x).length;
    const norm = [...new Set(axes.map((a) => (a < 0 ? a + rank : a)))].sort((p, q) => p - q);
    return this.add({ kind: "reduce", op, axes: norm, keepdims }, [x], origin);
  }

  matmul(a: ValueId, b: ValueId, origin?: NodeOrigin): ValueId {
    return this.add({ kind: "matmul" }, [a, b], origin);
  }

  conv3d(x: ValueId, w: ValueId, opts: Conv3dOptions = {}, origin?: NodeOrigin): ValueId {
    const op: Op = {
      kind: "conv3d",
      stride: opts.stride ?? [1, 1, 1],
      padding: opts.padding ?? [0, 0, 0],
      dilation: opts.dilation ?? [1, 1, 1],
      groups: opts.groups ?? 1,
    };
    return this.add(op, [x, w], origin);
  }

  reshape(x: ValueId, shape: Shape, origin?: NodeOrigin): ValueId {
    return this.add({ kind: "reshape", shape: shape.map(canonDim) }, [x], origin);
  }

  permute(x: ValueId, perm: readonly number[], origin?: NodeOrigin): ValueId {
    return this.add({ kind: "permute", perm: [...perm] }, [x], origin);
  }

  /** The permute that swaps the last two axes. */
  transposeLast(x: ValueId, origin?: NodeOrigin): ValueId {
    const r = this.shapeOf(x).length;
    const perm = [...Array(r).keys()];
    [perm[r - 2], perm[r - 1]] = [perm[r - 1]!, perm[r - 2]!];
    return this.permute(x, perm, origin);
  }

  /** Steps default to 1. */
  slice(x: ValueId, starts: readonly number[], ends: readonly Dim[], steps?: readonly number[], origin?: NodeOrigin): ValueId {
    return this.add(
      { kind: "slice", starts: [...starts], ends: ends.map(canonDim), steps: steps ? [...steps] : starts.map(() => 1) },
      [x],
      origin,
    );
  }

  concat(xs: readonly ValueId[], axis: number, origin?: NodeOrigin): ValueId {
    return this.add({ kind: "concat", axis }, xs, origin);
  }

  pad(x: ValueId, before: readonly number[], after: readonly number[], value = 0, origin?: NodeOrigin): ValueId {
    return this.add({ kind: "pad", before: [...before], after: [...after], value }, [x], origin);
  }

  broadcast(x: ValueId, shape: Shape, origin?: NodeOrigin): ValueId {
    return this.add({ kind: "broadcast", shape: shape.map(canonDim) }, [x], origin);
  }

  gather(table: ValueId, index: ValueId, axis: number, origin?: NodeOrigin): ValueId {
    return this.add({ kind: "gather", axis }, [table, index], origin);
  }

  scatterAdd(src: ValueId, index: ValueId, axis: number, shape: Shape, origin?: NodeOrigin): ValueId {
    return this.add({ kind: "scatter_add", axis, shape: shape.map(canonDim) }, [src, index], origin);
  }

  /** q [..., M, D], k [..., N, D], v [..., N, Dv] -> [..., M, Dv] (heads_last: [..., M, H, Dv]); scale defaults to D^-0.5. */
  attention(q: ValueId, k: ValueId, v: ValueId, attrs: Partial<AttentionAttrs> & { heads_last?: boolean } = {}, origin?: NodeOrigin): ValueId {
    const d = this.shapeOf(q).at(-1);
    const scale = attrs.scale ?? (typeof d === "number" ? d ** -0.5 : NaN);
    return this.add({ kind: "attention", scale, causal: attrs.causal ?? false, ...(attrs.heads_last ? { heads_last: true } : {}) }, [q, k, v], origin);
  }

  /** The companions of `attention` its gradient is built from (see types.ts). */
  attentionBackward(kind: Exclude<AttentionOp, "attention">, inputs: readonly ValueId[], attrs: AttentionAttrs, origin?: NodeOrigin): ValueId {
    return this.add({ kind, scale: attrs.scale, causal: attrs.causal }, inputs, origin);
  }

  /** Nodes are numbered in creation order: `mark()` now, `nodesSince(mark)` later lists what was added. */
  mark(): ValueId {
    return this.nextId;
  }

  nodesSince(mark: ValueId): Node[] {
    let i = this.nodes.length;
    while (i > 0 && this.nodes[i - 1]!.id >= mark) i--;
    return this.nodes.slice(i);
  }

  random(
    dist: "uniform" | "normal" | "bernoulli",
    shape: Shape,
    opts: { p?: number; stream: number },
    origin?: NodeOrigin,
  ): ValueId {
    return this.add({ kind: "random", dist, p: opts.p ?? 0, stream: opts.stream }, [], origin, { shape, dtype: "f32" });
  }

  iota(shape: Shape, axis: number, dtype: DType = "i32", origin?: NodeOrigin): ValueId {
    return this.add({ kind: "iota", axis }, [], origin, { shape, dtype });
  }

  /** Names a result; naming the same output twice replaces the earlier binding. */
  output(name: string, id: ValueId): void {
    this.node(id);
    const i = this.outputs.findIndex((o) => o.name === name);
    if (i >= 0) this.outputs[i] = { name, id };
    else this.outputs.push({ name, id });
  }

  build(): Graph {
    return {
      nodes: [...this.nodes],
      params: [...this.params.values()].map((p) => p.info),
      inputs: [...this.inputs.values()].map((i) => i.info),
      outputs: this.outputs.map((o) => ({ ...o })),
    };
  }
}
