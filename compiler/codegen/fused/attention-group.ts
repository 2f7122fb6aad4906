/**
 * Lowers the attention family onto the flash-attention kernels (compiler/codegen/attention.ts). The
 * operands are read in place through strided views, so the per-head split of a fused qkv projection
 * costs no copy; the leading axes fold into the kernels' (batch, heads) pair. Bindings are named by
 * role (q, k, v, o, dout, stats; results o, stats, dq, dkv), so identical layers compile once.
 */
import { ATTENTION_OPERANDS } from "../../ir/shape-rules.ts";
import { ATTENTION_OPS, type AttentionOp, type Node, type Op, type ValueId } from "../../ir/types.ts";
import type { Placement } from "../../schedule/concat-in-place.ts";
import { contiguousStrides, stridedView, type StridedView } from "../../schedule/views.ts";
import { attentionForward, attentionGradKV, attentionGradQ, attentionStats } from "../attention.ts";
import type { AttentionShape, AttentionTensor, HeadLayout } from "../attention-common.ts";
import type { AdapterProfile, Kernel } from "../kernel.ts";

type AttentionNodeOp = Extract<Op, { kind: AttentionOp }>;

export function isAttentionOp(kind: string): kind is AttentionOp {
  return (ATTENTION_OPS as readonly string[]).includes(kind);
}

const TENSOR_OF = { q: "q", k: "k", v: "v", o: "o", dO: "dout" } as const satisfies Record<string, AttentionTensor>;

const GENERATORS: Record<AttentionOp, (p: AttentionShape, profile: AdapterProfile) => Kernel> = {
  attention: attentionForward,
  attention_stats: attentionStats,
  attention_grad_q: attentionGradQ,
  attention_grad_kv: attentionGradKV,
};

/** The result's binding name per op. */
const RESULT: Record<AttentionOp, string> = { attention: "o", attention_stats: "stats", attention_grad_q: "dq", attention_grad_kv: "dkv" };

/** One stride that steps the flattened axes row-major, or undefined when they do not. */
function flatStride(sizes: readonly number[], strides: readonly number[]): number | undefined {
  const active = sizes.map((d, i) => ({ d, s: strides[i]! })).filter((a) => a.d !== 1);
  for (let i = 0; i + 1 < active.length; i++) if (active[i]!.s !== active[i + 1]!.s * active[i + 1]!.d) return undefined;
  return active.length ? active[active.length - 1]!.s : 0;
}

/**
 * A [...lead, rows, width] view as the kernels' [batch, heads, rows, width]: heads is the last leading
 * axis, batch the others flattened. Undefined when the rows are not contiguous or the batch axes do
 * not flatten.
 */
function headLayout(view: StridedView): HeadLayout | undefined {
  const r = view.sizes.length;
  const [rows, width] = [view.sizes[r - 2]!, view.sizes[r - 1]!];
  if (width > 1 && view.strides[r - 1] !== 1) return undefined;
  const lead = view.sizes.slice(0, -2);
  const batch = flatStride(lead.slice(0, -1), view.strides.slice(0, r - 3));
  if (batch === undefined) return undefined;
  const head = lead.length && lead[lead.length - 1] !== 1 ? view.strides[r - 3]! : 0;
  return { batch, head, row: rows === 1 ? 0 : view.strides[r - 2]!, offset: view.offset };
}

/** The stats are read as a plain [heads, rows, 2] array from offset 0. */
function isContiguous(view: StridedView): boolean {
  const want = contiguousStrides(view.sizes);
  return view.offset === 0 && view.sizes.every((d, i) => d === 1 || view.strides[i] === want[i]);
}

function fits(role: string, view: StridedView | undefined): boolean {
  return view !== undefined && (role === "stats" ? isContiguous(view) : headLayout(view) !== undefined);
}

const VIEW_OPS = new Set(["reshape", "permute", "slice", "broadcast"]);

/**
 * Values to store so that the kernels can read every input of an attention node in place. An input
 * that is a view of an inlined value (q, k and v sliced out of `qkv + bias`) stores that value, once
 * for all the views of it, when the view then fits; otherwise the input itself is stored.
 */
export function attentionOperandsToStore(n: Node, byId: ReadonlyMap<ValueId, Node>, stored: ReadonlySet<ValueId>): ValueId[] {
  const roles = ATTENTION_OPERANDS[n.op.kind as AttentionOp];
  const store = new Set<ValueId>();
  n.inputs.forEach((id, i) => {
    const withStore = new Set([...stored, ...store]);
    if (fits(roles[i]!, stridedView(id, byId, withStore))) return;
    let root = id;
    while (!withStore.has(root) && VIEW_OPS.has(byId.get(root)!.op.kind)) root = byId.get(root)!.inputs[0]!;
    store.add(root !== id && !withStore.has(root) && fits(roles[i]!, stridedView(id, byId, new Set([...withStore, root]))) ? root : id);
  });
  return [...store];
}

export function attentionKernel(
  n: Node,
  byId: ReadonlyMap<ValueId, Node>,
  stored: ReadonlySet<ValueId>,
  profile: AdapterProfile,
  name: string,
  source: string[],
  into?: Placement,
): { kernel: Kernel; buffers: Record<string, ValueId> } {
  const op = n.op as AttentionNodeOp;
  const roles = ATTENTION_OPERANDS[op.kind];
  const buffers: Record<string, ValueId> = { [RESULT[op.kind]]: into?.value ?? n.id };
  const layouts: Partial<Record<AttentionTensor, HeadLayout>> = {};
  const shapes: Record<string, number[]> = {};
  roles.forEach((role, i) => {
    const view = stridedView(n.inputs[i]!, byId, stored);
    if (!view || !fits(role, view)) throw new Error(`internal: attention operand ${role} of %${n.id} cannot be read in place`);
    shapes[role] = view.sizes as number[];
    if (role === "stats") buffers.stats = view.base;
    else {
      buffers[TENSOR_OF[role]] = view.base;
      layouts[TENSOR_OF[role]] = headLayout(view)!;
    }
  });
  const lead = shapes.q!.slice(0, -2);
  const heads = lead.length ? lead[lead.length - 1]! : 1;
  const batch = lead.slice(0, -1).reduce((a, d) => a * d, 1);
  const [lq, d] = shapes.q!.slice(-2) as [number, number];
  const lk = shapes.k!.at(-2)!;
  const dv = (shapes.v ?? shapes.dO)!.at(-1)!;
  // A heads-last result: row i of head h at (i * heads + h) * dv within its batch.
  if (op.kind === "attention" && op.heads_last) layouts.o = { batch: lq * heads * dv, head: dv, row: heads * dv, offset: 0 };
  const p: AttentionShape = {
    batch,
    heads,
    lq,
    lk,
    d,
    dv,
    scale: op.scale,
    causal: op.causal,
    layouts: into ? { ...layouts, ...into.layouts } : op.kind === "attention_grad_kv" ? { ...layouts, ...packedKv(heads, lk, d, dv) } : layouts,
    bindings: { dk: "dkv", dv: "dkv" },
    name,
    source,
  };
  return { kernel: GENERATORS[op.kind](p, profile), buffers };
}

/** dk and dv side by side in the rows of the [..., N, D + Dv] result. */
function packedKv(heads: number, lk: number, d: number, dv: number): Partial<Record<AttentionTensor, HeadLayout>> {
  const row = d + dv;
  const layout = { batch: heads * lk * row, head: lk * row, row };
  return { dk: { ...layout, offset: 0 }, dv: { ...layout, offset: d } };
}
