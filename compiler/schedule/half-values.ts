/**
 * Which stored values an f16-storage program (`precision: "f16"`) keeps as f16: the forward
 * pass's intermediates, the activations a training step saves for its backward pass among them,
 * which are most of its memory. Everything the host sees or the optimizer updates (parameters,
 * inputs, constants, outputs) stays f32, and so do gradients: the backward pass's small values
 * would lose their low bits or flush to zero in f16 without loss scaling.
 */
import type { Graph, ValueId } from "../ir/types.ts";

/** A gradient output's name (autodiff's `grad:<path>`); every other output is the forward pass's. */
const isGradientOutput = (name: string) => name.startsWith("grad:");

export function halfStoredValues(graph: Graph, stored: ReadonlySet<ValueId>, pinned: ReadonlySet<ValueId>): Set<ValueId> {
  const byId = new Map(graph.nodes.map((n) => [n.id, n]));
  // The forward pass: whatever a forward output depends on. Backward nodes read forward values
  // but no forward output reads a backward node.
  const forward = new Set<ValueId>();
  const stack = graph.outputs.filter((o) => !isGradientOutput(o.name)).map((o) => o.id);
  while (stack.length) {
    const id = stack.pop()!;
    if (forward.has(id)) continue;
    forward.add(id);
    stack.push(...byId.get(id)!.inputs);
  }
  const half = new Set<ValueId>();
  for (const id of stored) if (forward.has(id) && !pinned.has(id) && byId.get(id)!.dtype === "f32") half.add(id);
  return half;
}
