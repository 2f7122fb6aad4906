import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { decodeSource, firstInvalidUtf8, readSource } from "../../grammar/source.ts";

const dir = mkdtempSync(join(tmpdir(), "ivc-source-"));

describe("readSource", () => {
  it("reports a missing file and a directory as IV1007 without a location", () => {
    const missing = readSource(join(dir, "nope.ivm"));
    expect(missing.text).toBe("");
    expect(missing.diagnostics).toMatchObject([{ code: "IV1007", message: expect.stringContaining("no such file") }]);
    expect(missing.diagnostics[0]!.span).toBeUndefined();
    expect(readSource(dir).diagnostics).toMatchObject([{ code: "IV1007", message: expect.stringContaining("directory") }]);
  });

  it("reads UTF-8 text and drops a byte-order mark", () => {
    const path = join(dir, "ok.ivm");
    writeFileSync(path, Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from("module Vidéo { }\n")]));
    expect(readSource(path)).toEqual({ text: "module Vidéo { }\n", diagnostics: [] });
  });

  it("locates the first byte that is not UTF-8", () => {
    const path = join(dir, "latin1.ivm");
    writeFileSync(path, Buffer.from("// ok\nmodule Caf\xe9 { }\n", "latin1"));
    const { text, diagnostics } = readSource(path);
    expect(text).toBe("// ok\nmodule Caf\uFFFD { }\n");
    expect(diagnostics).toHaveLength(1);
    expect(diagnostics[0]).toMatchObject({
      code: "IV1006",
      message: "file is not valid UTF-8: byte 0xE9 at offset 16",
      span: { line: 2, col: 11, offset: 16 },
    });
  });
});

describe("firstInvalidUtf8", () => {
  it.each([
    [[0x61, 0x62], -1],
    [[0xc3, 0xa9], -1],
    [[0xf0, 0x9f, 0x98, 0x80], -1],
    [[0x61, 0xff], 1],
    [[0xc0, 0x80], 0],
    [[0xe0, 0x80, 0x80], 0],
    [[0xed, 0xa0, 0x80], 0],
    [[0x61, 0xe2, 0x82], 1],
    [[0xf4, 0x90, 0x80, 0x80], 0],
    [[0x80], 0],
  ])("%j -> %i", (bytes, expected) => {
    expect(firstInvalidUtf8(Uint8Array.from(bytes))).toBe(expected);
  });

  it("agrees with TextDecoder's fatal mode", () => {
    const samples = [[0x61], [0xc3, 0x28], [0xe2, 0x28, 0xa1], [0xf0, 0x28, 0x8c, 0xbc], [0xe2, 0x82, 0xac]];
    for (const s of samples) {
      const bytes = Uint8Array.from(s);
      let fatalOk = true;
      try {
        new TextDecoder("utf-8", { fatal: true }).decode(bytes);
      } catch {
        fatalOk = false;
      }
      expect(firstInvalidUtf8(bytes) < 0).toBe(fatalOk);
      expect(decodeSource(bytes, "s.ivm").diagnostics.length === 0).toBe(fatalOk);
    }
  });
});
