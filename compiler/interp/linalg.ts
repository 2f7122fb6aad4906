/** Reductions, batched matmul and direct conv3d. Accumulation is in float64; the store rounds. */
import type { DType, ReduceOp } from "../ir/types.ts";
import { allocData, broadcastOffsets, sizeOf, stridesOf, type Precision, type Tensor } from "./tensor.ts";

export function reduceKernel(
  op: ReduceOp,
  x: Tensor,
  axes: readonly number[],
  outShape: readonly number[],
  dtype: DType,
  precision: Precision,
): Tensor {
  const shape = x.shape;
  const keptShape = shape.map((d, i) => (axes.includes(i) ? 1 : d));
  const acc = new Float64Array(sizeOf(keptShape)).fill(op === "sum" ? 0 : -Infinity);
  // Map every input element to its output slot with a stride-0 view over the reduced axes.
  const keptStrides = stridesOf(keptShape).map((s, i) => (axes.includes(i) ? 0 : s));
  const rank = shape.length;
  const idx = new Array<number>(rank).fill(0);
  const src = x.data;
  let o = 0;
  for (let i = 0; i < src.length; i++) {
    const v = src[i]!;
    if (op === "sum") acc[o]! += v;
    else if (v > acc[o]! || Number.isNaN(v)) acc[o] = v;
    for (let a = rank - 1; a >= 0; a--) {
      idx[a]!++;
      o += keptStrides[a]!;
      if (idx[a]! < shape[a]!) break;
      o -= keptStrides[a]! * shape[a]!;
      idx[a] = 0;
    }
  }
  const out = allocData(dtype, acc.length, precision);
  for (let i = 0; i < acc.length; i++) out[i] = acc[i]!;
  return { shape: outShape, data: out };
}

/**
 * [..., M, K] x [..., K, N]. B is transposed once per distinct batch slice into float64 so the
 * innermost loop is a dot product over k, contiguous in both operands.
 */
export function matmulKernel(a: Tensor, b: Tensor, outShape: readonly number[], precision: Precision): Tensor {
  const M = a.shape[a.shape.length - 2]!;
  const K = a.shape[a.shape.length - 1]!;
  const N = b.shape[b.shape.length - 1]!;
  const batchShape = outShape.slice(0, -2);
  const batch = sizeOf(batchShape);
  const aBatch = broadcastOffsets(batchShape, a.shape.slice(0, -2));
  const bBatch = broadcastOffsets(batchShape, b.shape.slice(0, -2));
  const out = allocData("f32", batch * M * N, precision);
  const A = a.data;
  const B = b.data;
  const bT = new Float64Array(K * N);
  const aRow = new Float64Array(K);
  let transposed = -1;
  for (let bi = 0; bi < batch; bi++) {
    const aBase = (aBatch ? aBatch[bi]! : bi) * M * K;
    const bBase = (bBatch ? bBatch[bi]! : bi) * K * N;
    if (bBase !== transposed) {
      for (let k = 0; k < K; k++) for (let j = 0; j < N; j++) bT[j * K + k] = B[bBase + k * N + j]!;
      transposed = bBase;
    }
    const cBase = bi * M * N;
    for (let i = 0; i < M; i++) {
      for (let k = 0; k < K; k++) aRow[k] = A[aBase + i * K + k]!;
      for (let j = 0; j < N; j++) {
        let sum = 0;
        const col = j * K;
        for (let k = 0; k < K; k++) sum += aRow[k]! * bT[col + k]!;
        out[cBase + i * N + j] = sum;
      }
    }
  }
  return { shape: outShape, data: out };
}

export interface ConvParams {
  readonly stride: readonly number[];
  readonly padding: readonly number[];
  readonly dilation: readonly number[];
  readonly groups: number;
}

/** Direct convolution; each weight tap sweeps the whole output plane so the inner loop is contiguous in W. */
export function conv3dKernel(x: Tensor, w: Tensor, outShape: readonly number[], p: ConvParams, precision: Precision): Tensor {
  const [N, C, T, H, W] = x.shape as [number, number, number, number, number];
  const [O, Cg, KT, KH, KW] = w.shape as [number, number, number, number, number];
  const [, , OT, OH, OW] = outShape as [number, number, number, number, number];
  const [st, sh, sw] = p.stride as [number, number, number];
  const [pt, ph, pw] = p.padding as [number, number, number];
  const [dt, dh, dw] = p.dilation as [number, number, number];
  const Og = O / p.groups;
  const plane = OT * OH * OW;
  const acc = new Float64Array(plane);
  const out = allocData("f32", N * O * plane, precision);
  const X = x.data;
  const Wt = w.data;
  for (let n = 0; n < N; n++) {
    for (let o = 0; o < O; o++) {
      acc.fill(0);
      const g = Math.floor(o / Og);
      for (let c = 0; c < Cg; c++) {
        const xBase = (n * C + g * Cg + c) * T * H * W;
        for (let kt = 0; kt < KT; kt++) {
          for (let kh = 0; kh < KH; kh++) {
            for (let kw = 0; kw < KW; kw++) {
              const wv = Wt[(((o * Cg + c) * KT + kt) * KH + kh) * KW + kw]!;
              for (let ot = 0; ot < OT; ot++) {
                const it = ot * st - pt + kt * dt;
                if (it < 0 || it >= T) continue;
                for (let oh = 0; oh < OH; oh++) {
                  const ih = oh * sh - ph + kh * dh;
                  if (ih < 0 || ih >= H) continue;
                  const xRow = xBase + (it * H + ih) * W;
                  const aRow = (ot * OH + oh) * OW;
                  for (let ow = 0; ow < OW; ow++) {
                    const iw = ow * sw - pw + kw * dw;
                    if (iw >= 0 && iw < W) acc[aRow + ow]! += wv * X[xRow + iw]!;
                  }
                }
              }
            }
          }
        }
      }
      out.set(acc, (n * O + o) * plane);
    }
  }
  return { shape: outShape, data: out };
}
