/** Tokenizer specs (`byte`, `clip:PATH`), CLIP's text cleanup, and `ivc tokenize` as a user runs it. */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { afterAll, describe, expect, it } from "vitest";
import { UsageError } from "../../cli/errors.ts";
import { readNpy } from "../../runtime/io/npy.ts";
import { cleanText, unescapeHtml } from "../../runtime/text/clean.ts";
import { assertVocabularyFits, BYTE_TOKENIZER, loadTokenizer } from "../../runtime/text/tokenizer.ts";
import { engineBatch } from "../../runtime/train/data.ts";
import { expectCatalogError } from "../diagnostics/catalog-error.ts";
import { ivc } from "../infer/cli-helpers.ts";
import { INTERNVIDEO_SET, paramsOf } from "../weights/helpers.ts";

const dir = mkdtempSync(join(tmpdir(), "ivc-tok-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const vocab = join(dir, "bpe.txt.gz");
writeFileSync(vocab, gzipSync("#version: 0.2\nd o\ndo g</w>\n"));
// "dog" -> d o g</w> -> do g</w> -> dog</w> = 512 + 1; SOT 514, EOT 515. "a" -> a</w> = 256 + 0x61 - 0x21.
const DOG = 513;
const A = 256 + 0x61 - 0x21;

describe("tokenizer specs", () => {
  it("byte is the byte-level tokenizer: 257 start, byte + 1, 258 end", () => {
    const t = loadTokenizer("byte");
    expect(t).toBe(BYTE_TOKENIZER);
    expect(t.vocabSize).toBe(259);
    expect([...t.tokenize("a!", 5)]).toEqual([257, 98, 34, 258, 0]);
    expect([257, 98, 33, 0, 256].map(t.piece)).toEqual(["<start>", "a", "<0x20>", "<pad>", "<0xff>"]);
  });

  it("clip:PATH reads CLIP's merges file", () => {
    const t = loadTokenizer(`clip:${vocab}`);
    expect(t.spec).toBe(`clip:${vocab}`);
    expect(t.vocabSize).toBe(516);
    expect([...t.tokenize("A dog", 6)]).toEqual([514, A, DOG, 515, 0, 0]);
    expect([514, DOG, 0].map(t.piece)).toEqual(["<|startoftext|>", "dog</w>", "<pad>"]);
  });

  it("anything else is a usage error", () => {
    for (const spec of ["bpe", "clip:", "CLIP:x"]) expect(() => loadTokenizer(spec)).toThrow(UsageError);
  });
});

describe("training captions", () => {
  it("engineBatch tokenizes captions with the stage's tokenizer, byte-level by default", () => {
    const batch = { clips: new Float32Array(0), labels: new Int32Array([0, 0]), indices: [0, 1], batchSize: 2, captions: ["a dog", "dog"] };
    const inputs = [{ name: "caption", dtype: "i32" as const, shape: ["B", 4] }];
    expect([...engineBatch(batch as never, inputs as never, undefined, loadTokenizer(`clip:${vocab}`)).caption!]).toEqual([514, A, DOG, 515, 514, DOG, 515, 0]);
    expect([...engineBatch(batch as never, inputs as never, undefined).caption!].slice(0, 4)).toEqual([257, 98, 33, 258]);
  });

  it("IV6011 when the model's token embedding has fewer rows than the tokenizer has ids", () => {
    const clip = loadTokenizer(`clip:${vocab}`);
    const params = (v: number) => paramsOf("models/internvideo.ivm", { preset: "tiny", set: [...INTERNVIDEO_SET, `text_vocab=${v}`] });
    expectCatalogError(() => assertVocabularyFits(clip, params(259)), "IV6011", /`clip:.*` gives ids up to 515, but `text.token_embedding.weight` has only 259 rows/);
    expect(() => assertVocabularyFits(clip, params(516))).not.toThrow();
    expect(() => assertVocabularyFits(BYTE_TOKENIZER, params(259))).not.toThrow();
  });
});

describe("CLIP's text cleanup", () => {
  it("unescapes HTML as Python's html.unescape does for numeric and common named entities", () => {
    expect(unescapeHtml("a &amp; b &lt;c&gt; &#39;d&#x27; &quot;")).toBe("a & b <c> 'd' \"");
    expect(unescapeHtml("&ampx &amp &unknown; &#0; &#xD800;")).toBe("&x & &unknown; \ufffd \ufffd");
  });

  it("unescapes twice, cleans whitespace (NEL included, as Python's \\s), lowercases", () => {
    expect(cleanText("  Fish &amp;amp; CHIPS\u0085\u00a0now\t ")).toBe("fish & chips now");
    expect(cleanText("\ufb01ne \u201cquotes\u201d \u2018here\u2019")).toBe("fine \"quotes\" 'here'");
    expect(cleanText("tab\u0007bell\ufeff")).toBe("tabbell");
  });
});

describe("ivc tokenize", () => {
  it("prints ids and pieces, writes int32 [texts, length]", async () => {
    const out = join(dir, "tokens.npy");
    const r = await ivc("tokenize", "--tokenizer", `clip:${vocab}`, "--length", "4", "a dog", "dog dog dog", "-o", out);
    expect(r.code).toBe(0);
    expect(r.stdout.split("\n").slice(0, 5)).toEqual([
      `clip:${vocab}: 516 ids, rows of 4`,
      `"a dog": 514 ${A} ${DOG} 515`,
      "  <|startoftext|> a</w> dog</w> <|endoftext|>",
      `"dog dog dog": 514 ${DOG} ${DOG} 515`,
      "  <|startoftext|> dog</w> dog</w> <|endoftext|>",
    ]);
    const saved = readNpy(out);
    expect([saved.dtype, saved.shape]).toEqual(["i4", [2, 4]]);
    expect([...saved.data]).toEqual([514, A, DOG, 515, 514, DOG, DOG, 515]);
  });

  it("prints JSON with the full rows", async () => {
    const r = await ivc("tokenize", "--json", "hi");
    expect(JSON.parse(r.stdout)).toEqual({
      tokenizer: "byte",
      vocab_size: 259,
      length: 77,
      rows: [{ text: "hi", ids: [257, 105, 106, 258, ...new Array(73).fill(0)], pieces: ["<start>", "h", "i", "<end>"] }],
    });
  });

  it("reports a bad vocabulary with its catalog code (exit 1) and a bad flag as usage (exit 2)", async () => {
    const bad = join(dir, "vocab.json");
    writeFileSync(bad, "{}");
    const r = await ivc("tokenize", "--tokenizer", `clip:${bad}`, "x");
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^error\[IV6006\]: `.*vocab\.json` is not a CLIP BPE merges file: its first line should be/);
    expect((await ivc("tokenize", "--length", "1", "x")).code).toBe(2);
    expect((await ivc("tokenize", "--tokenizer", "gpt2", "x")).code).toBe(2);
  });
});
