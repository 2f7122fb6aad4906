/**
 * rustc-style rendering:
 *
 *   models/x.ivm:12:7: error[IV3001]: shapes do not match: f32[B, 196] vs f32[B, 197]
 *      |
 *   12 |   let y = x + pos
 *      |           ^^^^^^^
 *      = note: ...
 *      = help: ...
 */
import type { Diagnostic, DiagnosticNote, Severity } from "./diagnostic.ts";
import { sliceDisplay, toDisplayLine } from "./display.ts";
import { sortAndDedupe } from "./order.ts";
import { spanText, type Span } from "./span.ts";

export interface RenderOptions {
  readonly color?: boolean;
}

/** Lines wider than this are cut to a window around the span. */
const MAX_LINE_WIDTH = 120;
const CONTEXT_BEFORE_SPAN = 24;

interface Palette {
  severity(s: Severity, text: string): string;
  gutter(text: string): string;
  bold(text: string): string;
}

const ANSI = (code: string) => (t: string) => `\u001b[${code}m${t}\u001b[0m`;
const COLORED: Palette = {
  severity: (s, t) => (s === "error" ? ANSI("1;31") : s === "warning" ? ANSI("1;33") : ANSI("1;36"))(t),
  gutter: ANSI("1;34"),
  bold: ANSI("1"),
};
const PLAIN: Palette = { severity: (_s, t) => t, gutter: (t) => t, bold: (t) => t };

export function splitLines(text: string): string[] {
  return text.split(/\r\n|\r|\n/);
}

interface SnippetLine {
  readonly lineNo: number;
  readonly text: string;
  /** Display columns [from, to) to underline; absent for a context-free "..." line. */
  readonly underline?: readonly [number, number];
}

/** One source line, windowed when wide, with the display range to underline. */
function snippetLine(lineNo: number, source: string, startIdx: number, endIdx: number): SnippetLine {
  const d = toDisplayLine(source);
  const from = d.displayCol[Math.min(startIdx, source.length)]!;
  let to = d.displayCol[Math.min(endIdx, source.length)]!;
  if (endIdx > source.length) to = Math.max(to, d.width + 1);
  if (to <= from) to = from + 1;
  if (d.width <= MAX_LINE_WIDTH) return { lineNo, text: d.text, underline: [from, to] };
  const windowStart = Math.max(0, Math.min(from - CONTEXT_BEFORE_SPAN, d.width - MAX_LINE_WIDTH));
  const windowEnd = Math.min(d.width, windowStart + MAX_LINE_WIDTH);
  const prefix = windowStart > 0 ? "..." : "";
  const suffix = windowEnd < d.width ? "..." : "";
  const shift = prefix.length - windowStart;
  const uFrom = from + shift;
  const uTo = Math.min(to, windowEnd + 1) + shift;
  return {
    lineNo,
    text: prefix + sliceDisplay(source, windowStart, windowEnd) + suffix,
    underline: [uFrom, Math.max(uTo, uFrom + 1)],
  };
}

function snippetFor(span: Span, lines: readonly string[]): SnippetLine[] {
  const firstIdx = span.line - 1;
  if (firstIdx < 0 || firstIdx >= lines.length) return [];
  let lastIdx = Math.min(span.endLine - 1, lines.length - 1);
  let endCol = span.endCol;
  // A span ending at the very start of a line really ends with the previous line.
  if (lastIdx > firstIdx && endCol <= 1) {
    lastIdx -= 1;
    endCol = lines[lastIdx]!.length + 1;
  }
  const first = lines[firstIdx]!;
  if (lastIdx <= firstIdx) {
    const endIdx = span.endLine - 1 === firstIdx ? endCol - 1 : first.length;
    return [snippetLine(span.line, first, span.col - 1, Math.max(endIdx, span.col - 1))];
  }
  const last = lines[lastIdx]!;
  const lastIndent = last.length - last.trimStart().length;
  const out: SnippetLine[] = [snippetLine(span.line, first, span.col - 1, Math.max(first.length, span.col))];
  if (lastIdx - firstIdx > 1) out.push({ lineNo: -1, text: "..." });
  out.push(snippetLine(lastIdx + 1, last, Math.min(lastIndent, endCol - 2), endCol - 1));
  return out;
}

function location(span: Span | undefined): string {
  return span ? `${spanText(span)}: ` : "";
}

function noteLine(note: DiagnosticNote): string {
  if (!note.span || note.message.includes(spanText(note.span))) return note.message;
  return `${note.message} (${spanText(note.span)})`;
}

function renderOne(d: Diagnostic, sources: ReadonlyMap<string, string>, p: Palette): string {
  const out: string[] = [];
  out.push(`${location(d.span)}${p.severity(d.severity, `${d.severity}[${d.code}]`)}: ${p.bold(d.message)}`);
  const text = d.span ? sources.get(d.span.file) : undefined;
  const snippet = d.span && text !== undefined ? snippetFor(d.span, splitLines(text)) : [];
  const gutterWidth = Math.max(1, ...snippet.filter((l) => l.lineNo > 0).map((l) => String(l.lineNo).length));
  const pad = " ".repeat(gutterWidth);
  if (snippet.length > 0) {
    out.push(p.gutter(`${pad} |`));
    for (const line of snippet) {
      if (line.lineNo < 0) {
        out.push(p.gutter(`${pad.slice(0, -1)}...`));
        continue;
      }
      out.push(`${p.gutter(`${String(line.lineNo).padStart(gutterWidth)} |`)}${line.text ? ` ${line.text}` : ""}`);
      if (line.underline) {
        const [from, to] = line.underline;
        out.push(`${p.gutter(`${pad} |`)} ${" ".repeat(from)}${p.severity(d.severity, "^".repeat(to - from))}`);
      }
    }
  }
  for (const note of d.notes ?? []) out.push(`${pad} ${p.gutter("=")} ${p.bold("note")}: ${noteLine(note)}`);
  if (d.help) out.push(`${pad} ${p.gutter("=")} ${p.bold("help")}: ${d.help}`);
  return out.join("\n");
}

/**
 * Renders sorted, de-duplicated diagnostics, one block each, separated by blank lines. `sources`
 * maps a span's file to its text; a diagnostic whose file is missing from it is shown without a
 * snippet.
 */
export function renderDiagnostics(
  diagnostics: readonly Diagnostic[],
  sources: ReadonlyMap<string, string>,
  options: RenderOptions = {},
): string {
  const palette = options.color ? COLORED : PLAIN;
  const blocks = sortAndDedupe(diagnostics).map((d) => renderOne(d, sources, palette));
  return blocks.length === 0 ? "" : `${blocks.join("\n\n")}\n`;
}

/** "2 errors, 1 warning" (empty when there is nothing to report). */
export function summarizeDiagnostics(diagnostics: readonly Diagnostic[]): string {
  const unique = sortAndDedupe(diagnostics);
  const count = (s: Severity) => unique.filter((d) => d.severity === s).length;
  const parts: string[] = [];
  const errors = count("error");
  const warnings = count("warning");
  if (errors > 0) parts.push(`${errors} error${errors === 1 ? "" : "s"}`);
  if (warnings > 0) parts.push(`${warnings} warning${warnings === 1 ? "" : "s"}`);
  return parts.join(", ");
}
