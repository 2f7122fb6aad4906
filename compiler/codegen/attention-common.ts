/**
 * Shared pieces of the attention kernels: per-tensor layouts (so a fused qkv projection's
 * [B, L, 3, H, dh] output is read in place), and the "one lane owns a row, loops over the rows of
 * another tensor" skeleton with three ways to fetch the loop rows:
 * - broadcast (software, subgroups): each of the 8 lanes loads a slice of the row and
 *   `subgroupBroadcast` assembles it everywhere, so a row costs d/32 loads per lane instead of d/4;
 * - direct: every lane loads the whole row (software without subgroups);
 * - tile (discrete): the workgroup stages 16 rows in workgroup memory per barrier.
 */
import { f32Lit } from "./kernel.ts";

/** Element strides of a [batch, heads, rows, d] view; d is contiguous. */
export interface HeadLayout {
  readonly batch: number;
  readonly head: number;
  readonly row: number;
  readonly offset?: number;
}

export interface AttentionShape {
  readonly batch: number;
  readonly heads: number;
  readonly lq: number;
  readonly lk: number;
  readonly d: number;
  /** Default 1/sqrt(d). */
  readonly scale?: number;
  /** Key j is masked for query i when j > i + (lk - lq). */
  readonly causal?: boolean;
  /** An additive bias `bias` read at [batch, head, i, j] through these strides (0 broadcasts). */
  readonly bias?: { readonly batch: number; readonly head: number; readonly q: number; readonly k: number };
  /** Per-tensor layouts (q, k, v, o, dout, dq, dk, dv); default contiguous [batch*heads, rows, d]. */
  readonly layouts?: Readonly<Record<string, HeadLayout>>;
  readonly name?: string;
  readonly source?: readonly string[];
}

export type RowFetch = "broadcast" | "direct" | "tile";

export const SIMD_LANES = 8;
export const TILE_LANES = 64;
export const TILE_ROWS = 16;
/** Stands in for -inf: exp() of differences stays finite-safe (no inf - inf). */
export const MASKED = "-1.0e30";

export function contiguousLayout(heads: number, rows: number, d: number): HeadLayout {
  return { batch: heads * rows * d, head: rows * d, row: d, offset: 0 };
}

export function layoutOf(p: AttentionShape, tensor: string, rows: number): HeadLayout {
  return p.layouts?.[tensor] ?? contiguousLayout(p.heads, rows, p.d);
}

export function vec4Layout(l: HeadLayout, d: number): boolean {
  return d % 4 === 0 && [l.batch, l.head, l.row, l.offset ?? 0].every((s) => s % 4 === 0);
}

/** WGSL u32 offset of row `row` of head `bh` (in vec4 units when `vec`). */
export function rowOffset(l: HeadLayout, heads: number, bh: string, row: string, vec: boolean): string {
  const u = vec ? 4 : 1;
  return `(${bh} / ${heads}u) * ${l.batch / u}u + (${bh} % ${heads}u) * ${l.head / u}u + ${row} * ${l.row / u}u + ${(l.offset ?? 0) / u}u`;
}

/** Statements defining `${prefix}${c}` (vec4, zero-padded past d) for c < ceil(d/4) from one row. */
export function loadRowDirect(buffer: string, prefix: string, offset: string, d: number, vec: boolean): string[] {
  const d4 = Math.ceil(d / 4);
  const out = [`let ${prefix}o = ${offset};`];
  for (let c = 0; c < d4; c++) {
    if (vec) out.push(`let ${prefix}${c} = ${buffer}[${prefix}o + ${c}u];`);
    else {
      const comps = [0, 1, 2, 3].map((q) => (c * 4 + q < d ? `${buffer}[${prefix}o + ${c * 4 + q}u]` : "0.0"));
      out.push(`let ${prefix}${c} = vec4<f32>(${comps.join(", ")});`);
    }
  }
  return out;
}

/** The broadcast fetch: lane l loads chunks l, l+8, ...; requires vec4 rows. */
export function loadRowBroadcast(buffer: string, prefix: string, offset: string, d: number): string[] {
  const d4 = d / 4;
  const perLane = Math.ceil(d4 / SIMD_LANES);
  const out = [`let ${prefix}o = ${offset};`];
  for (let i = 0; i < perLane; i++) out.push(`let ${prefix}m${i} = ${buffer}[${prefix}o + min(lane + ${i * SIMD_LANES}u, ${d4 - 1}u)];`);
  for (let c = 0; c < d4; c++) out.push(`let ${prefix}${c} = subgroupBroadcast(${prefix}m${Math.floor(c / SIMD_LANES)}, ${c % SIMD_LANES}u);`);
  return out;
}

export function dot4(a: string, b: string, d: number): string {
  return [...Array(Math.ceil(d / 4)).keys()].map((c) => `dot(${a}${c}, ${b}${c})`).join(" + ");
}

/** Score expression pieces: scale, bias, causal mask for query `qi`, key `kj`. */
export function scoreExpr(p: AttentionShape, raw: string, bh: string, qi: string, kj: string): string {
  let s = `(${raw}) * ${f32Lit(p.scale ?? 1 / Math.sqrt(p.d))}`;
  if (p.bias) {
    const b = p.bias;
    s = `${s} + bias[(${bh} / ${p.heads}u) * ${b.batch}u + (${bh} % ${p.heads}u) * ${b.head}u + ${qi} * ${b.q}u + ${kj} * ${b.k}u]`;
  }
  if (p.causal) s = `select(${s}, ${MASKED}, ${kj} > ${qi} + ${p.lk - p.lq}u)`;
  return s;
}

export function chooseFetch(software: boolean, subgroups: boolean, subgroupSize: number, allVec4: boolean): RowFetch {
  if (!software) return "tile";
  return subgroups && subgroupSize === SIMD_LANES && allVec4 ? "broadcast" : "direct";
}

export function indent(lines: readonly string[], n: number): string {
  const pad = " ".repeat(n);
  return lines.map((l) => pad + l).join("\n");
}
