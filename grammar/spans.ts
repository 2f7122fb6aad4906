/** Source positions from chevrotain tokens, in the compiler's `Span` form. */
import type { IToken } from "chevrotain";
import type { Span } from "../diagnostics/span.ts";

/** Chevrotain offsets, lines and columns are inclusive at the end; a Span's end is exclusive. */
export function tokenSpan(file: string, t: IToken): Span {
  return {
    file,
    offset: t.startOffset,
    endOffset: t.endOffset! + 1,
    line: t.startLine!,
    col: t.startColumn!,
    endLine: t.endLine!,
    endCol: t.endColumn! + 1,
  };
}

export function spanBetween(file: string, first: IToken, last: IToken): Span {
  return {
    file,
    offset: first.startOffset,
    endOffset: last.endOffset! + 1,
    line: first.startLine!,
    col: first.startColumn!,
    endLine: last.endLine!,
    endCol: last.endColumn! + 1,
  };
}

/** A one-character span just after token `t` (where a missing `)` or `}` belongs). */
export function spanAfter(file: string, t: IToken): Span {
  const offset = t.endOffset! + 1;
  return {
    file,
    offset,
    endOffset: offset + 1,
    line: t.endLine!,
    col: t.endColumn! + 1,
    endLine: t.endLine!,
    endCol: t.endColumn! + 2,
  };
}

/** Line/column of an offset in `text`, counting `\r\n`, `\r` and `\n` as one line break each. */
export class LineIndex {
  private readonly starts: number[] = [0];

  constructor(readonly text: string) {
    for (let i = 0; i < text.length; i++) {
      const c = text.charCodeAt(i);
      if (c === 10) this.starts.push(i + 1);
      else if (c === 13) {
        if (text.charCodeAt(i + 1) === 10) i++;
        this.starts.push(i + 1);
      }
    }
  }

  position(offset: number): { line: number; col: number } {
    let lo = 0;
    let hi = this.starts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.starts[mid]! <= offset) lo = mid;
      else hi = mid - 1;
    }
    return { line: lo + 1, col: offset - this.starts[lo]! + 1 };
  }

  span(file: string, offset: number, endOffset: number): Span {
    const a = this.position(offset);
    const b = this.position(endOffset);
    return { file, offset, endOffset, line: a.line, col: a.col, endLine: b.line, endCol: b.col };
  }
}
