import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import * as zlib from "node:zlib";
import { afterAll, describe, expect, it } from "vitest";
import { ZipFormatError, ZipReader } from "../../runtime/io/zip.ts";

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "ivc-zip-"));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

/**
 * A one-entry stored archive in the zip64 layout torch uses for files over 4 GiB: 0xffffffff
 * placeholders in the 32-bit fields, the real values in zip64 extra fields and records.
 */
function zip64Archive(name: string, content: Buffer, method = 0): Buffer {
  const nameBytes = Buffer.from(name);
  const stored = method === 8 ? zlib.deflateRawSync(content) : content;
  const crc = zlib.crc32(content);
  const local = Buffer.alloc(30);
  local.writeUInt32LE(0x04034b50, 0);
  local.writeUInt16LE(45, 4);
  local.writeUInt16LE(method, 8);
  local.writeUInt32LE(crc, 14);
  local.writeUInt32LE(0xffffffff, 18);
  local.writeUInt32LE(0xffffffff, 22);
  local.writeUInt16LE(nameBytes.byteLength, 26);
  local.writeUInt16LE(0, 28);
  const centralExtra = Buffer.alloc(4 + 24);
  centralExtra.writeUInt16LE(1, 0);
  centralExtra.writeUInt16LE(24, 2);
  centralExtra.writeBigUInt64LE(BigInt(content.byteLength), 4);
  centralExtra.writeBigUInt64LE(BigInt(stored.byteLength), 12);
  centralExtra.writeBigUInt64LE(0n, 20);
  const central = Buffer.alloc(46);
  central.writeUInt32LE(0x02014b50, 0);
  central.writeUInt16LE(method, 10);
  central.writeUInt32LE(crc, 16);
  central.writeUInt32LE(0xffffffff, 20);
  central.writeUInt32LE(0xffffffff, 24);
  central.writeUInt16LE(nameBytes.byteLength, 28);
  central.writeUInt16LE(centralExtra.byteLength, 30);
  central.writeUInt32LE(0xffffffff, 42);
  const centralStart = local.byteLength + nameBytes.byteLength + stored.byteLength;
  const centralSize = central.byteLength + nameBytes.byteLength + centralExtra.byteLength;
  const record = Buffer.alloc(56);
  record.writeUInt32LE(0x06064b50, 0);
  record.writeBigUInt64LE(44n, 4);
  record.writeBigUInt64LE(1n, 24);
  record.writeBigUInt64LE(1n, 32);
  record.writeBigUInt64LE(BigInt(centralSize), 40);
  record.writeBigUInt64LE(BigInt(centralStart), 48);
  const locator = Buffer.alloc(20);
  locator.writeUInt32LE(0x07064b50, 0);
  locator.writeBigUInt64LE(BigInt(centralStart + centralSize), 8);
  locator.writeUInt32LE(1, 16);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(0xffff, 8);
  end.writeUInt16LE(0xffff, 10);
  end.writeUInt32LE(0xffffffff, 12);
  end.writeUInt32LE(0xffffffff, 16);
  return Buffer.concat([local, nameBytes, stored, central, nameBytes, centralExtra, record, locator, end]);
}

describe("zip reader", () => {
  it.each([0, 8])("reads zip64 archives (method %i)", (method) => {
    const file = path.join(dir, `zip64-${method}.zip`);
    const content = Buffer.from("weights ".repeat(100));
    fs.writeFileSync(file, zip64Archive("archive/data/0", content, method));
    const zip = new ZipReader(file);
    expect(zip.names()).toEqual(["archive/data/0"]);
    expect(zip.read("archive/data/0").equals(content)).toBe(true);
    expect(() => zip.read("archive/data/1")).toThrow(/no entry "archive\/data\/1"/);
    zip.close();
  });

  it("rejects unknown compression methods and files that are not zips", () => {
    const file = path.join(dir, "bzip2.zip");
    fs.writeFileSync(file, zip64Archive("x", Buffer.from("abc"), 12));
    const zip = new ZipReader(file);
    expect(() => zip.read("x")).toThrow(/compression method 12/);
    zip.close();
    const text = path.join(dir, "text.zip");
    fs.writeFileSync(text, "plain text, no archive here");
    expect(() => new ZipReader(text)).toThrow(ZipFormatError);
  });
});
