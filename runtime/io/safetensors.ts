/**
 * The safetensors format: an 8-byte little-endian header length N, N bytes of JSON
 * (`{"__metadata__": {str: str}, name: {dtype, shape, data_offsets: [begin, end]}}`), then the
 * tensor bytes. Offsets are relative to the end of the header and must tile the data section
 * exactly (no gaps, no overlap, nothing past the end), which is what makes the file safe to read.
 *
 * Reading goes through a file descriptor one tensor at a time, so checkpoints larger than memory
 * are fine as long as each tensor fits. Writing is atomic (see atomic.ts).
 */
import * as fs from "node:fs";
import { UserError } from "../../cli/errors.ts";
import { writeFileAtomic } from "./atomic.ts";
import {
  DTYPE_BYTES,
  bytesToFloat32,
  bytesToInt32,
  bytesToRuntimeArray,
  elementCount,
  isDType,
  type DType,
  type LoadedTensor,
} from "./dtype.ts";

/** The upstream reference implementation refuses headers above 100 MB; so do we. */
const MAX_HEADER_BYTES = 100_000_000;

const SAFETENSORS_DTYPES: readonly DType[] = ["F64", "F32", "F16", "BF16", "I64", "I32", "I16", "I8", "U8", "BOOL"];

export interface SafetensorsEntry {
  name: string;
  dtype: DType;
  shape: number[];
  /** Absolute byte range in the file. */
  begin: number;
  end: number;
}

export interface SafetensorsHeader {
  metadata: Record<string, string>;
  /** In file order (ascending offsets). */
  entries: Map<string, SafetensorsEntry>;
  dataStart: number;
}

function corrupt(file: string, detail: string): UserError {
  return new UserError(
    `${file} is not a valid safetensors file: ${detail}`,
    "the file is truncated or damaged; re-download or re-export it (a checkpoint written by ivc is never left half-written, so check the disk or the copy)",
  );
}

function isNonNegativeInteger(value: unknown): value is number {
  return typeof value === "number" && Number.isSafeInteger(value) && value >= 0;
}

/** Parses and validates the header of an open file of `fileSize` bytes. */
function parseHeader(file: string, fd: number, fileSize: number): SafetensorsHeader {
  if (fileSize < 8) throw corrupt(file, `it is ${fileSize} bytes long, shorter than the 8-byte header length`);
  const lengthBytes = Buffer.alloc(8);
  fs.readSync(fd, lengthBytes, 0, 8, 0);
  const headerLength = Number(lengthBytes.readBigUInt64LE(0));
  if (headerLength > MAX_HEADER_BYTES) throw corrupt(file, `header length ${headerLength} exceeds the 100 MB limit`);
  if (8 + headerLength > fileSize) {
    throw corrupt(file, `header length ${headerLength} runs past the end of the ${fileSize}-byte file`);
  }
  const headerBytes = Buffer.alloc(headerLength);
  fs.readSync(fd, headerBytes, 0, headerLength, 8);
  if (headerBytes[0] !== 0x7b) throw corrupt(file, "the header does not start with '{'");
  let json: unknown;
  try {
    json = JSON.parse(headerBytes.toString("utf8"));
  } catch (error) {
    throw corrupt(file, `the header is not valid JSON (${(error as Error).message})`);
  }
  if (typeof json !== "object" || json === null || Array.isArray(json)) throw corrupt(file, "the header is not a JSON object");

  const dataStart = 8 + headerLength;
  const dataLength = fileSize - dataStart;
  const metadata: Record<string, string> = {};
  const entries: SafetensorsEntry[] = [];
  for (const [name, value] of Object.entries(json as Record<string, unknown>)) {
    if (name === "__metadata__") {
      if (typeof value !== "object" || value === null || Array.isArray(value)) throw corrupt(file, "__metadata__ is not an object");
      for (const [key, item] of Object.entries(value as Record<string, unknown>)) {
        if (typeof item !== "string") throw corrupt(file, `metadata value "${key}" is not a string`);
        metadata[key] = item;
      }
      continue;
    }
    const info = value as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    if (typeof info !== "object" || info === null) throw corrupt(file, `entry "${name}" is not an object`);
    if (typeof info.dtype !== "string" || !isDType(info.dtype) || !SAFETENSORS_DTYPES.includes(info.dtype)) {
      throw corrupt(file, `tensor "${name}" has unsupported dtype ${JSON.stringify(info.dtype)} (supported: ${SAFETENSORS_DTYPES.join(", ")})`);
    }
    if (!Array.isArray(info.shape) || !info.shape.every(isNonNegativeInteger)) {
      throw corrupt(file, `tensor "${name}" has an invalid shape ${JSON.stringify(info.shape)}`);
    }
    const offsets = info.data_offsets;
    if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every(isNonNegativeInteger) || offsets[0] > offsets[1]) {
      throw corrupt(file, `tensor "${name}" has invalid data_offsets ${JSON.stringify(offsets)}`);
    }
    const shape = info.shape as number[];
    const [begin, end] = offsets as [number, number];
    const expected = elementCount(shape) * DTYPE_BYTES[info.dtype];
    if (end - begin !== expected) {
      throw corrupt(file, `tensor "${name}" (${info.dtype}[${shape.join(", ")}]) needs ${expected} bytes but its offsets span ${end - begin}`);
    }
    entries.push({ name, dtype: info.dtype, shape, begin: dataStart + begin, end: dataStart + end });
  }

  entries.sort((a, b) => a.begin - b.begin || a.end - b.end);
  let cursor = dataStart;
  for (const entry of entries) {
    if (entry.begin !== cursor) {
      const what = entry.begin < cursor ? "overlaps the previous tensor" : `leaves a gap of ${entry.begin - cursor} bytes before it`;
      throw corrupt(file, `tensor "${entry.name}" ${what}`);
    }
    cursor = entry.end;
  }
  if (cursor - dataStart !== dataLength) {
    throw corrupt(
      file,
      cursor - dataStart > dataLength
        ? `the tensors need ${cursor - dataStart} data bytes but the file holds ${dataLength} (truncated?)`
        : `${dataLength - (cursor - dataStart)} bytes after the last tensor belong to no tensor`,
    );
  }
  return { metadata, entries: new Map(entries.map((e) => [e.name, e])), dataStart };
}

