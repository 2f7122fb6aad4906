/** Elementwise kernels: unary, binary, compare, where, cast, with numpy broadcasting. */
import type { BinaryOp, CompareOp, DType, UnaryOp } from "../ir/types.ts";
import { allocData, broadcastOffsets, sizeOf, type Precision, type Tensor } from "./tensor.ts";

const TWO_OVER_SQRT_PI = 1.1283791670955126;

/**
 * erf to double precision, from the all-positive series
 * erf(x) = 2/sqrt(pi) * exp(-x^2) * sum_n 2^n x^(2n+1) / (1*3*...*(2n+1)),
 * which has no cancellation (unlike the Taylor series) so finite-difference gradient checks hold.
 * Beyond |x| = 6 erf is 1 to within 1e-17.
 */
export function erf(x: number): number {
  if (Number.isNaN(x)) return NaN;
  const ax = Math.abs(x);
  if (ax >= 6) return Math.sign(x);
  const x2 = ax * ax;
  let term = ax;
  let sum = ax;
  for (let n = 1; n < 200; n++) {
    term *= (2 * x2) / (2 * n + 1);
    sum += term;
    if (term < sum * 1e-17) break;
  }
  return Math.sign(x) * TWO_OVER_SQRT_PI * Math.exp(-x2) * sum;
}

const FLOAT_UNARY: Record<UnaryOp, (x: number) => number> = {
  neg: (x) => -x,
  abs: Math.abs,
  exp: Math.exp,
  log: Math.log,
  sqrt: Math.sqrt,
  rsqrt: (x) => 1 / Math.sqrt(x),
  recip: (x) => 1 / x,
  tanh: Math.tanh,
  sigmoid: (x) => 1 / (1 + Math.exp(-x)),
  erf,
  sin: Math.sin,
  cos: Math.cos,
  floor: Math.floor,
  sign: (x) => (x > 0 ? 1 : x < 0 ? -1 : x),
  relu: (x) => (x > 0 ? x : 0),
};

/** Integer semantics follow WGSL: wrapping arithmetic, division truncating toward zero. */
const INT_BINARY: Record<BinaryOp, (a: number, b: number) => number> = {
  add: (a, b) => (a + b) | 0,
  sub: (a, b) => (a - b) | 0,
  mul: (a, b) => Math.imul(a, b),
  div: (a, b) => (b === 0 ? a : (a / b) | 0),
  max: Math.max,
  min: Math.min,
  pow: (a, b) => Math.pow(a, b) | 0,
};

const FLOAT_BINARY: Record<BinaryOp, (a: number, b: number) => number> = {
  add: (a, b) => a + b,
  sub: (a, b) => a - b,
  mul: (a, b) => a * b,
  div: (a, b) => a / b,
  max: (a, b) => (a >= b || Number.isNaN(a) ? a : b),
  min: (a, b) => (a <= b || Number.isNaN(a) ? a : b),
  pow: Math.pow,
};

const COMPARE: Record<CompareOp, (a: number, b: number) => boolean> = {
  lt: (a, b) => a < b,
  le: (a, b) => a <= b,
  gt: (a, b) => a > b,
  ge: (a, b) => a >= b,
  eq: (a, b) => a === b,
  ne: (a, b) => a !== b,
};

export function unaryKernel(op: UnaryOp, x: Tensor, dtype: DType, precision: Precision): Tensor {
  const n = x.data.length;
  const out = allocData(dtype, n, precision);
  const f = FLOAT_UNARY[op];
  const src = x.data;
  for (let i = 0; i < n; i++) out[i] = f(src[i]!);
  return { shape: x.shape, data: out };
}

/** Applies `f` over the broadcast of `inputs` into `outShape`. */
function broadcastMap(
  inputs: readonly Tensor[],
  outShape: readonly number[],
  out: Tensor["data"],
  f: (values: number[]) => number,
): void {
  const n = sizeOf(outShape);
  const offsets = inputs.map((t) => broadcastOffsets(outShape, t.shape));
  const vals = new Array<number>(inputs.length);
  for (let i = 0; i < n; i++) {
    for (let k = 0; k < inputs.length; k++) {
      const o = offsets[k];
      vals[k] = inputs[k]!.data[o ? o[i]! : i]!;
    }
    out[i] = f(vals);
  }
}

export function binaryKernel(op: BinaryOp, a: Tensor, b: Tensor, outShape: number[], dtype: DType, precision: Precision): Tensor {
  const out = allocData(dtype, sizeOf(outShape), precision);
  const f = dtype === "i32" ? INT_BINARY[op] : FLOAT_BINARY[op];
  const da = a.data;
  const db = b.data;
  // Scalars (splat constants, gates) are common enough to skip building an offset table for them.
  if (db.length === 1 && da.length === out.length) {
    const y = db[0]!;
    for (let i = 0; i < out.length; i++) out[i] = f(da[i]!, y);
  } else if (da.length === 1 && db.length === out.length) {
    const x = da[0]!;
    for (let i = 0; i < out.length; i++) out[i] = f(x, db[i]!);
  } else {
    const oa = broadcastOffsets(outShape, a.shape);
    const ob = broadcastOffsets(outShape, b.shape);
    for (let i = 0; i < out.length; i++) out[i] = f(da[oa ? oa[i]! : i]!, db[ob ? ob[i]! : i]!);
  }
  return { shape: outShape, data: out };
}

export function compareKernel(op: CompareOp, a: Tensor, b: Tensor, outShape: number[]): Tensor {
  const out = new Uint8Array(sizeOf(outShape));
  const f = COMPARE[op];
  broadcastMap([a, b], outShape, out, ([x, y]) => (f(x!, y!) ? 1 : 0));
  return { shape: outShape, data: out };
}

export function whereKernel(c: Tensor, a: Tensor, b: Tensor, outShape: number[], dtype: DType, precision: Precision): Tensor {
  const out = allocData(dtype, sizeOf(outShape), precision);
  broadcastMap([c, a, b], outShape, out, ([cond, x, y]) => (cond ? x! : y!));
  return { shape: outShape, data: out };
}

/** f32 -> i32 truncates toward zero and saturates, as WGSL does; bool is 0/1. */
export function castKernel(x: Tensor, to: DType, precision: Precision): Tensor {
  const n = x.data.length;
  const out = allocData(to, n, precision);
  const src = x.data;
  if (to === "i32") {
    for (let i = 0; i < n; i++) {
      const v = Math.trunc(src[i]!);
      out[i] = Number.isNaN(v) ? 0 : Math.max(-2147483648, Math.min(2147483647, v));
    }
  } else if (to === "bool") {
    for (let i = 0; i < n; i++) out[i] = src[i] !== 0 ? 1 : 0;
  } else {
    for (let i = 0; i < n; i++) out[i] = src[i]!;
  }
  return { shape: x.shape, data: out };
}
