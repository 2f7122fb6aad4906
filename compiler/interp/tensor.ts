/** Dense row-major tensors for the reference interpreter, and the index helpers its kernels share. */
import type { DType } from "../ir/types.ts";

export type TensorData = Float32Array | Float64Array | Int32Array | Uint8Array;
export type Precision = "f32" | "f64";

export interface Tensor {
  readonly shape: readonly number[];
  readonly data: TensorData;
}

/** f32 values live in Float32Array in f32 mode (every store rounds like the GPU) or Float64Array in f64 mode. */
export function allocData(dtype: DType, n: number, precision: Precision): TensorData {
  if (dtype === "i32") return new Int32Array(n);
  if (dtype === "bool") return new Uint8Array(n);
  return precision === "f32" ? new Float32Array(n) : new Float64Array(n);
}

export function sizeOf(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

export function stridesOf(shape: readonly number[]): number[] {
  const s = new Array<number>(shape.length);
  let acc = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    s[i] = acc;
    acc *= shape[i]!;
  }
  return s;
}

/**
 * For each element of `out` (row-major), the offset of the element of a right-aligned broadcast
 * input of shape `inp`; undefined when the shapes are equal and the offset is the index itself.
 */
export function broadcastOffsets(out: readonly number[], inp: readonly number[]): Int32Array | undefined {
  if (out.length === inp.length && out.every((d, i) => d === inp[i])) return undefined;
  const rank = out.length;
  const off = rank - inp.length;
  const inStrides = stridesOf(inp);
  const strides = out.map((_, i) => (i < off || inp[i - off] === 1 ? 0 : inStrides[i - off]!));
  return gatherOffsets(out, strides, 0);
}

/** Offsets `base + sum(idx[i] * strides[i])` for every index of `shape`, in row-major order. */
export function gatherOffsets(shape: readonly number[], strides: readonly number[], base: number): Int32Array {
  const n = sizeOf(shape);
  const result = new Int32Array(n);
  const rank = shape.length;
  if (n === 0) return result;
  const idx = new Array<number>(rank).fill(0);
  let offset = base;
  for (let i = 0; i < n; i++) {
    result[i] = offset;
    for (let a = rank - 1; a >= 0; a--) {
      idx[a]!++;
      offset += strides[a]!;
      if (idx[a]! < shape[a]!) break;
      offset -= strides[a]! * shape[a]!;
      idx[a] = 0;
    }
  }
  return result;
}
