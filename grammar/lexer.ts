/**
 * Lexing with located diagnostics. Chevrotain skips characters no token accepts, one error each;
 * this wrapper merges each run of them into one diagnostic, reports unterminated strings and
 * comments, bad escapes and numbers glued to names, and hands the parser a clean token stream.
 */
import { createTokenInstance, Lexer, type IToken } from "chevrotain";
import type { Diagnostic } from "../diagnostics/diagnostic.ts";
import { makeDiagnostic } from "../diagnostics/diagnostic.ts";
import { spanBetween, tokenSpan } from "./spans.ts";
import {
  ALL_TOKENS,
  BadRun,
  FloatLit,
  Identifier,
  IntLit,
  StringLit,
  UnterminatedBlockComment,
  UnterminatedString,
} from "./tokens.ts";

let sharedLexer: Lexer | undefined;
function lexer(): Lexer {
  sharedLexer ??= new Lexer([...ALL_TOKENS], { positionTracking: "full", ensureOptimizations: true });
  return sharedLexer;
}

export interface LexResult {
  readonly tokens: IToken[];
  readonly diagnostics: Diagnostic[];
}

function badCharHelp(text: string): string {
  const c = text[0]!;
  if (c === "\uFFFD") return "the file has bytes that are not valid UTF-8 here";
  if (c === "'") return 'strings are written with double quotes: "..."';
  if (c === "#") return "comments start with `//`";
  if (c === "!") return "write `not x` for negation, `!=` for inequality";
  if (c === "&") return "write `and`";
  if (c === "|") return "write `or`";
  if (c === "\\") return "a backslash is only allowed inside a string";
  if (c.codePointAt(0)! > 0x7f) return "names are ASCII letters, digits and `_`";
  return "remove it";
}

/** `#`, or U+0007 for characters a terminal would not show. */
function quoteChars(text: string): string {
  const chars = [...text];
  const invisible = chars.some((ch) => {
    const cp = ch.codePointAt(0)!;
    return cp < 0x20 || (cp >= 0x7f && cp < 0xa0) || cp === 0x200b || cp === 0xfeff;
  });
  if (!invisible) return `\`${text}\``;
  return chars.map((ch) => `U+${ch.codePointAt(0)!.toString(16).toUpperCase().padStart(4, "0")}`).join(" ");
}

const ESCAPE = /\\(.)/g;
const VALID_ESCAPES = new Set(['"', "\\", "n", "t"]);

function checkEscapes(file: string, tok: IToken, report: Report): void {
  for (const m of tok.image.matchAll(ESCAPE)) {
    if (VALID_ESCAPES.has(m[1]!)) continue;
    const startOffset = tok.startOffset + m.index!;
    const span = {
      file,
      offset: startOffset,
      endOffset: startOffset + 2,
      line: tok.startLine!,
      col: tok.startColumn! + m.index!,
      endLine: tok.startLine!,
      endCol: tok.startColumn! + m.index! + 2,
    };
    report(() => makeDiagnostic("IV1004", span, { escape: `\\${m[1]}` }));
  }
}

function asString(tok: IToken): IToken {
  return createTokenInstance(
    StringLit,
    tok.image,
    tok.startOffset,
    tok.endOffset!,
    tok.startLine!,
    tok.endLine!,
    tok.startColumn!,
    tok.endColumn!,
  );
}

type Report = (make: () => Diagnostic) => void;

/** A list that stops growing at `max`, so junk input does not cost a diagnostic per character. */
function cappedList(max: number): { items: Diagnostic[]; report: Report } {
  const items: Diagnostic[] = [];
  return { items, report: (make) => void (items.length < max && items.push(make())) };
}

/**
 * Tokens and lexical diagnostics. At most `maxDiagnostics` of the latter are built; they are the
 * first ones in source order.
 */
export function lex(text: string, file: string, maxDiagnostics = Number.POSITIVE_INFINITY): LexResult {
  const raw = lexer().tokenize(text);
  const unknown = cappedList(maxDiagnostics);
  const malformed = cappedList(maxDiagnostics);
  const tokens: IToken[] = [];
  // Chevrotain skips characters no pattern accepts, one error each; a run of them is one mistake.
  for (let i = 0; i < raw.errors.length; i++) {
    const first = raw.errors[i]!;
    let end = first.offset + first.length;
    while (i + 1 < raw.errors.length && raw.errors[i + 1]!.offset === end && raw.errors[i + 1]!.line === first.line) {
      end += raw.errors[++i]!.length;
    }
    const image = text.slice(first.offset, end);
    const span = {
      file,
      offset: first.offset,
      endOffset: end,
      line: first.line!,
      col: first.column!,
      endLine: first.line!,
      endCol: first.column! + (end - first.offset),
    };
    unknown.report(() => makeDiagnostic("IV1001", span, { char: quoteChars(image), help: badCharHelp(image) }));
  }
  for (let i = 0; i < raw.tokens.length; i++) {
    const tok = raw.tokens[i]!;
    const type = tok.tokenType;
    if (type === BadRun) {
      malformed.report(() =>
        makeDiagnostic("IV1001", tokenSpan(file, tok), { char: quoteChars(tok.image), help: badCharHelp(tok.image) }),
      );
      continue;
    }
    if (type === UnterminatedBlockComment) {
      const firstLine = { ...tok, endOffset: tok.startOffset + 1, endLine: tok.startLine, endColumn: tok.startColumn! + 1 };
      malformed.report(() => makeDiagnostic("IV1003", tokenSpan(file, firstLine)));
      continue;
    }
    if (type === UnterminatedString) {
      malformed.report(() => makeDiagnostic("IV1002", tokenSpan(file, tok)));
      tokens.push(asString(tok));
      continue;
    }
    if (type === StringLit) checkEscapes(file, tok, malformed.report);
    if ((type === IntLit || type === FloatLit) && i + 1 < raw.tokens.length) {
      const next = raw.tokens[i + 1]!;
      const glued =
        next.startOffset === tok.endOffset! + 1 &&
        (next.tokenType === Identifier ||
          next.tokenType.CATEGORIES?.includes(Identifier) ||
          next.tokenType === IntLit ||
          next.tokenType === FloatLit);
      if (glued && /^[A-Za-z_]/.test(next.image)) {
        malformed.report(() => makeDiagnostic("IV1005", spanBetween(file, tok, next), { text: tok.image + next.image }));
        tokens.push(tok);
        i++;
        continue;
      }
    }
    tokens.push(tok);
  }
  return { tokens, diagnostics: [...unknown.items, ...malformed.items] };
}
