/** A region of source text. Lines and columns are 1-based; offsets are 0-based UTF-16 indices; end is exclusive. */
export interface Span {
  readonly file: string;
  readonly offset: number;
  readonly endOffset: number;
  readonly line: number;
  readonly col: number;
  readonly endLine: number;
  readonly endCol: number;
}

export function spanText(s: Span): string {
  return `${s.file}:${s.line}:${s.col}`;
}

/** The smallest span covering both; both must be in the same file. */
export function joinSpans(a: Span, b: Span): Span {
  const first = a.offset <= b.offset ? a : b;
  const last = a.endOffset >= b.endOffset ? a : b;
  return {
    file: a.file,
    offset: first.offset,
    line: first.line,
    col: first.col,
    endOffset: last.endOffset,
    endLine: last.endLine,
    endCol: last.endCol,
  };
}
