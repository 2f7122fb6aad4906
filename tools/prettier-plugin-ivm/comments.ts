/**
 * Comments of an .ivm source. The lexer skips them (grammar/tokens.ts puts them in Lexer.SKIPPED),
 * so the AST has none; this scanner finds them again with the same rules: `//` to the end of the
 * line and `/* ... *\/` (not nested), never inside a one-line string literal.
 */

export interface Comment {
  readonly kind: "line" | "block";
  /** The comment as written, delimiters included (a line comment without its newline). */
  readonly text: string;
  readonly start: number;
  readonly end: number;
}

/** Every comment in source order. An unterminated block comment runs to the end of the text. */
export function scanComments(text: string): Comment[] {
  const out: Comment[] = [];
  let i = 0;
  while (i < text.length) {
    const c = text[i];
    if (c === '"') {
      // A string ends at its closing quote or at the end of the line (unterminated: IV1002).
      i++;
      while (i < text.length && text[i] !== '"' && text[i] !== "\n" && text[i] !== "\r") i += text[i] === "\\" ? 2 : 1;
      i++;
    } else if (c === "/" && text[i + 1] === "/") {
      let end = i;
      while (end < text.length && text[end] !== "\n" && text[end] !== "\r") end++;
      out.push({ kind: "line", text: text.slice(i, end).trimEnd(), start: i, end });
      i = end;
    } else if (c === "/" && text[i + 1] === "*") {
      const close = text.indexOf("*/", i + 2);
      const end = close < 0 ? text.length : close + 2;
      out.push({ kind: "block", text: text.slice(i, end), start: i, end });
      i = end;
    } else {
      i++;
    }
  }
  return out;
}

/** Offsets to 0-based line numbers. */
export class Lines {
  private readonly starts: number[] = [0];
  constructor(text: string) {
    for (let i = 0; i < text.length; i++) if (text[i] === "\n") this.starts.push(i + 1);
  }
  columnOf(offset: number): number {
    return offset - this.starts[this.lineOf(offset)]!;
  }
  lineOf(offset: number): number {
    let lo = 0;
    let hi = this.starts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.starts[mid]! <= offset) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  }
}
