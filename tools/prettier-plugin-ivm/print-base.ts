/**
 * The comment-aware layout core of the .ivm printer: bracketed lists that break one item per line,
 * `{ ... }` blocks of members or statements, and comment placement.
 *
 * Comments are not in the AST, so they are placed by source offset: the printer walks the tree in
 * source order and, before anything it prints, flushes every comment that starts earlier. A comment
 * on the same source line as what was printed last is a trailing comment (a prettier lineSuffix, so
 * it stays at the end of that line); any other is printed on its own line. In blocks, runs of
 * one-line items with trailing `//` comments get their comments aligned, as the repository's
 * hand-written files do. `printedComments` lets the caller check that nothing was dropped.
 */
import { doc, type Doc } from "prettier";
import type { Span } from "../../diagnostics/span.ts";
import { type Comment, Lines } from "./comments.ts";

const { group, indent, line, softline, hardline, join, ifBreak, lineSuffix, breakParent } = doc.builders;

export interface LayoutOptions {
  readonly printWidth: number;
  readonly tabWidth: number;
}

/** Two spaces before a trailing comment, the convention of the hand-written models. */
const TRAILING_GAP = "  ";

interface Row {
  readonly before: Doc[];
  readonly blank: boolean;
  readonly doc: Doc;
  readonly trailing: readonly Comment[];
  /** `//` lines under the trailing comment, starting in its column: one comment wrapped over lines. */
  readonly continued: readonly Comment[];
  /** True when comments were printed inside the item, which makes it unfit for alignment. */
  readonly hasInnerComments: boolean;
}

export interface ListOptions {
  /** Whether the language allows a trailing comma here (it does not in tensor types and index lists). */
  readonly trailingComma: boolean;
  /** `{ a, b }` rather than `{a, b}` when on one line. */
  readonly spaced?: boolean;
  /** Config and preset bodies: commas on one line, none when broken (one item per line, as written). */
  readonly lineSeparated?: boolean;
}

export class PrinterBase {
  private next = 0;
  /** End offset of the last thing printed: a node, a bracket or a comment. */
  protected lastEnd = 0;
  private depth = 0;
  private readonly lines: Lines;

  constructor(
    protected readonly text: string,
    private readonly comments: readonly Comment[],
    private readonly opts: LayoutOptions,
  ) {
    this.lines = new Lines(text);
  }

  /** The source with comments blanked out, for looking at the tokens around a position. */
  protected get code(): string {
    if (this.codeCache === undefined) {
      let out = this.text;
      for (const c of this.comments) out = out.slice(0, c.start) + " ".repeat(c.end - c.start) + out.slice(c.end);
      this.codeCache = out;
    }
    return this.codeCache;
  }
  private codeCache: string | undefined;

  get printedComments(): number {
    return this.next;
  }

  /** The source text of a node, for literals whose spelling the AST does not keep (strings). */
  protected source(span: Span): string {
    return this.text.slice(span.offset, span.endOffset);
  }

  /** Offset of the next character that is not whitespace, a comment or (with `seps`) `,` / `;`. */
  protected after(offset: number, seps = false): number {
    let i = offset;
    for (;;) {
      const c = this.text[i];
      if (c === undefined) return i;
      if (/\s/.test(c) || (seps && (c === "," || c === ";"))) i++;
      else if (c === "/" && this.text[i + 1] === "/") while (i < this.text.length && this.text[i] !== "\n") i++;
      else if (c === "/" && this.text[i + 1] === "*") {
        const close = this.text.indexOf("*/", i + 2);
        i = close < 0 ? this.text.length : close + 2;
      } else return i;
    }
  }

  protected hasComment(from: number, to: number): boolean {
    return this.comments.some((c) => c.start >= from && c.start < to);
  }

  private sameLine(a: number, b: number): boolean {
    return this.lines.lineOf(a) === this.lines.lineOf(b);
  }

  /** Whether the source has an empty line just before `offset`. */
  protected blankLineBefore(offset: number): boolean {
    let newlines = 0;
    for (let i = offset - 1; i >= 0 && /\s/.test(this.text[i]!); i--) if (this.text[i] === "\n") newlines++;
    return newlines >= 2;
  }

  private followedByNewline(c: Comment): boolean {
    const rest = /^[ \t]*(\r?\n|$)/.exec(this.text.slice(c.end, c.end + 200));
    return rest !== null;
  }

  private pending(before: number): Comment | undefined {
    const c = this.comments[this.next];
    return c !== undefined && c.start < before ? c : undefined;
  }

  private take(): Comment {
    const c = this.comments[this.next++]!;
    this.lastEnd = c.end;
    return c;
  }

