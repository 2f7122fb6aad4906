/**
 * Freeze analysis: the trainable set of a stage (after `@frozen` and the stage's freeze lists, which
 * elaboration has already applied to the parameter flags) and warnings about it.
 */
import { type Diagnostic, makeDiagnostic } from "../../diagnostics/index.ts";
import { isDifferentiableEdge } from "../autodiff/index.ts";
import type { StageSpec } from "../elaborate/index.ts";
import type { Graph, ValueId } from "../ir/types.ts";

export interface FreezeReport {
  readonly trainable: readonly string[];
  readonly frozen: readonly string[];
  /** Trainable parameters whose gradient is identically zero: no differentiable path to the loss. */
  readonly unreachable: readonly string[];
  readonly trainableCount: number;
  readonly frozenCount: number;
  readonly diagnostics: readonly Diagnostic[];
}

function size(shape: readonly (number | string)[]): number {
  return shape.reduce<number>((a, d) => a * (typeof d === "number" ? d : 1), 1);
}

/** Nodes from which the loss is reachable through differentiable edges. */
function reachesLoss(graph: Graph, loss: ValueId): Set<ValueId> {
  const byId = new Map(graph.nodes.map((n) => [n.id, n]));
  const seen = new Set<ValueId>();
  const stack = [loss];
  while (stack.length) {
    const id = stack.pop()!;
    if (seen.has(id)) continue;
    seen.add(id);
    const n = byId.get(id)!;
    n.inputs.forEach((i, slot) => {
      if (isDifferentiableEdge(n, slot, byId.get(i)!.dtype)) stack.push(i);
    });
  }
  return seen;
}

export function analyzeFreeze(graph: Graph, stage: StageSpec): FreezeReport {
  const diagnostics: Diagnostic[] = [];
  const learnable = graph.params.filter((p) => p.kind === "param");
  const trainable = learnable.filter((p) => !p.frozen);
  const frozen = learnable.filter((p) => p.frozen);
  if (trainable.length === 0) {
    diagnostics.push(makeDiagnostic("IV4002", stage.freeze[0]?.span, { stage: stage.name }));
  }
  const loss = graph.outputs.find((o) => o.name === "loss");
  const unreachable: string[] = [];
  if (loss) {
    const reach = reachesLoss(graph, loss.id);
    const nodeOf = new Map<string, ValueId>();
    for (const n of graph.nodes) if (n.op.kind === "param") nodeOf.set(n.op.path, n.id);
    for (const p of trainable) {
      const id = nodeOf.get(p.path);
      if (id === undefined || !reach.has(id)) {
        unreachable.push(p.path);
        diagnostics.push(makeDiagnostic("IV4003", p.span, { path: p.path }));
      }
    }
  }
  return {
    trainable: trainable.map((p) => p.path),
    frozen: frozen.map((p) => p.path),
    unreachable,
    trainableCount: trainable.reduce((a, p) => a + size(p.shape), 0),
    frozenCount: frozen.reduce((a, p) => a + size(p.shape), 0),
    diagnostics,
  };
}
