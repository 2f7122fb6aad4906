/**
 * Model summary for `ivc info`: parameter counts, buffers, FLOPs per sample and op counts.
 * FLOPs follow the fvcore convention the papers use: multiply-adds of matmuls and convolutions only
 * (attention counts its two products, q k^T and p v; norms and activations are ignored), for one
 * sample (symbolic batch dims set to 1).
 */
import { evalShape } from "../ir/dims.ts";
import type { AttentionOp, Graph, Node, ParamInfo } from "../ir/types.ts";
import type { ModuleSummary } from "../elaborate/index.ts";

export interface ModuleRow {
  readonly path: string;
  readonly type: string;
  readonly params: number;
  readonly flops: number;
  readonly frozen: boolean;
}

export interface ModelInfo {
  readonly params: { readonly total: number; readonly trainable: number; readonly frozen: number };
  readonly buffers: number;
  readonly flops: number;
  readonly modules: readonly ModuleRow[];
  readonly ops: Readonly<Record<string, number>>;
}

function count(p: ParamInfo): number {
  return p.shape.reduce<number>((a, d) => a * (typeof d === "number" ? d : 1), 1);
}

/** The symbolic dims of a graph all set to 1: one sample. */
function unitDims(graph: Graph): Record<string, number> {
  const dims: Record<string, number> = {};
  const visit = (d: number | string) => {
    if (typeof d === "string") for (const s of d.split("*")) if (!/^\d+$/.test(s)) dims[s] = 1;
  };
  for (const n of graph.nodes) n.shape.forEach(visit);
  return dims;
}

export function nodeFlops(n: Node, byId: ReadonlyMap<number, Node>, dims: Record<string, number>): number {
  const out = evalShape(n.shape, dims);
  const size = out.reduce((a, b) => a * b, 1);
  if (n.op.kind === "matmul") {
    const a = evalShape(byId.get(n.inputs[0]!)!.shape, dims);
    return size * a[a.length - 1]!;
  }
  if (n.op.kind === "conv3d") {
    const w = evalShape(byId.get(n.inputs[1]!)!.shape, dims);
    return size * w[1]! * w[2]! * w[3]! * w[4]!;
  }
  if (ATTENTION_MACS[n.op.kind as AttentionOp]) {
    // Per head, the products of q k^T ([M, N] x D) and of the value-width ones ([M, N] x Dv) the op makes.
    const [q, k, third] = n.inputs.slice(0, 3).map((i) => evalShape(byId.get(i)!.shape, dims));
    const heads = q!.slice(0, -2).reduce((a, d) => a * d, 1);
    const [M, D] = q!.slice(-2) as [number, number];
    const pairs = heads * M * k!.at(-2)!;
    const { qk, value } = ATTENTION_MACS[n.op.kind as AttentionOp];
    return pairs * (qk * D + value * third!.at(-1)!);
  }
  return 0;
}

/** Multiply-adds per (query, key) pair, in units of D (q k products) and Dv (products with v or dO rows). */
const ATTENTION_MACS: Record<AttentionOp, { qk: number; value: number }> = {
  attention: { qk: 1, value: 1 },
  attention_stats: { qk: 1, value: 0 },
  attention_grad_q: { qk: 2, value: 1 },
  attention_grad_kv: { qk: 2, value: 2 },
};

/**
 * @param forward the eval-mode forward graph (FLOPs and ops are counted on it)
 * @param params the parameters with the stage's freeze flags applied
 */
export function modelInfo(forward: Graph, params: readonly ParamInfo[], modules: readonly ModuleSummary[]): ModelInfo {
  const learnable = params.filter((p) => p.kind === "param");
  const total = learnable.reduce((a, p) => a + count(p), 0);
  const frozen = learnable.filter((p) => p.frozen).reduce((a, p) => a + count(p), 0);
  const buffers = params.filter((p) => p.kind === "buffer").reduce((a, p) => a + count(p), 0);
  const byId = new Map(forward.nodes.map((n) => [n.id, n]));
  const dims = unitDims(forward);
  const ops: Record<string, number> = {};
  const flopsByName = new Map<string, number>();
  let flops = 0;
  for (const n of forward.nodes) {
    ops[n.op.kind] = (ops[n.op.kind] ?? 0) + 1;
    const f = nodeFlops(n, byId, dims);
    if (f) {
      flops += f;
      const key = n.name ?? "";
      flopsByName.set(key, (flopsByName.get(key) ?? 0) + f);
    }
  }
  const under = (path: string, prefix: string) => prefix === "" || path === prefix || path.startsWith(`${prefix}.`);
  const seen = new Set<string>();
  const rows: ModuleRow[] = [];
  for (const m of [...modules].sort((a, b) => a.path.localeCompare(b.path))) {
    if (seen.has(m.path)) continue;
    seen.add(m.path);
    rows.push({
      path: m.path,
      type: m.type,
      params: learnable.filter((p) => under(p.path, m.path)).reduce((a, p) => a + count(p), 0),
      flops: [...flopsByName].filter(([name]) => under(name, m.path)).reduce((a, [, f]) => a + f, 0),
      frozen: m.frozen,
    });
  }
  return { params: { total, trainable: total - frozen, frozen }, buffers, flops, modules: rows, ops };
}
