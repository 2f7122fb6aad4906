/**
 * The text tokenizers, chosen by a spec string (`--tokenizer`): `byte`, the byte-level tokenizer that
 * needs no download (InternVideo's default `text_vocab = 259`), or `clip:PATH`, CLIP's BPE read from
 * its merges file (needs `text_vocab = 49408`, the rows of CLIP's token embedding).
 */
import { readFileSync } from "node:fs";
import { evalShape } from "../../compiler/ir/dims.ts";
import type { ParamInfo } from "../../compiler/ir/types.ts";
import { catalogError, UsageError } from "../../cli/errors.ts";
import { tokenizeCaption } from "./byte-level.ts";
import { ClipBpe, MergesFormatError, parseMerges } from "./clip-bpe.ts";

export interface Tokenizer {
  /** The spec it was made from: `byte` or `clip:PATH`. */
  readonly spec: string;
  /** Ids run from 0 to vocabSize - 1, so the model's token embedding needs at least this many rows. */
  readonly vocabSize: number;
  /** One row of `length` ids: start, the text, end, zero padding; a long text is cut with end last. */
  tokenize(text: string, length: number): Int32Array;
  /** What one id stands for, for display. */
  piece(id: number): string;
}

const BYTE_SPECIALS: Readonly<Record<number, string>> = { 0: "<pad>", 257: "<start>", 258: "<end>" };

export const BYTE_TOKENIZER: Tokenizer = {
  spec: "byte",
  vocabSize: 259,
  tokenize: tokenizeCaption,
  piece: (id) => BYTE_SPECIALS[id] ?? (id > 0x21 && id <= 0x7f ? String.fromCharCode(id - 1) : `<0x${(id - 1).toString(16).padStart(2, "0")}>`),
};

/** CLIP's BPE as a Tokenizer; `spec` names the file it came from. */
export function clipTokenizer(bpe: ClipBpe, spec: string): Tokenizer {
  return {
    spec,
    vocabSize: bpe.vocab.length,
    tokenize: (text, length) => bpe.tokenize(text, length),
    piece: (id) => (id === 0 ? "<pad>" : (bpe.vocab[id] ?? `<${id}?>`)),
  };
}

/** Reads a CLIP merges file; a missing or malformed file is a catalog error (IV6005, IV6006). */
export function readClipBpe(path: string): ClipBpe {
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const reason = code === "ENOENT" ? "no such file" : code === "EISDIR" ? "it is a directory" : (e as Error).message;
    throw catalogError("IV6005", { path, reason });
  }
  try {
    return new ClipBpe(parseMerges(bytes));
  } catch (e) {
    if (e instanceof MergesFormatError) throw catalogError("IV6006", { path, reason: e.message });
    throw e;
  }
}

/** Every token embedding of the model (`*token_embedding.weight`) has a row for each id; else IV6011. */
export function assertVocabularyFits(tokenizer: Tokenizer, params: readonly ParamInfo[]): void {
  for (const p of params) {
    if (!p.path.endsWith("token_embedding.weight")) continue;
    const rows = evalShape(p.shape, {})[0]!;
    if (rows < tokenizer.vocabSize)
      throw catalogError("IV6011", { spec: tokenizer.spec, max: tokenizer.vocabSize - 1, path: p.path, rows, vocab: tokenizer.vocabSize });
  }
}

/** The tokenizer a spec names; an unknown spec is a usage error. */
export function loadTokenizer(spec: string): Tokenizer {
  if (spec === "byte") return BYTE_TOKENIZER;
  if (spec.startsWith("clip:") && spec.length > "clip:".length) return clipTokenizer(readClipBpe(spec.slice(5)), spec);
  throw new UsageError(`--tokenizer must be \`byte\` or \`clip:PATH\` (CLIP's bpe_simple_vocab_16e6.txt.gz), got \`${spec}\``);
}
