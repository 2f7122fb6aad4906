/** Plain CPU references (float64 accumulation) that the WGSL kernels are checked against. */
import { offsetOf } from "../../compiler/codegen/index-map.ts";
import type { ResolvedMatmul } from "../../compiler/codegen/matmul.ts";

export function matmulRef(r: ResolvedMatmul, A: ArrayLike<number>, B: ArrayLike<number>, outSize: number, epi = (v: number, _row: number, _col: number, _idx: number) => v): Float32Array {
  const C = new Float32Array(outSize);
  for (let b = 0; b < r.batch; b++) {
    for (let m = 0; m < r.M; m++) {
      for (let n = 0; n < r.N; n++) {
        let s = 0;
        for (let k = 0; k < r.K; k++) {
          const a = A[b * r.a.batchStride + offsetOf(r.a.outer, m) + offsetOf(r.a.inner, k)];
          const bb = B[b * r.b.batchStride + offsetOf(r.b.outer, k) + offsetOf(r.b.inner, n)];
          s += a * bb;
        }
        const idx = b * r.c.batchStride + offsetOf(r.c.outer, m) + offsetOf(r.c.inner, n);
        C[idx] = epi(s, m, n, idx);
      }
    }
  }
  return C;
}

/** erf to ~1e-15 (series below 3, continued fraction above), independent of the WGSL fit. */
export function erf(x: number): number {
  const z = Math.abs(x);
  let r: number;
  if (z < 3) {
    let term = z;
    let sum = z;
    for (let n = 1; n < 100; n++) {
      term *= (-z * z) / n;
      const add = term / (2 * n + 1);
      sum += add;
      if (Math.abs(add) < 1e-17) break;
    }
    r = (2 / Math.sqrt(Math.PI)) * sum;
  } else {
    let f = 0;
    for (let n = 60; n >= 1; n--) f = n / 2 / (z + f);
    r = 1 - Math.exp(-z * z) / Math.sqrt(Math.PI) / (z + f);
  }
  return x < 0 ? -r : r;
}

export const geluErf = (x: number) => 0.5 * x * (1 + erf(x / Math.SQRT2));
export const sigmoid = (x: number) => 1 / (1 + Math.exp(-x));
export const quickGelu = (x: number) => x * sigmoid(1.702 * x);

/** LayerNorm in float64: y, and each row's mean and 1/std. */
export function layerNormRef(
  h: Float32Array,
  R: number,
  N: number,
  gamma: Float32Array,
  beta: Float32Array,
  eps: number,
) {
  const y = new Float64Array(R * N);
  const mean = new Float64Array(R);
  const rstd = new Float64Array(R);
  for (let r = 0; r < R; r++) {
    let s = 0;
    for (let j = 0; j < N; j++) s += h[r * N + j];
    const mu = s / N;
    let q = 0;
    for (let j = 0; j < N; j++) q += (h[r * N + j] - mu) ** 2;
    const rs = 1 / Math.sqrt(q / N + eps);
    mean[r] = mu;
    rstd[r] = rs;
    for (let j = 0; j < N; j++)
      y[r * N + j] = (h[r * N + j] - mu) * rs * gamma[j] + beta[j];
  }
  return { y, mean, rstd };
}

/** LayerNorm backward in float64 from the forward's mean and rstd: dx (plus `dres` when given), dgamma, dbeta. */
export function layerNormBackwardRef(
  x: ArrayLike<number>,
  dy: ArrayLike<number>,
  gamma: ArrayLike<number>,
  mean: ArrayLike<number>,
  rstd: ArrayLike<number>,
  R: number,
  N: number,
  dres?: ArrayLike<number>,
) {
  const dx = new Float64Array(R * N);
  const dgamma = new Float64Array(N);
  const dbeta = new Float64Array(N);
  for (let r = 0; r < R; r++) {
    let sg = 0;
    let sgx = 0;
    for (let j = 0; j < N; j++) {
      const xh = (x[r * N + j] - mean[r]) * rstd[r];
      const g = dy[r * N + j] * gamma[j];
      sg += g;
      sgx += g * xh;
      dgamma[j] += dy[r * N + j] * xh;
      dbeta[j] += dy[r * N + j];
    }
    for (let j = 0; j < N; j++) {
      const xh = (x[r * N + j] - mean[r]) * rstd[r];
      dx[r * N + j] = rstd[r] * (dy[r * N + j] * gamma[j] - sg / N - (xh * sgx) / N) + (dres ? dres[r * N + j] : 0);
    }
  }
  return { dx, dgamma, dbeta };
}