function openForReading(file: string): number {
  try {
    return fs.openSync(file, "r");
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "ENOENT") throw new UserError(`checkpoint file not found: ${file}`, "check the path");
    throw new UserError(`cannot open ${file}: ${(error as Error).message}`);
  }
}

/** Random access to the tensors of a safetensors file; call `close()` when done. */
export class SafetensorsReader {
  readonly header: SafetensorsHeader;
  private fd: number | undefined;

  constructor(readonly file: string) {
    this.fd = openForReading(file);
    try {
      this.header = parseHeader(file, this.fd, fs.fstatSync(this.fd).size);
    } catch (error) {
      this.close();
      throw error;
    }
  }

  get metadata(): Record<string, string> {
    return this.header.metadata;
  }

  names(): string[] {
    return [...this.header.entries.keys()];
  }

  entry(name: string): SafetensorsEntry {
    const entry = this.header.entries.get(name);
    if (!entry) throw new UserError(`${this.file} has no tensor named "${name}"`);
    return entry;
  }

  /** The stored bytes of one tensor, little-endian, in a buffer of its own. */
  readBytes(name: string): Uint8Array {
    if (this.fd === undefined) throw new Error(`SafetensorsReader for ${this.file} is closed`);
    const entry = this.entry(name);
    const bytes = new Uint8Array(entry.end - entry.begin);
    let read = 0;
    while (read < bytes.byteLength) {
      const n = fs.readSync(this.fd, bytes, read, bytes.byteLength - read, entry.begin + read);
      if (n === 0) throw corrupt(this.file, `the file ended while reading tensor "${name}"`);
      read += n;
    }
    return bytes;
  }

  readFloat32(name: string): Float32Array {
    return bytesToFloat32(this.readBytes(name), this.entry(name).dtype);
  }

  readInt32(name: string): Int32Array {
    const entry = this.entry(name);
    try {
      return bytesToInt32(this.readBytes(name), entry.dtype, `tensor "${name}"`);
    } catch (error) {
      throw new UserError(`${this.file}: ${(error as Error).message}`);
    }
  }

