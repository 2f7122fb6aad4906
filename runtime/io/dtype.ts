/**
 * Element types found in checkpoint files and their conversion to the two array types the runtime
 * computes with: every float type becomes Float32Array, every integer or boolean type Int32Array.
 * All on-disk formats handled here are little-endian; big-endian hosts are not supported.
 */
import { endianness } from "node:os";

export type DType = "F64" | "F32" | "F16" | "BF16" | "I64" | "I32" | "I16" | "I8" | "U8" | "BOOL";

export const DTYPE_BYTES: Readonly<Record<DType, number>> = {
  F64: 8,
  F32: 4,
  F16: 2,
  BF16: 2,
  I64: 8,
  I32: 4,
  I16: 2,
  I8: 1,
  U8: 1,
  BOOL: 1,
};

export function isDType(name: string): name is DType {
  return Object.hasOwn(DTYPE_BYTES, name);
}

export function isFloatDType(dtype: DType): boolean {
  return dtype === "F64" || dtype === "F32" || dtype === "F16" || dtype === "BF16";
}

/** A tensor as the runtime consumes it: floats widened or narrowed to f32, integers to i32. */
export interface LoadedTensor {
  shape: number[];
  /** The element type stored in the file, before conversion. */
  dtype: DType;
  data: Float32Array | Int32Array;
}

if (endianness() !== "LE") {
  throw new Error("ivc reads checkpoint files on little-endian machines only");
}

export function elementCount(shape: readonly number[]): number {
  let count = 1;
  for (const dim of shape) count *= dim;
  return count;
}

/**
 * Copies `bytes` into a fresh, aligned buffer (the source may sit at any offset of a larger one,
 * or be shared with other tensors of the same storage, so it is never reused).
 */
function alignedCopy(bytes: Uint8Array): ArrayBuffer {
  const copy = new Uint8Array(bytes.byteLength);
  copy.set(bytes);
  return copy.buffer;
}

const f16Scratch = new Float32Array(1);
const f16ScratchBits = new Uint32Array(f16Scratch.buffer);

export function float16BitsToFloat32(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exponent = (bits >> 10) & 0x1f;
  const mantissa = bits & 0x3ff;
  if (exponent === 0) return sign * mantissa * 2 ** -24;
  if (exponent === 0x1f) return mantissa ? NaN : sign * Infinity;
  f16ScratchBits[0] = ((bits & 0x8000) << 16) | ((exponent + 112) << 23) | (mantissa << 13);
  return f16Scratch[0]!;
}

/** Converts raw little-endian element bytes to f32. Integer sources convert exactly up to 2^24. */
export function bytesToFloat32(bytes: Uint8Array, dtype: DType): Float32Array {
  switch (dtype) {
    case "F32":
      return new Float32Array(alignedCopy(bytes));
    case "F64":
      return Float32Array.from(new Float64Array(alignedCopy(bytes)));
    case "F16": {
      const halves = new Uint16Array(alignedCopy(bytes));
      const out = new Float32Array(halves.length);
      for (let i = 0; i < halves.length; i++) out[i] = float16BitsToFloat32(halves[i]!);
      return out;
    }
    case "BF16": {
      const halves = new Uint16Array(alignedCopy(bytes));
      const widened = new Uint32Array(halves.length);
      for (let i = 0; i < halves.length; i++) widened[i] = halves[i]! << 16;
      return new Float32Array(widened.buffer);
    }
    default:
      return Float32Array.from(bytesToInt32(bytes, dtype, "tensor"));
  }
}

/**
 * Converts raw little-endian integer or boolean bytes to i32. `what` names the tensor in the error
 * raised when an i64 value does not fit.
 */
export function bytesToInt32(bytes: Uint8Array, dtype: DType, what: string): Int32Array {
  switch (dtype) {
    case "I32":
      return new Int32Array(alignedCopy(bytes));
    case "I16":
      return Int32Array.from(new Int16Array(alignedCopy(bytes)));
    case "I8":
      return Int32Array.from(new Int8Array(alignedCopy(bytes)));
    case "U8":
    case "BOOL":
      return Int32Array.from(bytes);
    case "I64": {
      const wide = new BigInt64Array(alignedCopy(bytes));
      const out = new Int32Array(wide.length);
      for (let i = 0; i < wide.length; i++) {
        const value = wide[i]!;
        if (value > 2147483647n || value < -2147483648n) {
          throw new RangeError(`${what} holds the int64 value ${value}, which does not fit in int32`);
        }
        out[i] = Number(value);
      }
      return out;
    }
    default:
      throw new TypeError(`${what} has float type ${dtype}; it cannot be read as integers`);
  }
}

/** The runtime's array for a stored tensor: f32 for float types, i32 otherwise. */
export function bytesToRuntimeArray(bytes: Uint8Array, dtype: DType, what: string): Float32Array | Int32Array {
  return isFloatDType(dtype) ? bytesToFloat32(bytes, dtype) : bytesToInt32(bytes, dtype, what);
}
