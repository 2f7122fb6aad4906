/**
 * Token-stream passes that run before chevrotain:
 *  - guardNesting caps bracket nesting, so that pathological input ends in a diagnostic rather than
 *    a stack overflow in the recursive-descent parser;
 *  - splitDeclarations cuts the stream into top-level declarations, so that a syntax error in one
 *    declaration can never swallow or cascade into the next.
 */
import { createTokenInstance, type IToken, type TokenType } from "chevrotain";
import type { Diagnostic } from "../diagnostics/diagnostic.ts";
import { makeDiagnostic } from "../diagnostics/diagnostic.ts";
import { tokenSpan } from "./spans.ts";
import { CLOSERS, Config, Identifier, Import, IntLit, LBrace, Model, Module, OPENERS, Preset, Train } from "./tokens.ts";

/** Far beyond any real model; the parser needs a few frames per level and stays well inside Node's stack. */
export const MAX_NESTING = 128;

export interface GuardResult {
  readonly tokens: IToken[];
  readonly diagnostics: Diagnostic[];
  /** Source ranges whose contents were cut out; syntax errors reported inside them are dropped. */
  readonly cutRanges: readonly (readonly [number, number])[];
}

function placeholder(opener: IToken): IToken {
  return createTokenInstance(
    IntLit,
    "0",
    opener.startOffset,
    opener.endOffset!,
    opener.startLine!,
    opener.endLine!,
    opener.startColumn!,
    opener.endColumn!,
  );
}

/** Index of the closer matching the opener at `open`, or -1 when the input ends first. */
function matchingCloser(tokens: readonly IToken[], open: number): number {
  let depth = 0;
  for (let i = open; i < tokens.length; i++) {
    const t = tokens[i]!.tokenType;
    if (OPENERS.has(t)) depth++;
    else if (CLOSERS.has(t) && --depth === 0) return i;
  }
  return -1;
}

function maxDepth(tokens: readonly IToken[]): number {
  let depth = 0;
  let max = 0;
  for (const t of tokens) {
    if (OPENERS.has(t.tokenType)) max = Math.max(max, ++depth);
    else if (CLOSERS.has(t.tokenType)) depth = Math.max(0, depth - 1);
  }
  return max;
}

export function guardNesting(tokens: IToken[], file: string, limit = MAX_NESTING): GuardResult {
  if (maxDepth(tokens) <= limit) return { tokens: tokens as IToken[], diagnostics: [], cutRanges: [] };
  const out: IToken[] = [];
  const diagnostics: Diagnostic[] = [];
  const cutRanges: [number, number][] = [];
  let depth = 0;
  for (let i = 0; i < tokens.length; i++) {
    const tok = tokens[i]!;
    const type = tok.tokenType;
    if (OPENERS.has(type)) {
      if (depth === limit) {
        const close = matchingCloser(tokens, i);
        diagnostics.push(makeDiagnostic("IV1022", tokenSpan(file, tok), { limit }));
        out.push(tok);
        if (type !== LBrace) out.push(placeholder(tok));
        if (close < 0) {
          cutRanges.push([tok.startOffset, Number.MAX_SAFE_INTEGER]);
          break;
        }
        out.push(tokens[close]!);
        cutRanges.push([tok.startOffset, tokens[close]!.endOffset! + 1]);
        i = close;
        continue;
      }
      depth++;
    } else if (CLOSERS.has(type)) {
      depth = Math.max(0, depth - 1);
    }
    out.push(tok);
  }
  return { tokens: out, diagnostics, cutRanges };
}

const DECLARATION_KEYWORDS: ReadonlySet<TokenType> = new Set([Import, Config, Preset, Module, Model, Train]);

function isNameLike(t: IToken | undefined): boolean {
  return t !== undefined && (t.tokenType === Identifier || (t.tokenType.CATEGORIES?.includes(Identifier) ?? false));
}

/**
 * A declaration keyword starts a new declaration when it is followed by what a declaration needs
 * next (a name, or `{` after `import`) and either sits at bracket depth 0 or at the start of a line
 * in column 1 (so a missing `}` in one module does not glue the next module onto it).
 */
function startsDeclaration(tokens: readonly IToken[], i: number, depth: number): boolean {
  const tok = tokens[i]!;
  if (!DECLARATION_KEYWORDS.has(tok.tokenType)) return false;
  const next = tokens[i + 1];
  const followed = tok.tokenType === Import ? next?.tokenType === LBrace : isNameLike(next);
  if (!followed) return false;
  return depth === 0 || tok.startColumn === 1;
}

/** [start, end) index ranges, one per declaration (or per run of stray tokens between them). */
export function splitDeclarations(tokens: readonly IToken[]): [number, number][] {
  const chunks: [number, number][] = [];
  let start = 0;
  let depth = 0;
  for (let i = 0; i < tokens.length; i++) {
    const type = tokens[i]!.tokenType;
    if (i > start && startsDeclaration(tokens, i, depth)) {
      chunks.push([start, i]);
      start = i;
      depth = 0;
    }
    if (OPENERS.has(type)) depth++;
    else if (CLOSERS.has(type)) depth = Math.max(0, depth - 1);
  }
  if (start < tokens.length) chunks.push([start, tokens.length]);
  return chunks;
}

export function isDeclarationStart(tok: IToken): boolean {
  return DECLARATION_KEYWORDS.has(tok.tokenType);
}

/** Tokens that begin a line (the grammar's two line-sensitive gates use this). */
export function lineStartTokens(tokens: readonly IToken[]): Set<IToken> {
  const starts = new Set<IToken>();
  let lastLine = -1;
  for (const t of tokens) {
    if (t.startLine !== lastLine) starts.add(t);
    lastLine = t.endLine!;
  }
  return starts;
}
