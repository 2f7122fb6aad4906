/**
 * OpenAI CLIP's BPE tokenizer (SimpleTokenizer), which InternVideo's text side uses (fact sheet
 * 2.3: SOT/EOT tokens, context 77). The vocabulary comes from CLIP's merges file,
 * `bpe_simple_vocab_16e6.txt.gz` (or the same text uncompressed, as Hugging Face's `merges.txt`):
 * a `#version` header line, then one merge per line. Ids: the 256 byte symbols, the same 256 with
 * the end-of-word mark `</w>`, one per merge in file order, then `<|startoftext|>` and
 * `<|endoftext|>`. CLIP reads the first 49152 - 256 - 2 = 48894 merges, so its vocabulary has
 * 512 + 48894 + 2 = 49408 ids with SOT 49406 and EOT 49407; a shorter file gives a smaller one.
 */
import { gunzipSync } from "node:zlib";
import { cleanText, WHITESPACE_CHARS } from "./clean.ts";

/** The merges CLIP reads from its file; the lines after them are ignored, as CLIP does. */
export const CLIP_MERGES = 49152 - 256 - 2;
export const CLIP_VOCAB = 512 + CLIP_MERGES + 2;
export const CLIP_CONTEXT = 77;
export const START_OF_TEXT = "<|startoftext|>";
export const END_OF_TEXT = "<|endoftext|>";
const END_OF_WORD = "</w>";

/**
 * GPT-2's reversible byte-to-character table, as CLIP's `bytes_to_unicode`: printable Latin-1 bytes
 * stand for themselves, the others get the characters from U+0100 on. The insertion order (printable
 * bytes first, then the rest ascending) is the order of the first 256 vocabulary ids.
 */
export function bytesToUnicode(): Map<number, string> {
  const printable: number[] = [];
  const ranges: [number, number][] = [
    [0x21, 0x7e],
    [0xa1, 0xac],
    [0xae, 0xff],
  ];
  for (const [from, to] of ranges) for (let b = from; b <= to; b++) printable.push(b);
  const table = new Map<number, string>(printable.map((b) => [b, String.fromCodePoint(b)]));
  let shifted = 0;
  for (let b = 0; b < 256; b++) if (!table.has(b)) table.set(b, String.fromCodePoint(256 + shifted++));
  return table;
}

/** The merges file is not what CLIP's tokenizer reads; `reason` says where it departs. */
export class MergesFormatError extends Error {}

/**
 * The merges of a CLIP vocabulary file's bytes (gzip or plain text): the lines after the header,
 * at most CLIP_MERGES of them, each two symbols separated by whitespace.
 */
export function parseMerges(bytes: Uint8Array): [string, string][] {
  let text: string;
  if (bytes[0] === 0x1f && bytes[1] === 0x8b) {
    try {
      text = gunzipSync(bytes).toString("utf8");
    } catch (e) {
      throw new MergesFormatError(`it looks gzip-compressed but does not decompress (${(e as Error).message})`);
    }
  } else {
    text = new TextDecoder("utf-8", { fatal: false }).decode(bytes);
  }
  const lines = text.split("\n");
  if (!lines[0]!.startsWith("#version")) {
    const first = lines[0]!.slice(0, 40);
    throw new MergesFormatError(`its first line should be the \`#version: ...\` header, found \`${first}\``);
  }
  // A final newline leaves one empty string after the last merge; an empty line inside is an error.
  if (lines.length > 1 && lines[lines.length - 1]!.trim() === "") lines.pop();
  const body = lines.slice(1, 1 + CLIP_MERGES);
  if (body.length === 0) throw new MergesFormatError("it has the header but no merges");
  return body.map((line, i) => {
    const parts = line.trim().split(/\s+/);
    if (parts.length !== 2 || parts[0] === "") {
      throw new MergesFormatError(`line ${i + 2} should hold two symbols separated by a space, found \`${line.slice(0, 40)}\``);
    }
    return [parts[0]!, parts[1]!];
  });
}

