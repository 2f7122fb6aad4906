/** Reading chevrotain CST nodes defensively: after error recovery any child may be missing. */
import type { CstElement, CstNode, IToken } from "chevrotain";
import type { Diagnostic } from "../diagnostics/diagnostic.ts";
import type { Span } from "../diagnostics/span.ts";
import type { Identifier } from "./ast.ts";

export interface BuildContext {
  readonly file: string;
  readonly diagnostics: Diagnostic[];
}

/** Beyond this many, a declaration's conversion diagnostics would only repeat one mistake. */
export const MAX_DIAGNOSTICS_PER_DECLARATION = 100;

/** Records the diagnostic `make` builds, unless the declaration already has plenty. */
export function report(ctx: BuildContext, make: () => Diagnostic): void {
  if (ctx.diagnostics.length < MAX_DIAGNOSTICS_PER_DECLARATION) ctx.diagnostics.push(make());
}

function isToken(e: CstElement): e is IToken {
  return (e as IToken).tokenType !== undefined;
}

export function childNodes(n: CstNode | undefined, key: string): CstNode[] {
  return (n?.children[key] ?? []).filter((e): e is CstNode => !isToken(e));
}

export function childNode(n: CstNode | undefined, key: string): CstNode | undefined {
  return childNodes(n, key)[0];
}

/** Tokens under `key`, without the empty ones chevrotain inserts while recovering. */
export function childTokens(n: CstNode | undefined, key: string): IToken[] {
  return (n?.children[key] ?? []).filter(
    (e): e is IToken => isToken(e) && !e.isInsertedInRecovery && !Number.isNaN(e.startOffset),
  );
}

export function childToken(n: CstNode | undefined, key: string): IToken | undefined {
  return childTokens(n, key)[0];
}

/** All real tokens directly under `n`, in source order (for keys whose relative order matters). */
export function allChildTokens(n: CstNode | undefined, keys: readonly string[]): IToken[] {
  return keys.flatMap((k) => childTokens(n, k)).sort((a, b) => a.startOffset - b.startOffset);
}

/** Chevrotain marks unknown positions of recovered nodes with NaN or -1. */
function valid(x: number | undefined): x is number {
  return x !== undefined && Number.isFinite(x) && x >= 0;
}

export function tokSpan(ctx: BuildContext, t: IToken | undefined, fallback: Span): Span {
  if (!t || !valid(t.startOffset) || !valid(t.endOffset) || !valid(t.startLine) || !valid(t.startColumn)) return fallback;
  return {
    file: ctx.file,
    offset: t.startOffset,
    endOffset: t.endOffset + 1,
    line: t.startLine,
    col: t.startColumn,
    endLine: t.endLine!,
    endCol: t.endColumn! + 1,
  };
}

export function nodeSpan(ctx: BuildContext, n: CstNode | undefined, fallback: Span): Span {
  const loc = n?.location;
  if (
    !loc ||
    !valid(loc.startOffset) ||
    !valid(loc.endOffset) ||
    !valid(loc.startLine) ||
    !valid(loc.startColumn) ||
    !valid(loc.endLine) ||
    !valid(loc.endColumn)
  ) {
    return fallback;
  }
  if (loc.endOffset < loc.startOffset) return fallback;
  return {
    file: ctx.file,
    offset: loc.startOffset,
    endOffset: loc.endOffset + 1,
    line: loc.startLine,
    col: loc.startColumn,
    endLine: loc.endLine,
    endCol: loc.endColumn + 1,
  };
}

/** A zero-width span at the start of `s`. */
export function pointAt(s: Span): Span {
  return { ...s, endOffset: s.offset, endLine: s.line, endCol: s.col };
}

/** The identifier from token `t`, or an empty-named one where recovery left the name out. */
export function identifier(ctx: BuildContext, t: IToken | undefined, fallback: Span): Identifier {
  return { kind: "identifier", name: t?.image ?? "", span: tokSpan(ctx, t, pointAt(fallback)) };
}
