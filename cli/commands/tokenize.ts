/**
 * `ivc tokenize TEXT... [--tokenizer byte|clip:PATH] [--length N] [-o TOKENS.npy] [--json]`: the token
 * rows a model's text input receives, printed with the piece each id stands for; `-o` saves them as
 * an int32 [B, N] array for `ivc run --input NAME=TOKENS.npy`, and they can be compared with
 * Python's `clip.tokenize`.
 */
import type { Command } from "commander";
import { writeNpy } from "../../runtime/io/npy.ts";
import { CLIP_CONTEXT } from "../../runtime/text/clip-bpe.ts";
import { loadTokenizer } from "../../runtime/text/tokenizer.ts";
import { UsageError, UserError } from "../errors.ts";

interface TokenizeFlags {
  tokenizer: string;
  length: string;
  output?: string;
  json?: boolean;
}

/** The ids up to the last non-padding one. */
function unpadded(row: Int32Array): number[] {
  let end = row.length;
  while (end > 0 && row[end - 1] === 0) end--;
  return Array.from(row.subarray(0, end));
}

export function registerTokenize(program: Command): void {
  program
    .command("tokenize")
    .description("Print the token ids of texts as a model's text input gets them (byte-level or CLIP BPE)")
    .argument("<texts...>", "one caption per argument")
    .option("--tokenizer <spec>", "byte (no download) or clip:PATH (CLIP's bpe_simple_vocab_16e6.txt.gz)", "byte")
    .option("--length <n>", "ids per row: start, text, end, zero padding (CLIP's context is 77)", String(CLIP_CONTEXT))
    .option("-o, --output <file.npy>", "write the rows as int32 [texts, length]")
    .option("--json", "print the rows and their pieces as JSON")
    .action((texts: string[], opts: TokenizeFlags) => {
      const length = Number(opts.length);
      if (!Number.isInteger(length) || length < 2) throw new UsageError(`--length needs an integer of at least 2, got \`${opts.length}\``);
      const tokenizer = loadTokenizer(opts.tokenizer);
      const rows = texts.map((t) => tokenizer.tokenize(t, length));
      if (opts.output) {
        const data = new Int32Array(rows.length * length);
        rows.forEach((row, i) => data.set(row, i * length));
        try {
          writeNpy(opts.output, { dtype: "i4", shape: [rows.length, length], data });
        } catch (e) {
          throw new UserError(`cannot write ${opts.output}: ${(e as Error).message}`, "choose a writable location with -o");
        }
      }
      if (opts.json) {
        const report = {
          tokenizer: tokenizer.spec,
          vocab_size: tokenizer.vocabSize,
          length,
          rows: texts.map((text, i) => ({ text, ids: Array.from(rows[i]!), pieces: unpadded(rows[i]!).map(tokenizer.piece) })),
        };
        process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
        return;
      }
      const lines = [`${tokenizer.spec}: ${tokenizer.vocabSize} ids, rows of ${length}`];
      texts.forEach((text, i) => {
        const ids = unpadded(rows[i]!);
        lines.push(`${JSON.stringify(text)}: ${ids.join(" ")}${ids.length < length ? ` (+${length - ids.length} padding)` : ""}`);
        lines.push(`  ${ids.map(tokenizer.piece).join(" ")}`);
      });
      if (opts.output) lines.push(`wrote ${opts.output}`);
      process.stdout.write(`${lines.join("\n")}\n`);
    });
}
