/**
 * Reverse-mode autodiff over the graph IR. The backward pass is appended to the forward graph and
 * each trainable parameter's gradient becomes an output `grad:<path>`.
 *
 * Only nodes on a path from a trainable parameter to the loss are differentiated: a node is
 * "active" when it is both downstream of a trainable parameter and upstream of the loss through
 * differentiable edges. Frozen subgraphs therefore get no backward nodes at all (not zeros), and a
 * fully frozen model gets an empty backward. Trainable parameters that cannot reach the loss get no
 * gradient output and are listed in `unreachable`, so the caller can warn about them.
 */
import { GraphBuilder } from "../ir/builder.ts";
import type { Graph, Node, ParamInfo, ValueId } from "../ir/types.ts";
import { isDifferentiableEdge, VJP } from "./vjp-rules.ts";

export { VJP, isDifferentiableEdge, sumToShape, type VjpContext, type VjpRule } from "./vjp-rules.ts";

export interface DifferentiateOptions {
  /** Name of the graph output to minimise. Non-scalar losses are seeded with ones (sum of elements). */
  readonly loss: string;
  /** Which parameters get gradients, e.g. `(p) => p.kind === "param" && !p.frozen`. */
  readonly wrt: (param: ParamInfo) => boolean;
}

export interface DifferentiateResult {
  readonly graph: Graph;
  /** Trainable parameter paths whose gradient would be identically zero (no path to the loss). */
  readonly unreachable: string[];
  /** Gradient value per trainable parameter path (also exposed as outputs `grad:<path>`). */
  readonly grads: ReadonlyMap<string, ValueId>;
}

/** The set of nodes that lie on a differentiable path from a trainable parameter to the loss. */
function activeNodes(graph: Graph, trainable: ReadonlySet<ValueId>, loss: ValueId): Set<ValueId> {
  const byId = new Map(graph.nodes.map((n) => [n.id, n]));
  const edge = (n: Node, slot: number) => isDifferentiableEdge(n, slot, byId.get(n.inputs[slot]!)!.dtype);
  const downstream = new Set<ValueId>();
  for (const n of graph.nodes) {
    if (trainable.has(n.id) || n.inputs.some((i, slot) => downstream.has(i) && edge(n, slot))) downstream.add(n.id);
  }
  const active = new Set<ValueId>();
  const stack = downstream.has(loss) ? [loss] : [];
  while (stack.length) {
    const id = stack.pop()!;
    if (active.has(id) || !downstream.has(id)) continue;
    active.add(id);
    const n = byId.get(id)!;
    n.inputs.forEach((i, slot) => {
      if (edge(n, slot)) stack.push(i);
    });
  }
  return active;
}

/**
 * The reverse sweep: walks `nodes` (topologically ordered) backwards, turning each active node's
 * cotangent into its inputs' cotangents (summed when an input is used several times).
 */
function pullBack(b: GraphBuilder, nodes: readonly Node[], cotangent: Map<ValueId, ValueId>, active: ReadonlySet<ValueId>): void {
  for (let k = nodes.length - 1; k >= 0; k--) {
    const node = nodes[k]!;
    const g = cotangent.get(node.id);
    if (g === undefined || !active.has(node.id)) continue;
    const rule = VJP[node.op.kind];
    if (!rule) continue;
    const needs = node.inputs.map((i, slot) => active.has(i) && isDifferentiableEdge(node, slot, b.dtypeOf(i)));
    if (!needs.some(Boolean)) continue;
    b.provenance = { spans: node.spans, name: node.name !== undefined ? `grad.${node.name}` : undefined };
    const through = (expand: () => ValueId) => pullBackThrough(b, node, g, needs, expand);
    const grads = rule({ b, node, x: node.inputs, y: node.id, g, needs, through });
    node.inputs.forEach((input, slot) => {
      const gi = grads[slot];
      if (gi === undefined || !needs[slot]) return;
      const prev = cotangent.get(input);
      cotangent.set(input, prev === undefined ? gi : b.binary("add", prev, gi));
    });
  }
}

/** A node's input cotangents through an expansion of it: the sweep run over the expansion's nodes. */
function pullBackThrough(b: GraphBuilder, node: Node, g: ValueId, needs: readonly boolean[], expand: () => ValueId): (ValueId | undefined)[] {
  const mark = b.mark();
  const y = expand();
  const fresh = b.nodesSince(mark);
  const active = new Set(node.inputs.filter((_, slot) => needs[slot]));
  for (const n of fresh) if (n.inputs.some((i, slot) => active.has(i) && isDifferentiableEdge(n, slot, b.dtypeOf(i)))) active.add(n.id);
  const cotangent = new Map([[y, g]]);
  const provenance = b.provenance;
  pullBack(b, fresh, cotangent, active);
  b.provenance = provenance;
  // An input used in several slots has one summed cotangent: give it to the first slot only.
  return node.inputs.map((x, slot) => (node.inputs.findIndex((y, s) => y === x && needs[s]) === slot ? cotangent.get(x) : undefined));
}

export function differentiate(graph: Graph, opts: DifferentiateOptions): DifferentiateResult {
  const lossOut = graph.outputs.find((o) => o.name === opts.loss);
  if (!lossOut) throw new Error(`the graph has no output '${opts.loss}' to differentiate`);
  const paramNode = new Map<string, ValueId>();
  for (const n of graph.nodes) if (n.op.kind === "param" && !paramNode.has(n.op.path)) paramNode.set(n.op.path, n.id);
  const trainablePaths = graph.params.filter((p) => opts.wrt(p)).map((p) => p.path);
  const trainable = new Set(trainablePaths.flatMap((p) => (paramNode.has(p) ? [paramNode.get(p)!] : [])));
  const active = activeNodes(graph, trainable, lossOut.id);

  const b = GraphBuilder.from(graph);
  const cotangent = new Map<ValueId, ValueId>();
  const lossNode = b.node(lossOut.id);
  if (active.has(lossOut.id)) {
    b.provenance = { spans: lossNode.spans, name: "grad.seed" };
    cotangent.set(lossOut.id, b.constant(1, lossNode.shape));
  }
  pullBack(b, graph.nodes, cotangent, active);
  b.provenance = {};
  const grads = new Map<string, ValueId>();
  const unreachable: string[] = [];
  for (const path of trainablePaths) {
    const id = paramNode.get(path);
    const g = id === undefined ? undefined : cotangent.get(id);
    if (g === undefined) unreachable.push(path);
    else {
      grads.set(path, g);
      b.output(`grad:${path}`, g);
    }
  }
  return { graph: b.build(), unreachable, grads };
}
