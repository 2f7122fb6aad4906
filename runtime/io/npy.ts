/**
 * NumPy `.npy` arrays: magic "\x93NUMPY", version byte pair, header length (u16 for v1, u32 for
 * v2/v3), a Python dict literal `{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }`,
 * then the elements. Little-endian f32/f64/i32/i64/u8/bool in C order only.
 */
import * as fs from "node:fs";
import { UserError } from "../../cli/errors.ts";
import { writeFileAtomic } from "./atomic.ts";
import { elementCount } from "./dtype.ts";

export type NpyDType = "f4" | "f8" | "i4" | "i8" | "u1" | "b1";

export type NpyArray =
  | { dtype: "f4"; shape: number[]; data: Float32Array }
  | { dtype: "f8"; shape: number[]; data: Float64Array }
  | { dtype: "i4"; shape: number[]; data: Int32Array }
  | { dtype: "i8"; shape: number[]; data: BigInt64Array }
  | { dtype: "u1" | "b1"; shape: number[]; data: Uint8Array };

const MAGIC = Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]);
const ITEM_BYTES: Record<NpyDType, number> = { f4: 4, f8: 8, i4: 4, i8: 8, u1: 1, b1: 1 };

function invalid(file: string, detail: string, help = "write the array with numpy.save (C order, little-endian)"): UserError {
  return new UserError(`${file}: ${detail}`, help);
}

/** Reads the header dict's three fields without evaluating Python. */
function parseHeaderDict(file: string, text: string): { descr: string; fortran: boolean; shape: number[] } {
  const descr = /['"]descr['"]\s*:\s*['"]([^'"]+)['"]/.exec(text)?.[1];
  const fortran = /['"]fortran_order['"]\s*:\s*(True|False)/.exec(text)?.[1];
  const shapeText = /['"]shape['"]\s*:\s*\(([^)]*)\)/.exec(text)?.[1];
  if (descr === undefined || fortran === undefined || shapeText === undefined) {
    throw invalid(file, `the .npy header is not a dict with descr, fortran_order and shape: ${text.trim()}`);
  }
  const shape = shapeText
    .split(",")
    .map((part) => part.trim())
    .filter((part) => part.length > 0)
    .map((part) => {
      const dim = Number(part.replace(/L$/, ""));
      if (!Number.isSafeInteger(dim) || dim < 0) throw invalid(file, `the .npy shape (${shapeText}) has an invalid dimension "${part}"`);
      return dim;
    });
  return { descr, fortran: fortran === "True", shape };
}

function dtypeFromDescr(file: string, descr: string): NpyDType {
  const byteOrder = descr[0];
  const code = descr.slice(1);
  if (byteOrder === ">" && code !== "u1" && code !== "b1") {
    throw invalid(file, `the array is big-endian (${descr}); ivc reads little-endian arrays only`, "convert it with arr.astype(arr.dtype.newbyteorder('<')) and save again");
  }
  if ((byteOrder === "<" || byteOrder === "|" || byteOrder === "=" || byteOrder === ">") && code in ITEM_BYTES) return code as NpyDType;
  throw invalid(file, `unsupported .npy dtype ${descr}`, "supported dtypes: float32, float64, int32, int64, uint8, bool");
}

export function parseNpy(file: string, bytes: Uint8Array): NpyArray {
  const buffer = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (buffer.byteLength < 10 || !buffer.subarray(0, 6).equals(MAGIC)) throw invalid(file, "not a .npy file (the magic string \\x93NUMPY is missing)");
  const major = buffer[6]!;
  let headerLength: number;
  let headerStart: number;
  if (major === 1) {
    headerLength = buffer.readUInt16LE(8);
    headerStart = 10;
  } else if (major === 2 || major === 3) {
    if (buffer.byteLength < 12) throw invalid(file, "the .npy file is truncated inside its header");
    headerLength = buffer.readUInt32LE(8);
    headerStart = 12;
  } else {
    throw invalid(file, `unsupported .npy format version ${major}.${buffer[7]}`);
  }
  const dataStart = headerStart + headerLength;
  if (dataStart > buffer.byteLength) throw invalid(file, "the .npy file is truncated inside its header");
  const header = parseHeaderDict(file, buffer.subarray(headerStart, dataStart).toString(major === 3 ? "utf8" : "latin1"));
  const dtype = dtypeFromDescr(file, header.descr);
  if (header.fortran && header.shape.filter((d) => d > 1).length > 1) {
    throw invalid(file, "the array is stored in Fortran (column-major) order; ivc reads C-order arrays only", "save np.ascontiguousarray(arr) instead");
  }
  const count = elementCount(header.shape);
  const byteLength = count * ITEM_BYTES[dtype];
  if (buffer.byteLength - dataStart < byteLength) {
    throw invalid(file, `the .npy data is truncated: shape (${header.shape.join(", ")}) needs ${byteLength} bytes, the file holds ${buffer.byteLength - dataStart}`);
  }
  const copy = new Uint8Array(byteLength);
  copy.set(buffer.subarray(dataStart, dataStart + byteLength));
  const shape = header.shape;
  switch (dtype) {
    case "f4":
      return { dtype, shape, data: new Float32Array(copy.buffer) };
    case "f8":
      return { dtype, shape, data: new Float64Array(copy.buffer) };
    case "i4":
      return { dtype, shape, data: new Int32Array(copy.buffer) };
    case "i8":
      return { dtype, shape, data: new BigInt64Array(copy.buffer) };
    default:
      return { dtype, shape, data: copy };
  }
}

export function readNpy(file: string): NpyArray {
  let bytes: Buffer;
  try {
    bytes = fs.readFileSync(file);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new UserError(code === "ENOENT" ? `array file not found: ${file}` : `cannot read ${file}: ${(error as Error).message}`);
  }
  return parseNpy(file, bytes);
}

/** Version 1 when the header fits in 64 KiB, else version 2; header padded to 64 bytes as numpy does. */
export function encodeNpy(array: NpyArray): Uint8Array {
  const expected = elementCount(array.shape);
  if (array.data.length !== expected) {
    throw new TypeError(`npy array has ${array.data.length} elements but shape [${array.shape.join(", ")}] needs ${expected}`);
  }
  const byteOrder = array.dtype === "u1" || array.dtype === "b1" ? "|" : "<";
  const shapeText = array.shape.length === 1 ? `(${array.shape[0]},)` : `(${array.shape.join(", ")})`;
  const dict = `{'descr': '${byteOrder}${array.dtype}', 'fortran_order': False, 'shape': ${shapeText}, }`;
  let version = 1;
  let prefixLength = 10;
  let padded = dict + " ".repeat((64 - ((prefixLength + dict.length + 1) % 64)) % 64) + "\n";
  if (padded.length > 0xffff) {
    version = 2;
    prefixLength = 12;
    padded = dict + " ".repeat((64 - ((prefixLength + dict.length + 1) % 64)) % 64) + "\n";
  }
  const out = new Uint8Array(prefixLength + padded.length + array.data.byteLength);
  const view = new DataView(out.buffer);
  out.set(MAGIC, 0);
  out[6] = version;
  out[7] = 0;
  if (version === 1) view.setUint16(8, padded.length, true);
  else view.setUint32(8, padded.length, true);
  out.set(Buffer.from(padded, "latin1"), prefixLength);
  out.set(new Uint8Array(array.data.buffer, array.data.byteOffset, array.data.byteLength), prefixLength + padded.length);
  return out;
}

/** Writes atomically, like checkpoints. */
export function writeNpy(file: string, array: NpyArray): void {
  writeFileAtomic(file, [encodeNpy(array)]);
}
