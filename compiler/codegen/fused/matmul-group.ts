/**
 * Lowers an IR matmul onto the tuned matmul generator: operands are strided views of stored values
 * (transposes, permuted heads and broadcast weights cost no copy), batch axes are flattened into one
 * batch stride when the layout allows.
 */
import type { Node, ValueId } from "../../ir/types.ts";
import { type StridedView, stridedView } from "../../schedule/views.ts";
import type { AdapterProfile, Kernel } from "../kernel.ts";
import { type OperandMap, matmul } from "../matmul.ts";

/** One batch stride for the flattened batch axes, or undefined when they do not step uniformly. */
function batchStride(view: StridedView, batchShape: readonly number[]): number | undefined {
  const rank = view.sizes.length;
  const lead = batchShape.length - (rank - 2);
  // Strides of the view's batch axes aligned to the output's batch axes (missing leading axes broadcast).
  const strides = batchShape.map((d, i) => (i < lead ? 0 : view.sizes[i - lead] === 1 && d !== 1 ? 0 : view.strides[i - lead]!));
  const active = batchShape.map((d, i) => ({ d, s: strides[i]! })).filter((a) => a.d !== 1);
  if (active.length === 0) return 0;
  if (active.every((a) => a.s === 0)) return 0;
  // Row-major flattening: axis i must step by stride[i+1] * size[i+1].
  for (let i = 0; i + 1 < active.length; i++) if (active[i]!.s !== active[i + 1]!.s * active[i + 1]!.d) return undefined;
  return active[active.length - 1]!.s;
}

export interface MatmulOperands {
  readonly a: { readonly base: ValueId; readonly map: OperandMap };
  readonly b: { readonly base: ValueId; readonly map: OperandMap };
  readonly batch: number;
  readonly M: number;
  readonly N: number;
  readonly K: number;
}

function operand(view: StridedView, batchShape: readonly number[]): OperandMap | undefined {
  const bs = batchStride(view, batchShape);
  if (bs === undefined) return undefined;
  const r = view.sizes.length;
  return {
    batchStride: bs,
    outer: { sizes: [view.sizes[r - 2]!], strides: [view.sizes[r - 2] === 1 ? 0 : view.strides[r - 2]!], offset: view.offset },
    inner: { sizes: [view.sizes[r - 1]!], strides: [view.strides[r - 1]!] },
  };
}

export function matmulOperandFits(view: StridedView, batchShape: readonly number[]): boolean {
  return operand(view, batchShape) !== undefined;
}

/** The operand maps of a matmul node, or undefined when an operand needs a contiguous copy first. */
export function matmulOperands(n: Node, byId: ReadonlyMap<ValueId, Node>, stored: ReadonlySet<ValueId>): MatmulOperands | undefined {
  const out = n.shape as number[];
  const batchShape = out.slice(0, -2);
  const va = stridedView(n.inputs[0]!, byId, stored);
  const vb = stridedView(n.inputs[1]!, byId, stored);
  if (!va || !vb) return undefined;
  const a = operand(va, batchShape);
  const b = operand(vb, batchShape);
  if (!a || !b) return undefined;
  return {
    a: { base: va.base, map: a },
    b: { base: vb.base, map: b },
    batch: batchShape.reduce((x, y) => x * y, 1),
    M: out[out.length - 2]!,
    N: out[out.length - 1]!,
    K: va.sizes[va.sizes.length - 1]!,
  };
}

export function matmulKernel(
  n: Node,
  ops: MatmulOperands,
  profile: AdapterProfile,
  name: string,
  source: string[],
): { kernel: Kernel; buffers: Record<string, ValueId> } {
  const { batch, M, N, K } = ops;
  const c: OperandMap = { batchStride: M * N, outer: { sizes: [M], strides: [N] }, inner: { sizes: [N], strides: [1] } };
  const kernel = matmul({ batch, M, N, K, a: ops.a.map, b: ops.b.map, c, name, source }, profile);
  return { kernel, buffers: { A: ops.a.base, B: ops.b.base, C: n.id } };
}
