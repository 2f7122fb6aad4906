/**
 * A read-only zip archive reader sufficient for PyTorch checkpoints: central directory (with
 * zip64 records, which torch writes for large files), stored and deflated entries, CRC-32 checks.
 * Entries are read through the file descriptor on demand, so only what is asked for is loaded.
 */
import * as fs from "node:fs";
import * as zlib from "node:zlib";

export interface ZipEntry {
  name: string;
  method: number;
  compressedSize: number;
  size: number;
  crc32: number;
  localHeaderOffset: number;
}

export class ZipFormatError extends Error {}

const EOCD_SIGNATURE = 0x06054b50;
const ZIP64_LOCATOR_SIGNATURE = 0x07064b50;
const ZIP64_EOCD_SIGNATURE = 0x06064b50;
const CENTRAL_SIGNATURE = 0x02014b50;
const LOCAL_SIGNATURE = 0x04034b50;

export class ZipReader {
  readonly entries: Map<string, ZipEntry>;
  private fd: number | undefined;
  private readonly size: number;

  constructor(readonly file: string) {
    this.fd = fs.openSync(file, "r");
    try {
      this.size = fs.fstatSync(this.fd).size;
      this.entries = this.readCentralDirectory();
    } catch (error) {
      this.close();
      throw error;
    }
  }

  private readAt(position: number, length: number): Buffer {
    if (this.fd === undefined) throw new Error(`ZipReader for ${this.file} is closed`);
    if (position < 0 || position + length > this.size) {
      throw new ZipFormatError(`a record at byte ${position} (${length} bytes) lies outside the ${this.size}-byte file (truncated?)`);
    }
    const buffer = Buffer.alloc(length);
    let read = 0;
    while (read < length) {
      const n = fs.readSync(this.fd, buffer, read, length - read, position + read);
      if (n === 0) throw new ZipFormatError(`the file ended at byte ${position + read}`);
      read += n;
    }
    return buffer;
  }

  private readCentralDirectory(): Map<string, ZipEntry> {
    const tailLength = Math.min(this.size, 22 + 0xffff);
    const tail = this.readAt(this.size - tailLength, tailLength);
    let eocd = -1;
    for (let i = tailLength - 22; i >= 0; i--) {
      if (tail.readUInt32LE(i) === EOCD_SIGNATURE) {
        eocd = i;
        break;
      }
    }
    if (eocd < 0) throw new ZipFormatError("no end-of-central-directory record (the archive is truncated or not a zip file)");
    let count = tail.readUInt16LE(eocd + 10);
    let directorySize = tail.readUInt32LE(eocd + 12);
    let directoryOffset = tail.readUInt32LE(eocd + 16);
    const locatorAt = eocd - 20;
    if (locatorAt >= 0 && tail.readUInt32LE(locatorAt) === ZIP64_LOCATOR_SIGNATURE) {
      const zip64At = Number(tail.readBigUInt64LE(locatorAt + 8));
      const record = this.readAt(zip64At, 56);
      if (record.readUInt32LE(0) !== ZIP64_EOCD_SIGNATURE) throw new ZipFormatError("the zip64 end-of-central-directory record is damaged");
      count = Number(record.readBigUInt64LE(32));
      directorySize = Number(record.readBigUInt64LE(40));
      directoryOffset = Number(record.readBigUInt64LE(48));
    }
    const directory = this.readAt(directoryOffset, directorySize);
    const entries = new Map<string, ZipEntry>();
    let at = 0;
    for (let index = 0; index < count; index++) {
      if (at + 46 > directory.byteLength || directory.readUInt32LE(at) !== CENTRAL_SIGNATURE) {
        throw new ZipFormatError(`central directory entry ${index} is damaged`);
      }
      const nameLength = directory.readUInt16LE(at + 28);
      const extraLength = directory.readUInt16LE(at + 30);
      const commentLength = directory.readUInt16LE(at + 32);
      const entry: ZipEntry = {
        name: directory.toString("utf8", at + 46, at + 46 + nameLength),
        method: directory.readUInt16LE(at + 10),
        crc32: directory.readUInt32LE(at + 16),
        compressedSize: directory.readUInt32LE(at + 20),
        size: directory.readUInt32LE(at + 24),
        localHeaderOffset: directory.readUInt32LE(at + 42),
      };
      applyZip64Extra(entry, directory.subarray(at + 46 + nameLength, at + 46 + nameLength + extraLength));
      entries.set(entry.name, entry);
      at += 46 + nameLength + extraLength + commentLength;
    }
    return entries;
  }

  names(): string[] {
    return [...this.entries.keys()];
  }

  /** The uncompressed bytes of `name`, CRC-checked. */
  read(name: string): Buffer {
    const entry = this.entries.get(name);
    if (!entry) throw new ZipFormatError(`the archive has no entry "${name}"`);
    const local = this.readAt(entry.localHeaderOffset, 30);
    if (local.readUInt32LE(0) !== LOCAL_SIGNATURE) throw new ZipFormatError(`the local header of "${name}" is damaged`);
    const dataStart = entry.localHeaderOffset + 30 + local.readUInt16LE(26) + local.readUInt16LE(28);
    const raw = this.readAt(dataStart, entry.compressedSize);
    let data: Buffer;
    if (entry.method === 0) data = raw;
    else if (entry.method === 8) {
      try {
        data = zlib.inflateRawSync(raw);
      } catch (error) {
        throw new ZipFormatError(`entry "${name}" does not inflate: ${(error as Error).message}`);
      }
    } else throw new ZipFormatError(`entry "${name}" uses compression method ${entry.method}; only stored (0) and deflate (8) are supported`);
    if (data.byteLength !== entry.size) throw new ZipFormatError(`entry "${name}" is ${data.byteLength} bytes, the directory says ${entry.size}`);
    // zlib.crc32 arrived in Node 20.15; older 20.x releases skip the check rather than fail.
    if (typeof zlib.crc32 === "function" && zlib.crc32(data) >>> 0 !== entry.crc32 >>> 0) throw new ZipFormatError(`entry "${name}" fails its CRC-32 check (the file is corrupt)`);
    return data;
  }

  close(): void {
    if (this.fd !== undefined) fs.closeSync(this.fd);
    this.fd = undefined;
  }
}

/** Replaces 0xffffffff placeholders with the 64-bit values of the zip64 extra field (id 1). */
function applyZip64Extra(entry: ZipEntry, extra: Buffer): void {
  let at = 0;
  while (at + 4 <= extra.byteLength) {
    const id = extra.readUInt16LE(at);
    const length = extra.readUInt16LE(at + 2);
    if (id === 1) {
      let field = at + 4;
      const next = (): number => {
        const value = Number(extra.readBigUInt64LE(field));
        field += 8;
        return value;
      };
      if (entry.size === 0xffffffff) entry.size = next();
      if (entry.compressedSize === 0xffffffff) entry.compressedSize = next();
      if (entry.localHeaderOffset === 0xffffffff) entry.localHeaderOffset = next();
      return;
    }
    at += 4 + length;
  }
}
