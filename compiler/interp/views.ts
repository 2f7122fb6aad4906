/** Data movement and source kernels: views, gather/scatter, iota, random, constants. */
import type { DType } from "../ir/types.ts";
import { randomBernoulli, randomNormal, randomUniform } from "../ir/philox.ts";
import { allocData, broadcastOffsets, gatherOffsets, sizeOf, stridesOf, type Precision, type Tensor } from "./tensor.ts";

function take(x: Tensor, offsets: Int32Array, shape: readonly number[], dtype: DType, precision: Precision): Tensor {
  const out = allocData(dtype, offsets.length, precision);
  const src = x.data;
  for (let i = 0; i < offsets.length; i++) out[i] = src[offsets[i]!]!;
  return { shape, data: out };
}

export function permuteKernel(x: Tensor, perm: readonly number[], shape: readonly number[], dtype: DType, precision: Precision): Tensor {
  const strides = stridesOf(x.shape);
  return take(x, gatherOffsets(shape, perm.map((p) => strides[p]!), 0), shape, dtype, precision);
}

export function sliceKernel(
  x: Tensor,
  starts: readonly number[],
  steps: readonly number[],
  shape: readonly number[],
  dtype: DType,
  precision: Precision,
): Tensor {
  const strides = stridesOf(x.shape);
  const base = starts.reduce((acc, s, i) => acc + s * strides[i]!, 0);
  return take(x, gatherOffsets(shape, strides.map((s, i) => s * steps[i]!), base), shape, dtype, precision);
}

export function broadcastKernel(x: Tensor, shape: readonly number[], dtype: DType, precision: Precision): Tensor {
  const offsets = broadcastOffsets(shape, x.shape);
  if (!offsets) return { shape, data: x.data };
  return take(x, offsets, shape, dtype, precision);
}

export function padKernel(
  x: Tensor,
  before: readonly number[],
  value: number,
  shape: readonly number[],
  dtype: DType,
  precision: Precision,
): Tensor {
  const out = allocData(dtype, sizeOf(shape), precision).fill(value);
  const outStrides = stridesOf(shape);
  const base = before.reduce((acc, b, i) => acc + b * outStrides[i]!, 0);
  const dest = gatherOffsets(x.shape, outStrides, base);
  const src = x.data;
  for (let i = 0; i < dest.length; i++) out[dest[i]!] = src[i]!;
  return { shape, data: out };
}

export function concatKernel(xs: readonly Tensor[], axis: number, shape: readonly number[], dtype: DType, precision: Precision): Tensor {
  const out = allocData(dtype, sizeOf(shape), precision);
  const outer = sizeOf(shape.slice(0, axis));
  const outRow = sizeOf(shape.slice(axis));
  let offset = 0;
  for (const x of xs) {
    const row = sizeOf(x.shape.slice(axis));
    for (let o = 0; o < outer; o++) out.set(x.data.subarray(o * row, (o + 1) * row), o * outRow + offset);
    offset += row;
  }
  return { shape, data: out };
}

function checkIndex(i: number, size: number, what: string): number {
  if (i < 0 || i >= size) throw new RangeError(`${what} index ${i} is out of range [0, ${size})`);
  return i;
}

/** out[pre, j, post] = table[pre, index[j], post] */
export function gatherKernel(table: Tensor, index: Tensor, axis: number, shape: readonly number[], dtype: DType, precision: Precision): Tensor {
  const pre = sizeOf(table.shape.slice(0, axis));
  const size = table.shape[axis]!;
  const post = sizeOf(table.shape.slice(axis + 1));
  const m = index.data.length;
  const out = allocData(dtype, pre * m * post, precision);
  for (let p = 0; p < pre; p++) {
    for (let j = 0; j < m; j++) {
      const row = checkIndex(index.data[j]!, size, "gather");
      out.set(table.data.subarray((p * size + row) * post, (p * size + row + 1) * post), (p * m + j) * post);
    }
  }
  return { shape, data: out };
}

/** out = zeros(shape); out[pre, index[j], post] += src[pre, j, post] */
export function scatterAddKernel(src: Tensor, index: Tensor, axis: number, shape: readonly number[], dtype: DType, precision: Precision): Tensor {
  const pre = sizeOf(shape.slice(0, axis));
  const size = shape[axis]!;
  const post = sizeOf(shape.slice(axis + 1));
  const m = index.data.length;
  const acc = new Float64Array(sizeOf(shape));
  for (let p = 0; p < pre; p++) {
    for (let j = 0; j < m; j++) {
      const row = checkIndex(index.data[j]!, size, "scatter_add");
      const s = (p * m + j) * post;
      const d = (p * size + row) * post;
      for (let q = 0; q < post; q++) acc[d + q]! += src.data[s + q]!;
    }
  }
  const out = allocData(dtype, acc.length, precision);
  for (let i = 0; i < acc.length; i++) out[i] = acc[i]!;
  return { shape, data: out };
}

export function iotaKernel(shape: readonly number[], axis: number, dtype: DType, precision: Precision): Tensor {
  const out = allocData(dtype, sizeOf(shape), precision);
  const inner = sizeOf(shape.slice(axis + 1));
  const size = shape[axis]!;
  for (let i = 0; i < out.length; i++) out[i] = Math.floor(i / inner) % size;
  return { shape, data: out };
}

export function randomKernel(
  dist: "uniform" | "normal" | "bernoulli",
  p: number,
  stream: number,
  seed: number,
  shape: readonly number[],
  precision: Precision,
): Tensor {
  const out = allocData("f32", sizeOf(shape), precision);
  for (let i = 0; i < out.length; i++) {
    out[i] =
      dist === "uniform" ? randomUniform(seed, stream, i) : dist === "normal" ? randomNormal(seed, stream, i) : randomBernoulli(seed, stream, i, p);
  }
  return { shape, data: out };
}

export function constKernel(value: readonly number[], shape: readonly number[], dtype: DType, precision: Precision): Tensor {
  const out = allocData(dtype, sizeOf(shape), precision);
  if (value.length === 1) out.fill(value[0]!);
  else out.set(value);
  return { shape, data: out };
}
