/**
 * Well-formedness of a graph, checked at pass boundaries (in tests, and by any pass that wants to
 * fail early): ids unique, nodes in topological order, every node's shape and dtype what its shape
 * rule says, params and inputs declared, outputs pointing at nodes. Returns the problems found,
 * empty when the graph is well formed.
 */
import { formatShape, shapeEq } from "./dims.ts";
import { inferShape, isShapeError } from "./shape-rules.ts";
import type { Graph, Node, ValueId } from "./types.ts";

export function verifyGraph(g: Graph): string[] {
  const problems: string[] = [];
  const seen = new Map<ValueId, Node>();
  const paramPaths = new Set(g.params.map((p) => p.path));
  const inputNames = new Set(g.inputs.map((i) => i.name));
  for (const n of g.nodes) {
    const where = `%${n.id} (${n.op.kind})`;
    if (seen.has(n.id)) problems.push(`${where}: id defined twice`);
    const ins = n.inputs.map((i) => seen.get(i));
    const missing = n.inputs.filter((_, k) => !ins[k]);
    if (missing.length) {
      problems.push(`${where}: uses ${missing.map((i) => `%${i}`).join(", ")} before definition`);
      seen.set(n.id, n);
      continue;
    }
    const declared = n.inputs.length === 0 ? { shape: n.shape, dtype: n.dtype } : undefined;
    const r = inferShape(n.op, ins.map((x) => x!.shape), ins.map((x) => x!.dtype), declared);
    if (isShapeError(r)) problems.push(`${where}: ${r.message}`);
    else if (!shapeEq(r.shape, n.shape) || r.dtype !== n.dtype)
      problems.push(`${where}: recorded ${n.dtype}${formatShape(n.shape)} but the shape rule gives ${r.dtype}${formatShape(r.shape)}`);
    if (n.op.kind === "param" && !paramPaths.has(n.op.path)) problems.push(`${where}: parameter '${n.op.path}' is not declared`);
    if (n.op.kind === "input" && !inputNames.has(n.op.name)) problems.push(`${where}: input '${n.op.name}' is not declared`);
    seen.set(n.id, n);
  }
  const outputNames = new Set<string>();
  for (const o of g.outputs) {
    if (!seen.has(o.id)) problems.push(`output '${o.name}' refers to missing %${o.id}`);
    if (outputNames.has(o.name)) problems.push(`output '${o.name}' is bound twice`);
    outputNames.add(o.name);
  }
  return problems;
}
