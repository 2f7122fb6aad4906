import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { UserError } from "../../cli/errors.ts";
import { SafetensorsReader, readSafetensors, writeSafetensors } from "../../runtime/io/safetensors.ts";

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "ivc-st-"));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
const fixture = (name: string) => path.join(import.meta.dirname, "..", "fixtures", "io", name);

/** Writes a file by hand: header JSON + data bytes, for malformed-input tests. */
function handMade(name: string, header: unknown, data: Uint8Array, headerLength?: bigint): string {
  const json = Buffer.from(typeof header === "string" ? header : JSON.stringify(header));
  const length = Buffer.alloc(8);
  length.writeBigUInt64LE(headerLength ?? BigInt(json.byteLength));
  const file = path.join(dir, name);
  fs.writeFileSync(file, Buffer.concat([length, json, data]));
  return file;
}

function errorOf(action: () => unknown): UserError {
  try {
    action();
  } catch (error) {
    expect(error).toBeInstanceOf(UserError);
    return error as UserError;
  }
  throw new Error("expected a UserError");
}

describe("safetensors", () => {
  it("round-trips every dtype with metadata", () => {
    const file = path.join(dir, "all.safetensors");
    writeSafetensors(
      file,
      new Map([
        ["f32", { dtype: "F32", shape: [2, 2], data: Float32Array.of(1.5, -2, 3, 1e-8) }],
        ["f64", { dtype: "F64", shape: [1], data: Float64Array.of(0.1) }],
        ["f16", { dtype: "F16", shape: [2], data: Uint16Array.of(0x3c00, 0xc000) }],
        ["bf16", { dtype: "BF16", shape: [1], data: Uint16Array.of(0x3fc0) }],
        ["i64", { dtype: "I64", shape: [2], data: BigInt64Array.of(-5n, 7n) }],
        ["i32", { dtype: "I32", shape: [3], data: Int32Array.of(1, -2, 3) }],
        ["u8", { dtype: "U8", shape: [1], data: Uint8Array.of(200) }],
        ["mask", { dtype: "BOOL", shape: [2], data: Uint8Array.of(1, 0) }],
        ["empty", { dtype: "F32", shape: [0, 4], data: new Float32Array(0) }],
      ] as const),
      { step: "42", stage: "interaction", optimizer: '{"name":"adamw","lr":0.001}' },
    );
    const bytes = fs.readFileSync(file);
    expect((8 + Number(bytes.readBigUInt64LE(0))) % 8).toBe(0);
    const { metadata, tensors } = readSafetensors(file);
    expect(metadata).toEqual({ step: "42", stage: "interaction", optimizer: '{"name":"adamw","lr":0.001}' });
    expect([...tensors.get("f32")!.data]).toEqual([1.5, -2, 3, Math.fround(1e-8)]);
    expect(tensors.get("f32")!.shape).toEqual([2, 2]);
    expect(tensors.get("f64")!.data[0]).toBe(Math.fround(0.1));
    expect([...tensors.get("f16")!.data]).toEqual([1, -2]);
    expect([...tensors.get("bf16")!.data]).toEqual([1.5]);
    expect(tensors.get("i64")!.data).toBeInstanceOf(Int32Array);
    expect([...tensors.get("i64")!.data]).toEqual([-5, 7]);
    expect([...tensors.get("u8")!.data]).toEqual([200]);
    expect([...tensors.get("mask")!.data]).toEqual([1, 0]);
    expect(tensors.get("empty")!.shape).toEqual([0, 4]);

    const reader = new SafetensorsReader(file);
    expect(reader.readInt32("i32")).toEqual(Int32Array.of(1, -2, 3));
    expect(reader.readFloat32("i32")).toEqual(Float32Array.of(1, -2, 3));
    expect(() => reader.readInt32("f32")).toThrow(/float type F32/);
    reader.close();
  });

  it("reads a file written by another implementation", () => {
    const { metadata, tensors } = readSafetensors(fixture("external.safetensors"));
    expect(metadata).toEqual({ step: "12", stage: "interaction" });
    expect([...tensors.get("w")!.data]).toEqual([0, 1, 2, 3, 4, 5]);
    expect([...tensors.get("h")!.data]).toEqual([0.5, -1]);
    expect([...tensors.get("b")!.data]).toEqual([1.5, -2]);
    expect([...tensors.get("ids")!.data]).toEqual([1, -2, 3]);
    expect(tensors.get("mask")!.dtype).toBe("BOOL");
  });

  it("rejects malformed headers with a message naming the file and the problem", () => {
    const eight = new Uint8Array(8);
    const entry = (dtype: string, shape: number[], offsets: number[]) => ({ dtype, shape, data_offsets: offsets });
    const cases: [string, string, RegExp][] = [
      [handMade("huge.safetensors", {}, eight, 1n << 40n), "huge", /exceeds the 100 MB limit/],
      [handMade("past.safetensors", { a: entry("F32", [1], [0, 4]) }, eight, 500n), "past", /runs past the end/],
      [handMade("json.safetensors", '{"a": ', eight), "json", /not valid JSON/],
      [handMade("dtype.safetensors", { a: entry("F8_E4M3", [8], [0, 8]) }, eight), "dtype", /unsupported dtype "F8_E4M3"/],
      [handMade("size.safetensors", { a: entry("F32", [3], [0, 8]) }, eight), "size", /needs 12 bytes but its offsets span 8/],
      [handMade("gap.safetensors", { a: entry("F32", [1], [4, 8]) }, eight), "gap", /leaves a gap of 4 bytes/],
      [handMade("overlap.safetensors", { a: entry("F32", [2], [0, 8]), b: entry("F32", [1], [4, 8]) }, eight), "overlap", /overlaps/],
      [handMade("trailing.safetensors", { a: entry("F32", [1], [0, 4]) }, eight), "trailing", /4 bytes after the last tensor/],
      [handMade("truncated.safetensors", { a: entry("F32", [4], [0, 16]) }, eight), "truncated", /need 16 data bytes but the file holds 8/],
      [handMade("shape.safetensors", { a: entry("F32", [-1], [0, 4]) }, eight), "shape", /invalid shape/],
      [handMade("meta.safetensors", { __metadata__: { step: 3 } }, new Uint8Array(0)), "meta", /metadata value "step" is not a string/],
    ];
    for (const [file, , pattern] of cases) {
      const error = errorOf(() => readSafetensors(file));
      expect(error.message).toContain(file);
      expect(error.message).toMatch(pattern);
      expect(error.help).toBeTruthy();
    }
    fs.writeFileSync(path.join(dir, "tiny.safetensors"), "abc");
    expect(errorOf(() => readSafetensors(path.join(dir, "tiny.safetensors"))).message).toMatch(/shorter than the 8-byte header length/);
    expect(errorOf(() => readSafetensors(path.join(dir, "absent.safetensors"))).message).toMatch(/not found/);
  });

  it("detects truncation of a file it wrote", () => {
    const file = path.join(dir, "cut.safetensors");
    writeSafetensors(file, { a: { dtype: "F32", shape: [100], data: new Float32Array(100) } });
    fs.truncateSync(file, fs.statSync(file).size - 1);
    expect(errorOf(() => readSafetensors(file)).message).toMatch(/truncated/);
  });

  it("refuses to write inconsistent tensors", () => {
    const file = path.join(dir, "bad.safetensors");
    expect(() => writeSafetensors(file, { a: { dtype: "F32", shape: [3], data: new Float32Array(2) } })).toThrow(/needs 3/);
    expect(fs.existsSync(file)).toBe(false);
  });
});