  private trailingDoc(c: Comment): Doc {
    if (c.kind === "line") return [lineSuffix(`${TRAILING_GAP}${c.text}`), breakParent];
    return this.followedByNewline(c) ? lineSuffix(` ${c.text}`) : [c.text, " "];
  }

  /** Every comment before `offset` not yet printed, laid out in front of what starts there. */
  protected leading(offset: number): Doc[] {
    const out: Doc[] = [];
    for (let c = this.pending(offset); c; c = this.pending(offset)) {
      const trailing = this.lastEnd > 0 && this.sameLine(this.lastEnd, c.start);
      this.take();
      // Mid-expression, a `//` comment keeps its place and the line breaks after it. (Deferred to the
      // end of the output line, it could land on a line that already ends in a comment and merge.)
      if (trailing) out.push(c.kind === "line" ? [` ${c.text}`, hardline] : this.trailingDoc(c));
      else out.push(c.text, c.kind === "line" || this.followedByNewline(c) ? hardline : " ");
    }
    return out;
  }

  /** Comments before `limit` that start on the line where the last printed thing ended. */
  private trailingComments(limit: number): Comment[] {
    const out: Comment[] = [];
    for (let c = this.pending(limit); c && this.sameLine(this.lastEnd, c.start); c = this.pending(limit)) out.push(this.take());
    return out;
  }

  /** Trailing comments where a line break follows at once (after an operator): they end that line. */
  protected beforeBreak(limit: number): Doc[] {
    return this.trailingComments(limit).map((c) => this.endOfLine(c));
  }

  protected trailing(limit: number): Doc[] {
    return this.trailingComments(limit).map((c) => this.trailingDoc(c));
  }

  /**
   * Comments right after an opening bracket (or before it, on its line) go to the end of that line,
   * block comments too: printed inline they would be read back as after-the-bracket comments.
   */
  private head(limit: number): Doc[] {
    return this.trailingComments(limit).map((c) => this.endOfLine(c));
  }

  private endOfLine(c: Comment): Doc {
    return c.kind === "line" ? this.trailingDoc(c) : lineSuffix(` ${c.text}`);
  }

  /** Comments left before a closing bracket, each on its own line (or at the end of the last line). */
  private tail(close: number): Doc[] {
    const out: Doc[] = [];
    for (let c = this.pending(close); c; c = this.pending(close)) {
      const trailing = this.sameLine(this.lastEnd, c.start);
      this.take();
      out.push(trailing ? this.trailingDoc(c) : [hardline, c.text]);
    }
    return out;
  }

  /** Prints a node after the comments in front of it and records where it ended. */
  protected node(span: Span, print: () => Doc): Doc {
    const before = this.leading(span.offset);
    // Printing has now reached the node: a comment after its first token is on "the last printed line".
    this.lastEnd = Math.max(this.lastEnd, span.offset);
    const body = print();
    this.lastEnd = Math.max(this.lastEnd, span.endOffset);
    return before.length > 0 ? [...before, body] : body;
  }

  /**
   * `(a, b, c)` that breaks into one item per line. `openAt` is the offset of the opening bracket;
   * `close` the closing bracket, which must follow the last item after at most a comma and comments.
   */
  protected list<T extends { span: Span }>(open: string, openAt: number, items: readonly T[], print: (item: T) => Doc, close: string, o: ListOptions): Doc {
    this.lastEnd = openAt + 1;
    const closeAt = this.after(items.length > 0 ? items.at(-1)!.span.endOffset : openAt + 1, true);
    const head = this.head(items[0]?.span.offset ?? closeAt);
    const parts: Doc[] = items.map((item, i) => {
      const d = this.node(item.span, () => print(item));
      const last = i === items.length - 1;
      const sep = o.lineSeparated ? (last ? "" : ifBreak("", ",")) : !last ? "," : o.trailingComma ? ifBreak(",", "") : "";
      // After the separator a `line` follows: an inline block comment takes its space before it.
      const after = this.trailingComments(items[i + 1]?.span.offset ?? closeAt).map((c) =>
        c.kind === "block" ? [" ", c.text] : this.trailingDoc(c),
      );
      return [d, sep, ...after];
    });
    const tail = this.tail(closeAt);
    this.lastEnd = closeAt + 1;
    if (parts.length === 0 && tail.length === 0 && head.length === 0) return [open, close];
    const edge = o.spaced ? line : softline;
    return group([open, ...head, indent([edge, join(line, parts), ...tail]), edge, close]);
  }

