import type { AttentionShape } from "../../compiler/codegen/attention-common.ts";

/** Naive attention in float64 with explicit probabilities, forward and backward. */
export function attentionRef(
  p: AttentionShape,
  q: Float32Array,
  k: Float32Array,
  v: Float32Array,
  dO: Float32Array,
  bias?: Float32Array,
) {
  const { lq, lk, d } = p;
  const w = p.dv ?? d;
  const bhN = p.batch * p.heads;
  const scale = p.scale ?? 1 / Math.sqrt(d);
  const o = new Float64Array(bhN * lq * w);
  const stats = new Float64Array(bhN * lq * 2);
  const dq = new Float64Array(bhN * lq * d);
  const dk = new Float64Array(bhN * lk * d);
  const dv = new Float64Array(bhN * lk * w);
  for (let bh = 0; bh < bhN; bh++) {
    const b = Math.floor(bh / p.heads);
    const hh = bh % p.heads;
    for (let i = 0; i < lq; i++) {
      const s = new Float64Array(lk);
      for (let j = 0; j < lk; j++) {
        let dotv = 0;
        for (let c = 0; c < d; c++)
          dotv += q[(bh * lq + i) * d + c] * k[(bh * lk + j) * d + c];
        s[j] = dotv * scale;
        if (bias && p.bias)
          s[j] +=
            bias[
              b * p.bias.batch + hh * p.bias.head + i * p.bias.q + j * p.bias.k
            ];
        if (p.causal && j > i) s[j] = -Infinity;
      }
      const m = Math.max(...s);
      let z = 0;
      for (let j = 0; j < lk; j++) z += Math.exp(s[j] - m);
      stats[(bh * lq + i) * 2] = m + Math.log(z);
      const P = s.map((x) => Math.exp(x - m) / z);
      let D = 0;
      for (let j = 0; j < lk; j++)
        for (let c = 0; c < w; c++)
          o[(bh * lq + i) * w + c] += P[j] * v[(bh * lk + j) * w + c];
      for (let c = 0; c < w; c++)
        D += dO[(bh * lq + i) * w + c] * o[(bh * lq + i) * w + c];
      stats[(bh * lq + i) * 2 + 1] = D;
      for (let j = 0; j < lk; j++) {
        let dp = 0;
        for (let c = 0; c < w; c++)
          dp += dO[(bh * lq + i) * w + c] * v[(bh * lk + j) * w + c];
        const ds = P[j] * (dp - D);
        for (let c = 0; c < w; c++)
          dv[(bh * lk + j) * w + c] += P[j] * dO[(bh * lq + i) * w + c];
        for (let c = 0; c < d; c++) {
          dq[(bh * lq + i) * d + c] += ds * k[(bh * lk + j) * d + c] * scale;
          dk[(bh * lk + j) * d + c] += ds * q[(bh * lq + i) * d + c] * scale;
        }
      }
    }
  }
  return { o, stats, dq, dk, dv };
}
