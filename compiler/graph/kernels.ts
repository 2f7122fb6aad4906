/**
 * The kernel picture: the same module boxes, but the leaves are the fused kernels the back end
 * dispatches. Each kernel is the fusion plan's stored result plus every op inlined into it (the walk
 * `ivc compile --explain` does), placed in the box of the module its result was built in; edges are
 * the tensors kept in memory between kernels. A kernel whose fused ops were written in other modules
 * too says so, since that is where fusion crosses the source's module boundaries.
 */
import type { ModuleSummary } from "../elaborate/index.ts";
import type { Graph, Node, ValueId } from "../ir/types.ts";
import { bindDims, symbolsOf } from "../schedule/bind.ts";
import { isAttentionOp } from "../codegen/fused/attention-group.ts";
import { type FusionOptions, planFusion } from "../schedule/plan.ts";
import { fusionOptionsFor } from "../schedule/program.ts";
import { LAVAPIPE_PROFILE } from "../codegen/kernel.ts";
import { type Box, FlowSet, inputId, ioBoxes, isLeafValue, type ModelPicture, ModuleTree, outputId, type PictureOptions, shapeLabel } from "./model-graph.ts";

const VIEWS = new Set(["reshape", "permute", "slice", "broadcast", "const", "iota"]);

function opName(n: Node): string {
  return n.op.kind === "binary" || n.op.kind === "unary" || n.op.kind === "reduce" || n.op.kind === "compare" ? n.op.op : n.op.kind;
}

export interface KernelGroup {
  readonly index: number;
  readonly kind: string;
  /** The values the kernel stores. */
  readonly writes: readonly ValueId[];
  /** Every node computed inside it, inlined views included. */
  readonly nodes: readonly ValueId[];
  /** Stored values it reads (kernel results, inputs; parameters and constant tables left out). */
  readonly reads: readonly ValueId[];
  readonly params: readonly string[];
}

/**
 * The fusion plan of `graph` as kernel groups, in dispatch order. Symbolic dims are bound to `batch`
 * first, as `ivc compile` does, because fusion decisions (strided matmul operands) need sizes; the
 * bound graph keeps node ids, so the groups index the unbound graph too. Drawn without opening a
 * device, so with the profile `ivc compile` falls back to (lavapipe's binding limit) unless told.
 */
export function kernelGroups(graph: Graph, batch = 1, fusion: FusionOptions = fusionOptionsFor(LAVAPIPE_PROFILE)): KernelGroup[] {
  const dims: Record<string, number> = {};
  for (const s of symbolsOf(graph)) dims[s] = batch;
  const plan = planFusion(bindDims(graph, dims), fusion);
  // Walked in the planned graph, which may add views (heads-last attention); only the ids the
  // unbound graph has are reported.
  const byId = new Map(plan.graph.nodes.map((n) => [n.id, n]));
  const original = new Set(graph.nodes.map((n) => n.id));
  return plan.kernels.map((k, index) => {
    const writes = [...k.outputs];
    const nodes = new Set<ValueId>();
    const reads = new Set<ValueId>();
    const params = new Set<string>();
    const visit = (id: ValueId, root: boolean) => {
      const n = byId.get(id)!;
      if (n.op.kind === "param") return void params.add(n.op.path);
      if (n.op.kind === "const" && n.op.value.length > 1) return;
      if (!root && (plan.materialized.has(id) || n.op.kind === "input")) return void reads.add(id);
      if (nodes.has(id)) return;
      // Another kernel's anchor writing into the same value (a concatenation written in place).
      if (isAttentionOp(n.op.kind) && "node" in k && id !== k.node) return;
      nodes.add(id);
      for (const x of n.inputs) visit(x, false);
    };
    for (const w of writes) visit(w, true);
    const known = (ids: Iterable<ValueId>) => [...ids].filter((id) => original.has(id));
    return { index, kind: k.kind, writes: known(writes), nodes: known(nodes).sort((a, b) => a - b), reads: known(reads), params: [...params] };
  });
}

/** Module boxes as containers, fused kernels as the leaves inside them. */
export function kernelPicture(graph: Graph, modules: readonly ModuleSummary[], opts: PictureOptions & { batch?: number }): ModelPicture {
  const tree = new ModuleTree(modules, opts.depth, graph.params);
  const byId = new Map(graph.nodes.map((n) => [n.id, n]));
  const frozenParam = new Map(graph.params.map((p) => [p.path, p.frozen]));
  const groups = kernelGroups(graph, opts.batch);
  const producer = new Map<ValueId, string>();
  const boxes: Box[] = [...ioBoxes(graph), ...tree.moduleBoxes(opts.title)];
  for (const g of groups) {
    const id = `kernel:${g.index}`;
    for (const w of g.writes) producer.set(w, id);
    const home = tree.boxOf(byId.get(g.writes[0]!)!.name);
    const computed = g.nodes.map((x) => byId.get(x)!).filter((n) => !VIEWS.has(n.op.kind));
    const counts = new Map<string, number>();
    for (const n of computed) counts.set(opName(n), (counts.get(opName(n)) ?? 0) + 1);
    const ops = [...counts].sort((a, b) => b[1] - a[1]);
    const summary = ops.slice(0, 4).map(([k, v]) => (v > 1 ? `${k}×${v}` : k)).join(" ") + (ops.length > 4 ? " …" : "");
    const others = [...new Set(g.nodes.map((x) => tree.boxOf(byId.get(x)!.name)))].filter((b) => b !== home);
    // A kernel is frozen when everything it learns from is frozen: it reads parameters, all frozen.
    const frozen = g.params.length > 0 && g.params.every((p) => frozenParam.get(p) === true);
    boxes.push({
      id,
      kind: "kernel",
      parent: home,
      title: `k${String(g.index).padStart(3, "0")} ${g.kind}`,
      subtitle: `${computed.length} ops: ${summary}`,
      frozen,
      tooltip:
        `kernel ${g.index} (${g.kind}), ${computed.length} fused ops: ${ops.map(([k, v]) => `${k} ×${v}`).join(", ")}` +
        (others.length > 0 ? `; also fuses ops of ${others.map((o) => o || "(model)").join(", ")}` : ""),
    });
  }
  const flows = new FlowSet();
  for (const g of groups) {
    for (const r of g.reads) {
      const src = byId.get(r)!;
      const from = src.op.kind === "input" ? inputId(src.op.name) : producer.get(r);
      if (from) flows.add(from, `kernel:${g.index}`, r, shapeLabel(src.shape, src.dtype));
    }
  }
  for (const o of graph.outputs) {
    const src = byId.get(o.id)!;
    const from = producer.get(o.id);
    if (from && !isLeafValue(src)) flows.add(from, outputId(o.name), o.id, shapeLabel(src.shape, src.dtype));
  }
  // Module boxes that hold no kernel and contain nothing that does are left out: their ops were
  // all inlined into kernels homed elsewhere (a pure view module, say).
  const used = new Set<string>();
  for (const b of boxes) {
    if (b.kind !== "kernel") continue;
    for (let p: string | undefined = b.parent; p !== undefined; p = tree.parentOf(p)) used.add(p);
  }
  return { title: opts.title, boxes: boxes.filter((b) => b.kind === "kernel" || b.kind === "input" || b.kind === "output" || used.has(b.id)), flows: flows.flows() };
}
