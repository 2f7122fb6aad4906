import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { UserError } from "../../cli/errors.ts";
import { detectCheckpointFormat, loadCheckpoint, readCheckpoint } from "../../runtime/io/checkpoint.ts";
import { writeSafetensors } from "../../runtime/io/safetensors.ts";

const fixtures = path.join(import.meta.dirname, "..", "fixtures", "io");
const fixture = (name: string) => path.join(fixtures, name);
const dir = fs.mkdtempSync(path.join(os.tmpdir(), "ivc-pth-"));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

interface Expected {
  shape: number[];
  dtype: string;
  values: number[];
}
const expected = JSON.parse(fs.readFileSync(fixture("expected.json"), "utf8")) as Record<string, Record<string, Expected>>;
const DTYPE_NAMES: Record<string, string> = {
  float32: "F32", float16: "F16", bfloat16: "BF16", float64: "F64", int64: "I64", int32: "I32", bool: "BOOL", uint8: "U8",
};

function userError(action: () => unknown): UserError {
  try {
    action();
  } catch (error) {
    expect(error).toBeInstanceOf(UserError);
    return error as UserError;
  }
  throw new Error("expected a UserError");
}

describe("PyTorch checkpoints", () => {
  it.each(Object.keys(expected))("%s loads the tensors torch saved, bit for bit", (name) => {
    const tensors = loadCheckpoint(fixture(name));
    expect([...tensors.keys()]).toEqual(Object.keys(expected[name]!));
    for (const [key, want] of Object.entries(expected[name]!)) {
      const got = tensors.get(key)!;
      expect(got.shape, key).toEqual(want.shape);
      expect(got.dtype, key).toBe(DTYPE_NAMES[want.dtype]);
      const isFloat = want.dtype.startsWith("float") || want.dtype === "bfloat16";
      expect(got.data, key).toBeInstanceOf(isFloat ? Float32Array : Int32Array);
      expect([...got.data], key).toEqual(want.values.map((v) => (isFloat ? Math.fround(v) : v)));
    }
  });

  it("unwraps training checkpoints and ignores their non-tensor entries", () => {
    const wrapped = readCheckpoint(fixture("wrapped.pyth"));
    expect(wrapped.wrapperPath).toEqual(["model_state"]);
    expect(wrapped.format).toBe("torch-zip");
    expect(wrapped.tensors.has("1.num_batches_tracked")).toBe(false);
    expect(readCheckpoint(fixture("videomae_style.pth")).wrapperPath).toEqual(["model"]);
    expect(readCheckpoint(fixture("state_dict_wrapped.ckpt")).wrapperPath).toEqual(["state_dict"]);
    expect(readCheckpoint(fixture("legacy.pth")).format).toBe("torch-legacy");
  });

  it("refuses a pickle that calls a function, naming it, without running it", () => {
    const error = userError(() => loadCheckpoint(fixture("malicious.pth")));
    expect(error.message).toBe(
      `refusing to load ${fixture("malicious.pth")}: the checkpoint calls \`posix.system\`; ivc loads plain tensor state dicts only`,
    );
    expect(error.help).toMatch(/state_dict/);
  });

  it("reports truncated and corrupted archives with the file name", () => {
    const whole = fs.readFileSync(fixture("flat.pth"));
    const truncated = path.join(dir, "truncated.pth");
    fs.writeFileSync(truncated, whole.subarray(0, Math.floor(whole.byteLength * 0.6)));
    const cut = userError(() => loadCheckpoint(truncated));
    expect(cut.message).toContain(truncated);
    expect(cut.message).toMatch(/end-of-central-directory/);

    // Flip one byte inside the first storage: the zip's CRC-32 catches it.
    const flipped = Buffer.from(whole);
    const storageName = Buffer.from("flat/data/0");
    const at = flipped.indexOf(storageName) + storageName.byteLength + 70;
    flipped[at] = flipped[at]! ^ 0xff;
    const corrupt = path.join(dir, "corrupt.pth");
    fs.writeFileSync(corrupt, flipped);
    expect(userError(() => loadCheckpoint(corrupt)).message).toMatch(/corrupt\.pth.*CRC-32/);
  });

  it("explains files that are not checkpoints", () => {
    const text = path.join(dir, "notes.pth");
    fs.writeFileSync(text, "this is not a checkpoint\n");
    const error = userError(() => loadCheckpoint(text));
    expect(error.message).toMatch(/notes\.pth is not a checkpoint ivc can read/);
    expect(error.help).toMatch(/safetensors/);
    const empty = path.join(dir, "empty.pth");
    fs.writeFileSync(empty, "");
    expect(userError(() => loadCheckpoint(empty)).message).toMatch(/the file is empty/);
    expect(userError(() => loadCheckpoint(path.join(dir, "missing.pth"))).message).toMatch(/not found/);
    expect(userError(() => loadCheckpoint(dir)).message).toMatch(/is a directory/);
  });

  it("dispatches safetensors files through the same entry point, dropping num_batches_tracked", () => {
    const file = path.join(dir, "weights.safetensors");
    writeSafetensors(file, {
      "bn.weight": { dtype: "F32", shape: [2], data: Float32Array.of(1, 2) },
      "bn.num_batches_tracked": { dtype: "I64", shape: [], data: BigInt64Array.of(5n) },
    });
    expect(detectCheckpointFormat(file)).toBe("safetensors");
    expect([...loadCheckpoint(file).keys()]).toEqual(["bn.weight"]);
  });
});

describe("format detection", () => {
  it("does not mistake a safetensors header length starting with 0x80 0x02 for a pickle", () => {
    const file = path.join(dir, "length-640.safetensors");
    const json = JSON.stringify({ w: { dtype: "F32", shape: [1], data_offsets: [0, 4] } }).padEnd(0x280, " ");
    const length = Buffer.alloc(8);
    length.writeBigUInt64LE(0x280n);
    fs.writeFileSync(file, Buffer.concat([length, Buffer.from(json), Buffer.from(Float32Array.of(2.5).buffer)]));
    expect(detectCheckpointFormat(file)).toBe("safetensors");
    expect([...loadCheckpoint(file).get("w")!.data]).toEqual([2.5]);
  });
});
