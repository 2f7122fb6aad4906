import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { UserError } from "../../cli/errors.ts";
import { encodeNpy, readNpy, writeNpy, type NpyArray } from "../../runtime/io/npy.ts";

const fixture = (name: string) => path.join(import.meta.dirname, "..", "fixtures", "io", name);
const dir = fs.mkdtempSync(path.join(os.tmpdir(), "ivc-npy-"));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

describe(".npy arrays", () => {
  it("reads numpy's own files for every supported dtype", () => {
    const f32 = readNpy(fixture("f32.npy"));
    expect(f32.dtype).toBe("f4");
    expect(f32.shape).toEqual([2, 3]);
    expect([...f32.data]).toEqual([0, 0.25, 0.5, 0.75, 1, 1.25]);
    expect([...readNpy(fixture("f64.npy")).data]).toEqual([1e-300, -2.5]);
    expect([...readNpy(fixture("i32.npy")).data]).toEqual([1, -2, 3, 2 ** 31 - 1]);
    expect([...readNpy(fixture("i64.npy")).data]).toEqual([-(2n ** 40n), 5n]);
    expect([...readNpy(fixture("u8.npy")).data]).toEqual([0, 128, 255]);
    const mask = readNpy(fixture("bool.npy"));
    expect(mask.dtype).toBe("b1");
    expect(mask.shape).toEqual([1, 3]);
    expect([...mask.data]).toEqual([1, 0, 1]);
    const scalar = readNpy(fixture("scalar.npy"));
    expect(scalar.shape).toEqual([]);
    expect([...scalar.data]).toEqual([3.5]);
    expect([...readNpy(fixture("v2.npy")).data]).toEqual([0, 1, 2, 3]);
  });

  it("rejects Fortran order and big-endian data with a fix", () => {
    for (const [name, pattern, help] of [
      ["fortran.npy", /Fortran \(column-major\) order/, /ascontiguousarray/],
      ["bigendian.npy", /big-endian \(>f4\)/, /newbyteorder/],
    ] as const) {
      try {
        readNpy(fixture(name));
        throw new Error("expected a failure");
      } catch (error) {
        expect(error).toBeInstanceOf(UserError);
        expect((error as UserError).message).toContain(name);
        expect((error as UserError).message).toMatch(pattern);
        expect((error as UserError).help).toMatch(help);
      }
    }
  });

  it("round-trips through its own writer with numpy-compatible headers", () => {
    const arrays: NpyArray[] = [
      { dtype: "f4", shape: [2, 1, 2], data: Float32Array.of(1, 2, 3, 4) },
      { dtype: "f8", shape: [1], data: Float64Array.of(Math.PI) },
      { dtype: "i4", shape: [0], data: new Int32Array(0) },
      { dtype: "i8", shape: [2], data: BigInt64Array.of(-1n, 1n << 50n) },
      { dtype: "u1", shape: [2], data: Uint8Array.of(3, 4) },
      { dtype: "b1", shape: [], data: Uint8Array.of(1) },
    ];
    for (const [i, array] of arrays.entries()) {
      const encoded = encodeNpy(array);
      const headerLength = new DataView(encoded.buffer).getUint16(8, true);
      expect((10 + headerLength) % 64).toBe(0);
      const file = path.join(dir, `a${i}.npy`);
      writeNpy(file, array);
      const back = readNpy(file);
      expect(back.dtype).toBe(array.dtype);
      expect(back.shape).toEqual(array.shape);
      expect([...back.data]).toEqual([...array.data]);
    }
    expect(new TextDecoder().decode(encodeNpy(arrays[1]!).subarray(10, 90))).toContain("'shape': (1,)");
  });

  it("reports truncated and foreign files", () => {
    const whole = fs.readFileSync(fixture("f32.npy"));
    const cut = path.join(dir, "cut.npy");
    fs.writeFileSync(cut, whole.subarray(0, whole.byteLength - 3));
    expect(() => readNpy(cut)).toThrow(/cut\.npy: the \.npy data is truncated/);
    const text = path.join(dir, "text.npy");
    fs.writeFileSync(text, "hello world");
    expect(() => readNpy(text)).toThrow(/not a \.npy file/);
    expect(() => readNpy(path.join(dir, "none.npy"))).toThrow(/not found/);
  });
});
