/**
 * CLIP's BPE tokenizer on a small merges file built here, with the ids worked out by hand, and on a
 * file of the real format (gzip, header, more merges than CLIP reads). With IVC_CLIP_VOCAB naming
 * the real `bpe_simple_vocab_16e6.txt.gz`, the ids CLIP's README prints are checked as well.
 */
import { existsSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { describe, expect, it } from "vitest";
import { bytesToUnicode, CLIP_MERGES, CLIP_VOCAB, ClipBpe, parseMerges } from "../../runtime/text/clip-bpe.ts";
import { readClipBpe } from "../../runtime/text/tokenizer.ts";
import { expectCatalogError } from "../diagnostics/catalog-error.ts";

/**
 * Ranks 0-5. "hello" merges h+e, l+l, he+ll, hell+o</w> into one piece; "world" gets o+r, w+or and
 * stops at wor | l | d</w>, because no merge joins "wor" and "l".
 */
const SMALL_MERGES = ["h e", "l l", "he ll", "hell o</w>", "o r", "w or"];
const mergesFile = (lines: readonly string[]) => `#version: 0.2\n${lines.join("\n")}\n`;

// bytes_to_unicode order: printable ASCII 0x21..0x7e are ids 0..93, so a letter c is c - 0x21.
const byteId = (c: string) => c.charCodeAt(0) - 0x21;
const endOfWord = (c: string) => 256 + byteId(c);
const HELLO = 512 + 3; // "hello</w>", the merge of rank 3
const WOR = 512 + 5;
const SOT = 512 + 6;
const EOT = 512 + 7;

const small = new ClipBpe(parseMerges(gzipSync(mergesFile(SMALL_MERGES))));

describe("bytes_to_unicode", () => {
  it("keeps printable Latin-1 bytes and shifts the others from U+0100, in CLIP's id order", () => {
    const table = bytesToUnicode();
    expect(table.size).toBe(256);
    expect(new Set(table.values()).size).toBe(256);
    expect([...table.keys()].slice(0, 3)).toEqual([0x21, 0x22, 0x23]);
    expect(table.get(0x61)).toBe("a");
    expect(table.get(0x00)).toBe("\u0100");
    expect(table.get(0x20)).toBe("\u0120"); // GPT-2's familiar "Ġ" for a space
    expect(table.get(0xad)).toBe("\u0143");
    expect([...table.keys()].indexOf(0xc3)).toBe(127);
  });
});

describe("CLIP BPE on a hand-built vocabulary", () => {
  it("lays the vocabulary out as bytes, bytes</w>, merges, SOT, EOT", () => {
    expect(small.vocab.length).toBe(512 + SMALL_MERGES.length + 2);
    expect(small.vocab[byteId("h")]).toBe("h");
    expect(small.vocab[endOfWord("d")]).toBe("d</w>");
    expect(small.vocab[HELLO]).toBe("hello</w>");
    expect([small.startOfText, small.endOfText]).toEqual([SOT, EOT]);
    expect([small.vocab[SOT], small.vocab[EOT]]).toEqual(["<|startoftext|>", "<|endoftext|>"]);
  });

  it("merges by rank, words end in </w>, unmerged pairs stay apart", () => {
    expect(small.encode("hello world")).toEqual([HELLO, WOR, byteId("l"), endOfWord("d")]);
    // "he" alone: h+e merges, but the last symbol is "e</w>", so rank 0 ("h e") does not apply.
    expect(small.encode("he")).toEqual([byteId("h"), endOfWord("e")]);
  });

  it("cleans, lowercases and pre-tokenizes as CLIP: punctuation runs, single digits, contractions", () => {
    expect(small.encode("  HeLLo \t\n WORLD!! ")).toEqual([HELLO, WOR, byteId("l"), endOfWord("d"), byteId("!"), endOfWord("!")]);
    expect(small.encode("42")).toEqual([endOfWord("4"), endOfWord("2")]);
    expect(small.encode("it's")).toEqual([byteId("i"), endOfWord("t"), byteId("'"), endOfWord("s")]);
    expect(small.encode("it\u2019s")).toEqual(small.encode("it's")); // ftfy uncurls quotes
    expect(small.encode("fish &amp; chips")).toEqual(small.encode("fish & chips"));
    expect(small.encode("\uff28\uff45\uff4c\uff4c\uff4f")).toEqual([HELLO]); // fullwidth letters
  });

  it("encodes other scripts byte by byte: é is UTF-8 C3 A9", () => {
    expect(small.encode("é")).toEqual([127, 256 + 102]);
    expect(small.encode("e\u0301")).toEqual(small.encode("é")); // NFC first
  });

  it("reads the special tokens written in the text as the special ids", () => {
    expect(small.encode("hello<|endoftext|>")).toEqual([HELLO, EOT]);
  });

  it("tokenizes to SOT, ids, EOT, zero padding; truncation keeps EOT last", () => {
    expect([...small.tokenize("hello", 5)]).toEqual([SOT, HELLO, EOT, 0, 0]);
    expect([...small.tokenize("hello world", 6)]).toEqual([SOT, HELLO, WOR, byteId("l"), endOfWord("d"), EOT]);
    expect([...small.tokenize("hello world", 4)]).toEqual([SOT, HELLO, WOR, EOT]);
    expect([...small.tokenize("", 3)]).toEqual([SOT, EOT, 0]);
    expect(() => small.tokenize("hello", 1)).toThrow(RangeError);
  });
});

describe("the real file format", () => {
  // CLIP's file holds more merges than it reads: filler up to the cut, then a merge past it.
  const filler = Array.from({ length: CLIP_MERGES - SMALL_MERGES.length }, (_, i) => `q${i} z${i}`);
  const full = new ClipBpe(parseMerges(gzipSync(mergesFile([...SMALL_MERGES, ...filler, "x y</w>", "a b"]))));

  it("reads 48894 merges after the version header: 49408 ids, SOT 49406, EOT 49407", () => {
    expect(full.merges).toBe(48894);
    expect(full.vocab.length).toBe(CLIP_VOCAB);
    expect(CLIP_VOCAB).toBe(49408);
    expect([full.startOfText, full.endOfText]).toEqual([49406, 49407]);
    expect([...full.tokenize("hello world", 77).slice(0, 7)]).toEqual([49406, HELLO, WOR, byteId("l"), endOfWord("d"), 49407, 0]);
  });

  it("ignores the merges past the first 48894, as CLIP does", () => {
    expect(full.encode("xy")).toEqual([byteId("x"), endOfWord("y")]);
  });

  it("cuts a long caption to the context of 77 with EOT last", () => {
    const row = full.tokenize("hello ".repeat(100), 77);
    expect(row.length).toBe(77);
    expect(row[0]).toBe(49406);
    expect(row[75]).toBe(HELLO);
    expect(row[76]).toBe(49407);
  });

  it("also reads the merges as plain text (Hugging Face's merges.txt)", () => {
    const plain = new ClipBpe(parseMerges(Buffer.from(mergesFile(SMALL_MERGES).replace(/\n/g, "\r\n"))));
    expect(plain.encode("hello world")).toEqual(small.encode("hello world"));
  });
});

describe("a missing or malformed vocabulary file is reported by code", () => {
  const dir = mkdtempSync(join(tmpdir(), "ivc-bpe-"));
  const write = (name: string, data: string | Uint8Array) => {
    const path = join(dir, name);
    writeFileSync(path, data);
    return path;
  };

  it("IV6005 for a file that is not there", () => {
    expectCatalogError(() => readClipBpe(join(dir, "missing.txt.gz")), "IV6005", /missing\.txt\.gz`: no such file/);
    expectCatalogError(() => readClipBpe(dir), "IV6005", /it is a directory/);
  });

  it("IV6006 for vocab.json, a broken gzip, a bad line, or a header without merges", () => {
    expectCatalogError(() => readClipBpe(write("vocab.json", '{"!": 0}')), "IV6006", /first line should be the `#version: \.\.\.` header, found `\{"!": 0\}`/);
    const gz = gzipSync(mergesFile(SMALL_MERGES));
    expectCatalogError(() => readClipBpe(write("cut.gz", gz.subarray(0, 20))), "IV6006", /does not decompress/);
    expectCatalogError(() => readClipBpe(write("bad.gz", gzipSync(mergesFile(["h e", "l l x", "o r"])))), "IV6006", /line 3 should hold two symbols/);
    expectCatalogError(() => readClipBpe(write("gap.gz", gzipSync(mergesFile(["h e", "", "o r"])))), "IV6006", /line 3 should hold two symbols/);
    expectCatalogError(() => readClipBpe(write("empty.gz", gzipSync("#version: 0.2\n"))), "IV6006", /no merges/);
  });
});

const realVocab = process.env.IVC_CLIP_VOCAB;
describe.runIf(realVocab !== undefined && existsSync(realVocab))("OpenAI's bpe_simple_vocab_16e6.txt.gz (IVC_CLIP_VOCAB)", () => {
  it("gives the ids of CLIP's README example", () => {
    const bpe = readClipBpe(realVocab!);
    expect(bpe.vocab.length).toBe(49408);
    expect(bpe.encode("a diagram")).toEqual([320, 22697]);
    expect(bpe.encode("a dog")).toEqual([320, 1929]);
    expect(bpe.encode("a cat")).toEqual([320, 2368]);
  });
});
