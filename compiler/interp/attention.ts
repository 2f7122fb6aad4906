/**
 * The attention family on the CPU, straight from the definitions with explicit probabilities, in
 * float64 (the store rounds, as everywhere in the interpreter). For query i of a head:
 *   s_ij = scale * q_i . k_j (key j masked when causal and j > i), lse_i = log sum_j exp(s_ij),
 *   p_ij = exp(s_ij - lse_i), o_i = sum_j p_ij v_j,
 * and with the stats (lse_i, D_i = dO_i . o_i):
 *   ds_ij = p_ij (dO_i . v_j - D_i), dq_i = scale sum_j ds_ij k_j,
 *   dk_j = scale sum_i ds_ij q_i, dv_j = sum_i p_ij dO_i.
 * The backward ops take lse and D from their stats input rather than recomputing them, exactly as
 * the kernels do, so the op is a function of its inputs.
 */
import type { AttentionAttrs, AttentionOp } from "../ir/types.ts";
import { allocData, sizeOf, type Precision, type Tensor } from "./tensor.ts";

/** Row `r` of a [heads, rows, width] tensor as a view. */
interface Rows {
  readonly data: ArrayLike<number>;
  readonly rows: number;
  readonly width: number;
}

function rowsOf(t: Tensor): Rows {
  const s = t.shape;
  return { data: t.data, rows: s[s.length - 2]!, width: s[s.length - 1]! };
}

function dot(a: Rows, h: number, i: number, b: Rows, j: number): number {
  const ao = (h * a.rows + i) * a.width;
  const bo = (h * b.rows + j) * b.width;
  let acc = 0;
  for (let c = 0; c < a.width; c++) acc += a.data[ao + c]! * b.data[bo + c]!;
  return acc;
}

/** Scaled scores of query i against every key, masked entries -Infinity. */
function scores(q: Rows, k: Rows, h: number, i: number, attrs: AttentionAttrs): Float64Array {
  const s = new Float64Array(k.rows);
  for (let j = 0; j < k.rows; j++) s[j] = attrs.causal && j > i ? -Infinity : attrs.scale * dot(q, h, i, k, j);
  return s;
}

function logSumExp(s: Float64Array): number {
  let m = -Infinity;
  for (const x of s) m = Math.max(m, x);
  let z = 0;
  for (const x of s) z += Math.exp(x - m);
  return m + Math.log(z);
}

/** acc[0..width) += f * row j of t. */
function axpy(acc: Float64Array, at: number, f: number, t: Rows, h: number, j: number): void {
  const o = (h * t.rows + j) * t.width;
  for (let c = 0; c < t.width; c++) acc[at + c]! += f * t.data[o + c]!;
}

export function attentionKernel(kind: AttentionOp, attrs: AttentionAttrs, args: readonly Tensor[], outShape: readonly number[], precision: Precision): Tensor {
  const [q, k] = [rowsOf(args[0]!), rowsOf(args[1]!)];
  const heads = sizeOf(outShape.slice(0, -2));
  const outWidth = outShape[outShape.length - 1]!;
  const outRows = outShape[outShape.length - 2]!;
  const acc = new Float64Array(heads * outRows * outWidth);
  for (let h = 0; h < heads; h++) {
    for (let i = 0; i < q.rows; i++) {
      const s = scores(q, k, h, i, attrs);
      if (kind === "attention") {
        const v = rowsOf(args[2]!);
        const lse = logSumExp(s);
        for (let j = 0; j < k.rows; j++) axpy(acc, (h * q.rows + i) * v.width, Math.exp(s[j]! - lse), v, h, j);
      } else if (kind === "attention_stats") {
        const [o, dO] = [rowsOf(args[2]!), rowsOf(args[3]!)];
        acc[(h * q.rows + i) * 2] = logSumExp(s);
        acc[(h * q.rows + i) * 2 + 1] = dot(dO, h, i, o, i);
      } else {
        const [v, dO, stats] = [rowsOf(args[2]!), rowsOf(args[3]!), args[4]!.data];
        const lse = stats[(h * q.rows + i) * 2]!;
        const D = stats[(h * q.rows + i) * 2 + 1]!;
        for (let j = 0; j < k.rows; j++) {
          const p = Math.exp(s[j]! - lse);
          const ds = p * (dot(dO, h, i, v, j) - D);
          if (kind === "attention_grad_q") axpy(acc, (h * q.rows + i) * q.width, ds * attrs.scale, k, h, j);
          else {
            axpy(acc, (h * k.rows + j) * outWidth, ds * attrs.scale, q, h, i);
            axpy(acc, (h * k.rows + j) * outWidth + q.width, p, dO, h, i);
          }
        }
      }
    }
  }
  const out = allocData("f32", acc.length, precision);
  out.set(acc);
  return { shape: outShape, data: out };
}
