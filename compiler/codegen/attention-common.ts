/**
 * Shared pieces of the attention kernels: per-tensor layouts (so a fused qkv projection's
 * [B, L, 3, H, dh] output is read in place), and the "one lane owns a row, loops over the rows of
 * another tensor" skeleton with three ways to fetch the loop rows:
 * - broadcast (software, subgroups): each of the 8 (or 16) lanes loads a slice of the row and
 *   `subgroupBroadcast` assembles it everywhere, so a row costs d/32 (d/64) loads per lane instead of d/4;
 * - direct: every lane loads the whole row (software without subgroups);
 * - tile (discrete): the workgroup stages 16 rows in workgroup memory per barrier.
 */
import { f32Lit, simdLanes, type AdapterProfile } from "./kernel.ts";

/** Element strides of a [batch, heads, rows, width] view; the row is contiguous. */
export interface HeadLayout {
  readonly batch: number;
  readonly head: number;
  readonly row: number;
  readonly offset?: number;
}

/** The tensors of forward and backward; each has its own layout and binding. */
export type AttentionTensor = "q" | "k" | "v" | "o" | "dout" | "dq" | "dk" | "dv";

export interface AttentionShape {
  readonly batch: number;
  readonly heads: number;
  readonly lq: number;
  readonly lk: number;
  /** Width of q and k rows (and dq, dk). */
  readonly d: number;
  /** Width of v, o and dout rows (and dv); default d. */
  readonly dv?: number;
  /** Default 1/sqrt(d). */
  readonly scale?: number;
  /** Key j is masked for query i when j > i (PyTorch's `is_causal`: the mask is aligned top-left). */
  readonly causal?: boolean;
  /** An additive bias `bias` read at [batch, head, i, j] through these strides (0 broadcasts). */
  readonly bias?: { readonly batch: number; readonly head: number; readonly q: number; readonly k: number };
  /** Per-tensor layouts; default contiguous [batch*heads, rows, width]. */
  readonly layouts?: Readonly<Partial<Record<AttentionTensor, HeadLayout>>>;
  /**
   * The binding each tensor is read from or written to, default its own name. Tensors that share a
   * binding (dk and dv packed side by side in one buffer) are declared once: WebGPU rejects two
   * writable bindings of one buffer in a dispatch.
   */
  readonly bindings?: Readonly<Partial<Record<AttentionTensor, string>>>;
  readonly name?: string;
  readonly source?: readonly string[];
}

export type RowFetch = "broadcast" | "direct" | "tile";

/** Lanes of a software workgroup without usable subgroups; with them, `simdLanes` of the profile. */
export const SIMD_LANES = 8;
export const TILE_LANES = 64;
export const TILE_ROWS = 16;
/** Stands in for -inf: exp() of differences stays finite-safe (no inf - inf). */
export const MASKED = "-1.0e30";
/** Workgroups per grid dimension; more heads than this spill into z. */
export const MAX_GRID = 65535;

export function valueWidth(p: AttentionShape): number {
  return p.dv ?? p.d;
}

export function contiguousLayout(heads: number, rows: number, width: number): HeadLayout {
  return { batch: heads * rows * width, head: rows * width, row: width, offset: 0 };
}

export function vec4Layout(l: HeadLayout, width: number): boolean {
  return width % 4 === 0 && [l.batch, l.head, l.row, l.offset ?? 0].every((s) => s % 4 === 0);
}

/** WGSL u32 offset of row `row` of head `bh` (in vec4 units when `vec`). */
export function rowOffset(l: HeadLayout, heads: number, bh: string, row: string, vec: boolean): string {
  const u = vec ? 4 : 1;
  return `(${bh} / ${heads}u) * ${l.batch / u}u + (${bh} % ${heads}u) * ${l.head / u}u + ${row} * ${l.row / u}u + ${(l.offset ?? 0) / u}u`;
}

/** Statements defining `${prefix}${c}` (vec4, zero-padded past width) for c < ceil(width/4) from one row. */
export function loadRowDirect(buffer: string, prefix: string, offset: string, width: number, vec: boolean): string[] {
  const w4 = Math.ceil(width / 4);
  const out = [`let ${prefix}o = ${offset};`];
  for (let c = 0; c < w4; c++) {
    if (vec) out.push(`let ${prefix}${c} = ${buffer}[${prefix}o + ${c}u];`);
    else {
      const comps = [0, 1, 2, 3].map((q) => (c * 4 + q < width ? `${buffer}[${prefix}o + ${c * 4 + q}u]` : "0.0"));
      out.push(`let ${prefix}${c} = vec4<f32>(${comps.join(", ")});`);
    }
  }
  return out;
}

/** The broadcast fetch over `lanes` lanes: lane l loads chunks l, l+lanes, ...; requires vec4 rows. */
export function loadRowBroadcast(buffer: string, prefix: string, offset: string, width: number, lanes: number): string[] {
  const w4 = width / 4;
  const perLane = Math.ceil(w4 / lanes);
  const out = [`let ${prefix}o = ${offset};`];
  for (let i = 0; i < perLane; i++) out.push(`let ${prefix}m${i} = ${buffer}[${prefix}o + min(lane + ${i * lanes}u, ${w4 - 1}u)];`);
  for (let c = 0; c < w4; c++) out.push(`let ${prefix}${c} = subgroupBroadcast(${prefix}m${Math.floor(c / lanes)}, ${c % lanes}u);`);
  return out;
}

export function dot4(a: string, b: string, width: number): string {
  return [...Array(Math.ceil(width / 4)).keys()].map((c) => `dot(${a}${c}, ${b}${c})`).join(" + ");
}

/** Score expression pieces: scale, bias, causal mask for query `qi`, key `kj`. */
export function scoreExpr(p: AttentionShape, raw: string, bh: string, qi: string, kj: string): string {
  let s = `(${raw}) * ${f32Lit(p.scale ?? 1 / Math.sqrt(p.d))}`;
  if (p.bias) {
    const b = p.bias;
    s = `${s} + bias[(${bh} / ${p.heads}u) * ${b.batch}u + (${bh} % ${p.heads}u) * ${b.head}u + ${qi} * ${b.q}u + ${kj} * ${b.k}u]`;
  }
  if (p.causal) s = `select(${s}, ${MASKED}, ${kj} > ${qi})`;
  return s;
}

export function chooseFetch(profile: AdapterProfile, allVec4: boolean): RowFetch {
  if (!profile.software) return "tile";
  return simdLanes(profile) !== undefined && allVec4 ? "broadcast" : "direct";
}

export function indent(lines: readonly string[], n: number): string {
  const pad = " ".repeat(n);
  return lines.map((l) => pad + l).join("\n");
}
