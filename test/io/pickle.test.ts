import { describe, expect, it } from "vitest";
import { ForbiddenGlobalError, OpaqueObject, PickleError, unpickle } from "../../runtime/io/pickle.ts";

/** Assembles a pickle from opcodes (strings are latin1 bytes) and raw byte arrays. */
function pickle(...parts: (string | readonly number[])[]): Uint8Array {
  return Uint8Array.from(parts.flatMap((part) => (typeof part === "string" ? [...part].map((c) => c.charCodeAt(0)) : part)));
}
const shortUnicode = (text: string) => ["\x8c", [text.length], text] as const;

describe("restricted unpickler", () => {
  it("builds dicts, lists, tuples, numbers, strings and memo references", () => {
    const bytes = pickle(
      "\x80\x02}q\x00(",
      ...shortUnicode("ints"), "(K\x05M\x00\x01J", [0xff, 0xff, 0xff, 0xff], "\x8a\x09", [0, 0, 0, 0, 0, 0, 0, 0, 1], "tq\x01",
      ...shortUnicode("float"), "G", [0x40, 0x09, 0x21, 0xfb, 0x54, 0x44, 0x2d, 0x18],
      ...shortUnicode("flags"), "\x88\x89N\x87",
      ...shortUnicode("again"), "h\x01",
      ...shortUnicode("list"), "](K\x01K\x02e",
      "u.",
    );
    const value = unpickle(bytes).value as Map<string, unknown>;
    expect(value.get("ints")).toEqual([5, 256, -1, 1n << 64n]);
    expect(value.get("float")).toBe(Math.PI);
    expect(value.get("flags")).toEqual([true, false, null]);
    expect(value.get("again")).toBe(value.get("ints"));
    expect(value.get("list")).toEqual([1, 2]);
  });

  it("handles protocol 4 framing, MEMOIZE and STACK_GLOBAL for allowed names", () => {
    const body = pickle(...shortUnicode("collections"), "\x94", ...shortUnicode("OrderedDict"), "\x94\x93\x94)R\x94.");
    const bytes = pickle("\x80\x04\x95", [body.length, 0, 0, 0, 0, 0, 0, 0], [...body]);
    const value = unpickle(bytes).value;
    expect(value).toBeInstanceOf(Map);
  });

  it("keeps inert objects such as argparse.Namespace without interpreting them", () => {
    const bytes = pickle("\x80\x02cargparse\nNamespace\n)\x81}(", ...shortUnicode("lr"), "G", [0x3f, 0x50, 0x62, 0x4d, 0xd2, 0xf1, 0xa9, 0xfc], "ub.");
    const value = unpickle(bytes).value as OpaqueObject;
    expect(value).toBeInstanceOf(OpaqueObject);
    expect(value.className).toBe("argparse.Namespace");
    expect((value.state as Map<string, number>).get("lr")).toBeCloseTo(0.001);
  });

  it.each([
    ["GLOBAL", pickle("\x80\x02cbuiltins\neval\n(X", [2, 0, 0, 0], "1+\x85R."), "builtins.eval"],
    ["STACK_GLOBAL", pickle("\x80\x04", ...shortUnicode("subprocess"), ...shortUnicode("run"), "\x93."), "subprocess.run"],
    ["INST", pickle("(X", [2, 0, 0, 0], "lsios\nsystem\n."), "os.system"],
    ["a torch attribute that is not a storage", pickle("\x80\x02ctorch\nload\n."), "torch.load"],
  ])("refuses %s of a non-allowed callable before anything runs", (_, bytes, name) => {
    expect(() => unpickle(bytes)).toThrow(ForbiddenGlobalError);
    try {
      unpickle(bytes);
    } catch (error) {
      expect((error as ForbiddenGlobalError).qualifiedName).toBe(name);
    }
  });

  it("reports truncated streams, unknown opcodes and missing persistent storage", () => {
    expect(() => unpickle(pickle("\x80\x02X", [10, 0, 0, 0], "abc"))).toThrow(/truncated/);
    expect(() => unpickle(pickle("\x80\x02\xff."))).toThrow(/unknown pickle opcode 0xff/);
    expect(() => unpickle(pickle("\x80\x02X", [1, 0, 0, 0], "0Q."))).toThrow(/external storage/);
    expect(() => unpickle(pickle("\x80\x02h\x07."))).toThrow(PickleError);
  });
});