/**
 * CLIP's pre-tokenizer pattern (special tokens, English contractions, letter runs, single digits,
 * runs of other non-space characters), applied to the cleaned, lowercased text.
 */
const PRE_TOKEN = new RegExp(
  `<\\|startoftext\\|>|<\\|endoftext\\|>|'s|'t|'re|'ve|'m|'ll|'d|\\p{L}+|\\p{N}|[^${WHITESPACE_CHARS}\\p{L}\\p{N}]+`,
  "giu",
);

export class ClipBpe {
  /** Every id's string, in id order. */
  readonly vocab: readonly string[];
  readonly startOfText: number;
  readonly endOfText: number;
  readonly merges: number;
  private readonly ids = new Map<string, number>();
  private readonly ranks = new Map<string, number>();
  private readonly byteSymbols: string[] = [];
  private readonly words = new Map<string, readonly string[]>();

  constructor(merges: readonly (readonly [string, string])[]) {
    const table = bytesToUnicode();
    for (const [byte, symbol] of table) this.byteSymbols[byte] = symbol;
    const symbols = [...table.values()];
    const vocab = [...symbols, ...symbols.map((s) => s + END_OF_WORD), ...merges.map(([a, b]) => a + b), START_OF_TEXT, END_OF_TEXT];
    // Later entries win on a repeated string or pair, as the Python dicts built with zip do.
    vocab.forEach((piece, id) => this.ids.set(piece, id));
    merges.forEach(([a, b], rank) => this.ranks.set(`${a} ${b}`, rank));
    this.vocab = vocab;
    this.merges = merges.length;
    this.startOfText = vocab.length - 2;
    this.endOfText = vocab.length - 1;
    for (const special of [START_OF_TEXT, END_OF_TEXT]) this.words.set(special, [special]);
  }

  /** The BPE pieces of one pre-token (already mapped to byte symbols): merge the best-ranked pair until none applies. */
  private bpe(token: string): readonly string[] {
    const cached = this.words.get(token);
    if (cached) return cached;
    const chars = [...token];
    let word = [...chars.slice(0, -1), chars[chars.length - 1]! + END_OF_WORD];
    while (word.length > 1) {
      let best: [string, string] | undefined;
      let bestRank = Infinity;
      for (let i = 0; i + 1 < word.length; i++) {
        const rank = this.ranks.get(`${word[i]} ${word[i + 1]}`);
        if (rank !== undefined && rank < bestRank) {
          bestRank = rank;
          best = [word[i]!, word[i + 1]!];
        }
      }
      if (!best) break;
      const [first, second] = best;
      const merged: string[] = [];
      for (let i = 0; i < word.length; ) {
        if (word[i] === first && word[i + 1] === second && i + 1 < word.length) {
          merged.push(first + second);
          i += 2;
        } else merged.push(word[i++]!);
      }
      word = merged;
    }
    this.words.set(token, word);
    return word;
  }

  /** The ids of `text` without SOT/EOT: cleaned and lowercased, pre-tokenized, each piece BPE-merged. */
  encode(text: string): number[] {
    const out: number[] = [];
    const utf8 = new TextEncoder();
    for (const [token] of cleanText(text).matchAll(PRE_TOKEN)) {
      const symbols = Array.from(utf8.encode(token), (b) => this.byteSymbols[b]!).join("");
      for (const piece of this.bpe(symbols)) out.push(this.ids.get(piece)!);
    }
    return out;
  }

  /**
   * One row of `length` ids as CLIP's `tokenize(..., truncate=True)`: SOT, the text, EOT, zero
   * padding; a longer text is cut so that EOT stays the last id.
   */
  tokenize(text: string, length: number): Int32Array {
    if (!Number.isInteger(length) || length < 2) throw new RangeError(`a token row needs room for SOT and EOT, got length ${length}`);
    const ids = [this.startOfText, ...this.encode(text), this.endOfText];
    const row = new Int32Array(length);
    row.set(ids.slice(0, length));
    if (ids.length > length) row[length - 1] = this.endOfText;
    return row;
  }
}