  /**
   * Items of a `{ ... }` body (or of the whole file), one per line: comments on their own lines in
   * front, trailing comments aligned, single empty lines between items kept.
   */
  protected rows<T extends { span: Span }>(items: readonly T[], print: (item: T) => Doc, close: number): Doc[] {
    this.depth++;
    const rows: Row[] = [];
    for (let i = 0; i < items.length; i++) {
      const item = items[i]!;
      const before: Doc[] = [];
      let blank = false;
      for (let c = this.pending(item.span.offset); c; c = this.pending(item.span.offset)) {
        if (this.blankLineBefore(c.start) && (rows.length > 0 || before.length > 0)) before.push("");
        this.take();
        before.push(c.kind === "block" && !this.followedByNewline(c) ? [c.text, " "] : c.text);
      }
      blank = this.blankLineBefore(item.span.offset) && (rows.length > 0 || before.length > 0);
      const printedBefore = this.next;
      this.lastEnd = Math.max(this.lastEnd, item.span.offset);
      const d = print(item);
      this.lastEnd = Math.max(this.lastEnd, item.span.endOffset);
      const hasInnerComments = this.next !== printedBefore;
      const limit = items[i + 1]?.span.offset ?? close;
      const trailing = this.trailingComments(limit);
      const continued: Comment[] = [];
      const last = trailing.at(-1);
      if (last?.kind === "line") {
        const column = this.lines.columnOf(trailing[0]!.start);
        for (let c = this.pending(limit); c && c.kind === "line"; c = this.pending(limit)) {
          const below = this.lines.lineOf(c.start) === this.lines.lineOf((continued.at(-1) ?? last).start) + 1;
          if (!below || this.lines.columnOf(c.start) !== column) break;
          continued.push(this.take());
        }
      }
      rows.push({ before, blank, doc: d, trailing, continued, hasInnerComments });
    }
    const after: Doc[] = [];
    for (let c = this.pending(close); c; c = this.pending(close)) {
      const trailing = rows.length === 0 && this.sameLine(this.lastEnd, c.start);
      if (!trailing && this.blankLineBefore(c.start) && (rows.length > 0 || after.length > 0)) after.push("");
      this.take();
      after.push(c.text);
    }
    this.depth--;
    return [...this.layoutRows(rows), ...after];
  }

  /** One doc per output line (empty string for an empty line); the caller joins them with hardlines. */
  private layoutRows(rows: readonly Row[]): Doc[] {
    const widths = rows.map((r) => this.oneLineWidth(r));
    // Runs of consecutive one-line rows with one trailing `//` comment each share a comment column.
    const column: number[] = [];
    for (let i = 0; i < rows.length; ) {
      let j = i + 1;
      if (widths[i] !== undefined) while (j < rows.length && widths[j] !== undefined && !rows[j]!.blank && rows[j]!.before.length === 0) j++;
      const max = Math.max(...widths.slice(i, j).map((w) => w ?? 0));
      for (let k = i; k < j; k++) column[k] = max;
      i = j;
    }
    const out: Doc[] = [];
    rows.forEach((r, i) => {
      for (const b of r.before) if (!Array.isArray(b)) out.push(b);
      if (r.blank) out.push("");
      const inline = r.before.filter((b) => Array.isArray(b));
      const w = widths[i];
      const trailing = r.trailing.map((c, k) =>
        k === 0 && w !== undefined ? [lineSuffix(`${" ".repeat(column[i]! - w)}${TRAILING_GAP}${c.text}`), breakParent] : this.endOfLine(c),
      );
      out.push([...inline, r.doc, ...trailing]);
      // Without a known comment column (the item spans lines) the continuation lines become own-line comments.
      const indent = w === undefined ? "" : " ".repeat(column[i]! + TRAILING_GAP.length);
      for (const c of r.continued) out.push(`${indent}${c.text}`);
    });
    return out;
  }

  /** The width of a row printed on one line, when it has exactly one trailing `//` comment and fits. */
  private oneLineWidth(r: Row): number | undefined {
    if (r.trailing.length !== 1 || r.trailing[0]!.kind !== "line" || r.hasInnerComments) return undefined;
    const width = this.opts.printWidth - this.depth * this.opts.tabWidth;
    const printed = doc.printer.printDocToString(r.doc, { printWidth: width, tabWidth: this.opts.tabWidth, useTabs: false } as never).formatted as string;
    return printed.includes("\n") ? undefined : printed.length;
  }

  /** `{ ... }` around rows; `{}` when empty. `openAt` / `closeAt` are the braces' offsets. */
  protected block<T extends { span: Span }>(openAt: number, items: readonly T[], print: (item: T) => Doc, closeAt: number): Doc {
    this.lastEnd = openAt + 1;
    const head = this.head(items[0]?.span.offset ?? closeAt);
    const body = this.rows(items, print, closeAt);
    this.lastEnd = closeAt + 1;
    if (body.length === 0) return head.length === 0 ? "{}" : ["{", ...head, hardline, "}"];
    return ["{", ...head, indent([hardline, join(hardline, body)]), hardline, "}"];
  }
}