  /** Float types as f32, integer and boolean types as i32. */
  read(name: string): LoadedTensor {
    const entry = this.entry(name);
    if (entry.dtype === "F32" || entry.dtype === "I32") {
      // readBytes returns a buffer of its own: view it instead of copying (checkpoints can be large).
      const { buffer } = this.readBytes(name);
      return { shape: [...entry.shape], dtype: entry.dtype, data: entry.dtype === "F32" ? new Float32Array(buffer) : new Int32Array(buffer) };
    }
    try {
      return { shape: [...entry.shape], dtype: entry.dtype, data: bytesToRuntimeArray(this.readBytes(name), entry.dtype, `tensor "${name}"`) };
    } catch (error) {
      if (error instanceof UserError) throw error;
      throw new UserError(`${this.file}: ${(error as Error).message}`);
    }
  }

  close(): void {
    if (this.fd !== undefined) fs.closeSync(this.fd);
    this.fd = undefined;
  }
}

/** Reads every tensor (float types as f32, the rest as i32) and the metadata. */
export function readSafetensors(file: string): { metadata: Record<string, string>; tensors: Map<string, LoadedTensor> } {
  const reader = new SafetensorsReader(file);
  try {
    const tensors = new Map<string, LoadedTensor>();
    for (const name of reader.names()) tensors.set(name, reader.read(name));
    return { metadata: { ...reader.metadata }, tensors };
  } finally {
    reader.close();
  }
}

/** True when the first bytes look like a safetensors header (used to dispatch on format). */
export function looksLikeSafetensors(head: Uint8Array, fileSize: number): boolean {
  if (head.byteLength < 9) return false;
  const view = new DataView(head.buffer, head.byteOffset, head.byteLength);
  const headerLength = view.getBigUint64(0, true);
  return headerLength > 1n && headerLength <= BigInt(Math.min(MAX_HEADER_BYTES, fileSize - 8)) && head[8] === 0x7b;
}

/** A tensor to store. F16/BF16 take their raw bit patterns as Uint16Array. */
export type TensorToWrite =
  | { dtype: "F32"; shape: readonly number[]; data: Float32Array }
  | { dtype: "F64"; shape: readonly number[]; data: Float64Array }
  | { dtype: "F16" | "BF16"; shape: readonly number[]; data: Uint16Array }
  | { dtype: "I64"; shape: readonly number[]; data: BigInt64Array }
  | { dtype: "I32"; shape: readonly number[]; data: Int32Array }
  | { dtype: "U8" | "BOOL"; shape: readonly number[]; data: Uint8Array };

/**
 * Writes `tensors` (in iteration order) and string `metadata` (e.g. step, stage, optimizer
 * settings) to `file`, atomically: an interrupted write leaves the previous file intact.
 */
export function writeSafetensors(
  file: string,
  tensors: ReadonlyMap<string, TensorToWrite> | Readonly<Record<string, TensorToWrite>>,
  metadata: Readonly<Record<string, string>> = {},
): void {
  const list = tensors instanceof Map ? [...tensors.entries()] : Object.entries(tensors as Record<string, TensorToWrite>);
  const header: Record<string, unknown> = {};
  if (Object.keys(metadata).length > 0) {
    for (const [key, value] of Object.entries(metadata)) {
      if (typeof value !== "string") throw new TypeError(`safetensors metadata "${key}" must be a string, got ${typeof value}`);
    }
    header.__metadata__ = metadata;
  }
  let offset = 0;
  for (const [name, tensor] of list) {
    if (name === "__metadata__") throw new TypeError('"__metadata__" is reserved and cannot name a tensor');
    const expected = elementCount(tensor.shape);
    if (tensor.data.length !== expected) {
      throw new TypeError(`tensor "${name}" has ${tensor.data.length} elements but shape [${tensor.shape.join(", ")}] needs ${expected}`);
    }
    header[name] = { dtype: tensor.dtype, shape: [...tensor.shape], data_offsets: [offset, offset + tensor.data.byteLength] };
    offset += tensor.data.byteLength;
  }
  // Pad the header with spaces so the data section starts 8-byte aligned, as the reference writer does.
  let json = JSON.stringify(header);
  json += " ".repeat((8 - ((8 + Buffer.byteLength(json)) % 8)) % 8);
  const headerBytes = Buffer.from(json, "utf8");
  const lengthBytes = Buffer.alloc(8);
  lengthBytes.writeBigUInt64LE(BigInt(headerBytes.byteLength));
  writeFileAtomic(file, [
    lengthBytes,
    headerBytes,
    ...list.map(([, tensor]) => new Uint8Array(tensor.data.buffer, tensor.data.byteOffset, tensor.data.byteLength)),
  ]);
}
