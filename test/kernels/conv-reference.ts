/** Direct float64 conv3d (NCTHW, groups, stride, padding, dilation) and its gradients. */
export interface ConvRefParams {
  n: number;
  cin: number;
  cout: number;
  size: [number, number, number];
  kernel: [number, number, number];
  stride: [number, number, number];
  padding: [number, number, number];
  dilation: [number, number, number];
  groups: number;
}

export function convOut(p: ConvRefParams): [number, number, number] {
  return [0, 1, 2].map((i) => Math.floor((p.size[i] + 2 * p.padding[i] - (p.kernel[i] - 1) * p.dilation[i] - 1) / p.stride[i]) + 1) as [number, number, number];
}

/** Calls f(yIndex, xIndex, wIndex, o) for every contributing (output, input, weight) triple. */
function forEachTerm(p: ConvRefParams, f: (yi: number, xi: number, wi: number, o: number) => void): void {
  const [T, H, W] = p.size;
  const [kT, kH, kW] = p.kernel;
  const [T2, H2, W2] = convOut(p);
  const cinG = p.cin / p.groups;
  const coutG = p.cout / p.groups;
  for (let n = 0; n < p.n; n++)
    for (let o = 0; o < p.cout; o++)
      for (let t = 0; t < T2; t++)
        for (let h = 0; h < H2; h++)
          for (let w = 0; w < W2; w++) {
            const yi = (((n * p.cout + o) * T2 + t) * H2 + h) * W2 + w;
            for (let ci = 0; ci < cinG; ci++) {
              const c = Math.floor(o / coutG) * cinG + ci;
              for (let a = 0; a < kT; a++)
                for (let b = 0; b < kH; b++)
                  for (let d = 0; d < kW; d++) {
                    const ti = t * p.stride[0] + a * p.dilation[0] - p.padding[0];
                    const hi = h * p.stride[1] + b * p.dilation[1] - p.padding[1];
                    const wi = w * p.stride[2] + d * p.dilation[2] - p.padding[2];
                    if (ti < 0 || ti >= T || hi < 0 || hi >= H || wi < 0 || wi >= W) continue;
                    f(yi, (((n * p.cin + c) * T + ti) * H + hi) * W + wi, (((o * cinG + ci) * kT + a) * kH + b) * kW + d, o);
                  }
            }
          }
}

export function convRef(p: ConvRefParams, x: ArrayLike<number>, w: ArrayLike<number>, bias?: ArrayLike<number>): Float64Array {
  const [T2, H2, W2] = convOut(p);
  const y = new Float64Array(p.n * p.cout * T2 * H2 * W2);
  forEachTerm(p, (yi, xi, wi) => (y[yi] += x[xi] * w[wi]));
  if (bias) for (let i = 0; i < y.length; i++) y[i] += bias[Math.floor(i / (T2 * H2 * W2)) % p.cout];
  return y;
}

export function convGradRef(p: ConvRefParams, x: ArrayLike<number>, w: ArrayLike<number>, dy: ArrayLike<number>) {
  const dx = new Float64Array(x.length);
  const dw = new Float64Array(w.length);
  const db = new Float64Array(p.cout);
  forEachTerm(p, (yi, xi, wi) => {
    dx[xi] += dy[yi] * w[wi];
    dw[wi] += dy[yi] * x[xi];
  });
  const [T2, H2, W2] = convOut(p);
  for (let i = 0; i < dy.length; i++) db[Math.floor(i / (T2 * H2 * W2)) % p.cout] += dy[i];
  return { dx, dw, db };
}

/** NCTHW <-> NTHWC. */
export function toChannelsLast(a: ArrayLike<number>, n: number, c: number, s: number): Float32Array {
  const out = new Float32Array(a.length);
  for (let i = 0; i < n; i++) for (let ch = 0; ch < c; ch++) for (let j = 0; j < s; j++) out[(i * s + j) * c + ch] = a[(i * c + ch) * s + j];
  return out;
}

export function fromChannelsLast(a: ArrayLike<number>, n: number, c: number, s: number): Float64Array {
  const out = new Float64Array(a.length);
  for (let i = 0; i < n; i++) for (let ch = 0; ch < c; ch++) for (let j = 0; j < s; j++) out[(i * c + ch) * s + j] = a[(i * s + j) * c + ch];
  return out;
}
