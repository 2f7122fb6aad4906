/**
 * simplify(graph): one forward sweep that applies the local rules of rules.ts, folds small
 * constants and merges common subexpressions, followed by dead-code elimination from the outputs
 * and a compact renumbering. Whenever a node disappears into another (CSE, x*1 -> x, folded views,
 * folded constants) its spans are merged into the survivor, never dropped, so every kernel can still
 * name all the source lines it came from.
 */
import type { Span } from "../../diagnostics/span.ts";
import { canonDim, isConcrete } from "../ir/dims.ts";
import { inferShape, isShapeError } from "../ir/shape-rules.ts";
import type { Graph, Node, Op, ValueId } from "../ir/types.ts";
import { evalNode } from "../interp/index.ts";
import { applyRules, type MutableNode } from "./rules.ts";

/** Constants are folded only up to this many elements, so folding never bloats the graph. */
export const FOLD_LIMIT = 64;

const SOURCE_OPS = new Set<Op["kind"]>(["input", "param", "const", "random", "iota"]);

function spanKey(s: Span): string {
  return `${s.file}:${s.offset}:${s.endOffset}:${s.line}:${s.col}`;
}

function mergeSpans(into: MutableNode, from: readonly Span[]): void {
  const seen = new Set(into.spans.map(spanKey));
  for (const s of from) {
    if (!seen.has(spanKey(s))) {
      into.spans.push(s);
      seen.add(spanKey(s));
    }
  }
}

function cseKey(n: MutableNode): string {
  return JSON.stringify([n.op, n.inputs, n.shape.map(canonDim), n.dtype]);
}

class Sweep {
  readonly nodes: MutableNode[] = [];
  private readonly byId = new Map<ValueId, MutableNode>();
  private readonly cse = new Map<string, ValueId>();
  private nextId = 0;

  def = (id: ValueId): MutableNode => this.byId.get(id)!;

  /** Adds a node (or finds its twin), returning the surviving id. */
  intern(n: Omit<MutableNode, "id">): ValueId {
    const key = cseKey({ ...n, id: -1 });
    const twin = this.cse.get(key);
    if (twin !== undefined) {
      const t = this.def(twin);
      mergeSpans(t, n.spans);
      t.name ??= n.name;
      return twin;
    }
    const node: MutableNode = { ...n, id: this.nextId++ };
    this.nodes.push(node);
    this.byId.set(node.id, node);
    this.cse.set(key, node.id);
    return node.id;
  }

  /** Runs the rules to a fixed point, then constant folding, then interning. */
  place(candidate: MutableNode): ValueId {
    for (let guard = 0; guard < 16; guard++) {
      const r = applyRules(candidate, this.def);
      if (r.kind === "keep") break;
      if (r.kind === "alias") {
        const target = this.def(r.to);
        mergeSpans(target, candidate.spans);
        for (const a of r.absorbed ?? []) mergeSpans(target, a.spans);
        return r.to;
      }
      if (r.kind === "emit-then-alias") {
        for (const a of r.absorbed ?? []) mergeSpans(candidate, a.spans);
        const typed = this.typed(r.op, r.inputs, candidate);
        return this.place({ ...candidate, op: r.op, inputs: r.inputs, shape: typed.shape, dtype: typed.dtype });
      }
      for (const a of r.absorbed) mergeSpans(candidate, a.spans);
      const typed = this.typed(r.op, r.inputs, candidate);
      candidate = { ...candidate, op: r.op, inputs: r.inputs, shape: typed.shape, dtype: typed.dtype };
    }
    return this.intern(this.fold(candidate) ?? candidate);
  }

  private typed(op: Op, inputs: readonly ValueId[], like: MutableNode): { shape: Node["shape"]; dtype: Node["dtype"] } {
    const ins = inputs.map(this.def);
    const r = inferShape(op, ins.map((n) => n.shape), ins.map((n) => n.dtype), { shape: like.shape, dtype: like.dtype });
    if (isShapeError(r)) throw new Error(`simplify produced an ill-typed ${op.kind}: ${r.message}`);
    return r;
  }

  /** Evaluates a small op whose inputs are all constants, as the f32 runtime would. */
  private fold(n: MutableNode): MutableNode | undefined {
    if (SOURCE_OPS.has(n.op.kind) || n.inputs.length === 0) return undefined;
    const ins = n.inputs.map(this.def);
    if (!ins.every((i) => i.op.kind === "const" && isConcrete(i.shape))) return undefined;
    if (!isConcrete(n.shape) || n.shape.reduce((a, d) => a * d, 1) > FOLD_LIMIT) return undefined;
    const args = ins.map((i) => {
      const shape = i.shape as number[];
      const v = (i.op as Extract<Op, { kind: "const" }>).value;
      const size = shape.reduce((a, d) => a * d, 1);
      return { shape, data: Float64Array.from(v.length === 1 ? Array(size).fill(v[0]) : v) };
    });
    const noFeeds = { inputs: {}, params: {} };
    const t = evalNode(n as Node, args, n.shape as number[], { opts: noFeeds, precision: "f32", seed: 0 });
    const folded: MutableNode = { ...n, op: { kind: "const", value: Array.from(t.data) }, inputs: [], spans: [...n.spans] };
    for (const i of ins) mergeSpans(folded, i.spans);
    return folded;
  }
}

export function simplify(graph: Graph): Graph {
  const sweep = new Sweep();
  const remap = new Map<ValueId, ValueId>();
  for (const n of graph.nodes) {
    const candidate: MutableNode = {
      id: -1,
      op: n.op,
      inputs: n.inputs.map((i) => remap.get(i)!),
      shape: n.shape,
      dtype: n.dtype,
      spans: [...n.spans],
      ...(n.name !== undefined ? { name: n.name } : {}),
    };
    remap.set(n.id, sweep.place(candidate));
  }
  const outputs = graph.outputs.map((o) => ({ name: o.name, id: remap.get(o.id)! }));

  const live = new Set<ValueId>();
  const stack = outputs.map((o) => o.id);
  while (stack.length) {
    const id = stack.pop()!;
    if (live.has(id)) continue;
    live.add(id);
    stack.push(...sweep.def(id).inputs);
  }
  const renumber = new Map<ValueId, ValueId>();
  const nodes: Node[] = [];
  for (const n of sweep.nodes) {
    if (!live.has(n.id)) continue;
    const id = nodes.length;
    renumber.set(n.id, id);
    nodes.push({
      id,
      op: n.op,
      inputs: n.inputs.map((i) => renumber.get(i)!),
      shape: n.shape,
      dtype: n.dtype,
      spans: n.spans,
      ...(n.name !== undefined ? { name: n.name } : {}),
    });
  }
  return {
    nodes,
    params: graph.params,
    inputs: graph.inputs,
    outputs: outputs.map((o) => ({ name: o.name, id: renumber.get(o.id)! })),
  };
}

