/**
 * The .ivm front end: `parseIvm` turns text into an AST plus diagnostics and never throws.
 *
 * Pipeline: lex (lexer.ts) -> cap nesting (structure.ts) -> split into top-level declarations ->
 * parse each with chevrotain (parser.ts) -> humanize errors (errors.ts) -> build the AST (cst-*.ts).
 */
import type { CstNode } from "chevrotain";
import type { Diagnostic } from "../diagnostics/diagnostic.ts";
import { makeDiagnostic } from "../diagnostics/diagnostic.ts";
import type { Span } from "../diagnostics/span.ts";
import type { ImportDecl, Program, TopDecl } from "./ast.ts";
import { DeclBuilder } from "./cst-decl.ts";
import type { BuildContext } from "./cst-util.ts";
import { SyntaxErrorMapper } from "./errors.ts";
import { lex } from "./lexer.ts";
import { ivmParser, TooManyErrors, type IvmParser } from "./parser.ts";
import { LineIndex, spanBetween, tokenSpan } from "./spans.ts";
import { guardNesting, isDeclarationStart, lineStartTokens, splitDeclarations } from "./structure.ts";

export type * from "./ast.ts";
export { readSource, decodeSource, type SourceText } from "./source.ts";
export { MAX_NESTING } from "./structure.ts";
export { MAX_ERRORS_PER_DECLARATION } from "./parser.ts";
export { MAX_OPERATORS } from "./cst-expr.ts";
export { INITIALIZERS, ANNOTATIONS } from "./annotations.ts";

export interface ParseResult {
  readonly program: Program;
  readonly diagnostics: Diagnostic[];
}

function inside(ranges: readonly (readonly [number, number])[], d: Diagnostic): boolean {
  const at = d.span?.offset;
  return at !== undefined && ranges.some(([from, to]) => at > from && at < to);
}

/** A stray character or broken literal explains any syntax error on its line. */
function onLexicalErrorLine(lexicalLines: ReadonlySet<number>, d: Diagnostic): boolean {
  return d.span !== undefined && lexicalLines.has(d.span.line);
}

/** Conversion checks next to a syntax error would only repeat it; keep those that stand apart. */
function awayFrom(syntaxErrors: readonly Diagnostic[], d: Diagnostic): boolean {
  const line = d.span?.line;
  return line === undefined || syntaxErrors.every((e) => e.span === undefined || Math.abs(e.span.line - line) > 1);
}

/** The declaration's CST, or undefined when it had so many errors that parsing stopped. */
function parseDeclaration(parser: IvmParser): CstNode | undefined {
  // Chevrotain signals every syntax error with an exception; their stack traces are never shown
  // and capturing them dominates the cost of parsing badly broken input.
  const stackTraceLimit = Error.stackTraceLimit;
  Error.stackTraceLimit = 0;
  try {
    return parser.topDecl();
  } catch (e) {
    if (e instanceof TooManyErrors) return undefined;
    throw e;
  } finally {
    Error.stackTraceLimit = stackTraceLimit;
  }
}

/** Like a C compiler's error limit: past this many, more errors only bury the first ones. */
export const MAX_SYNTAX_ERRORS = 200;

function parseText(text: string, file: string): ParseResult {
  const lines = new LineIndex(text);
  const whole: Span = lines.span(file, 0, text.length);
  const endOfFile: Span = lines.span(file, text.length, text.length);
  // One more than the limit, so that the note can point at the first lexical error not shown.
  const lexed = lex(text, file, MAX_SYNTAX_ERRORS + 1);
  const tokens = lexed.tokens;
  const lexical = [...lexed.diagnostics].sort((a, b) => a.span!.offset - b.span!.offset);
  const lexicalLines = new Set(lexical.map((d) => d.span!.line));
  let nextLexical = 0;
  const swallowedByComment = lexical.some((d) => d.code === "IV1003");
  const diagnostics: Diagnostic[] = [];
  const layout = { lineStarts: lineStartTokens(tokens) };
  const parser = ivmParser();
  const imports: ImportDecl[] = [];
  const decls: TopDecl[] = [];

  let errorCount = 0;
  const chunks = splitDeclarations(tokens);
  let c = 0;
  for (; c <= chunks.length && errorCount < MAX_SYNTAX_ERRORS; c++) {
    // Lexical errors are released in source order with the declarations they fall in.
    const until = c < chunks.length ? tokens[chunks[c]![1] - 1]!.endOffset! : Number.POSITIVE_INFINITY;
    while (nextLexical < lexical.length && lexical[nextLexical]!.span!.offset <= until && errorCount < MAX_SYNTAX_ERRORS) {
      diagnostics.push(lexical[nextLexical++]!);
      errorCount++;
    }
    if (c === chunks.length || errorCount >= MAX_SYNTAX_ERRORS) break;
    const [start, end] = chunks[c]!;
    // Nesting is capped per declaration, so brackets left open in one do not count against the next.
    const guarded = guardNesting(tokens.slice(start, end), file);
    const chunk = guarded.tokens;
    diagnostics.push(...guarded.diagnostics);
    const mapper = new SyntaxErrorMapper({ file, tokens: chunk, following: tokens[end], endOfFile });
    if (!isDeclarationStart(chunk[0]!)) {
      const stray = mapper.strayTokens(chunk[0]!);
      if (!onLexicalErrorLine(lexicalLines, stray)) {
        diagnostics.push(stray);
        errorCount++;
      }
      continue;
    }
    parser.setInput(chunk, layout);
    const cst = parseDeclaration(parser);
    const syntax = mapper.map(parser.errors).filter((d) => !inside(guarded.cutRanges, d));
    const ctx: BuildContext = { file, diagnostics: [] };
    const decl = cst && new DeclBuilder(ctx).topDecl(cst, spanBetween(file, chunk[0]!, chunk.at(-1)!));
    // An unterminated block comment runs to the end of the file and cuts the last declaration short.
    const truncated = swallowedByComment && c === chunks.length - 1;
    const explained = truncated ? [] : syntax.filter((d) => !onLexicalErrorLine(lexicalLines, d));
    const converted = ctx.diagnostics.filter((d) => awayFrom(syntax, d));
    diagnostics.push(...explained, ...converted);
    errorCount += [...explained, ...converted, ...guarded.diagnostics].filter((d) => d.severity === "error").length;
    if (decl?.kind === "import") imports.push(decl);
    else if (decl) decls.push(decl);
  }
  if (errorCount >= MAX_SYNTAX_ERRORS) {
    // Point at the first thing left unchecked: a lexical error or the next declaration.
    const unchecked = [lexical[nextLexical]?.span, chunks[c] && tokenSpan(file, tokens[chunks[c]![0]]!)]
      .filter((x): x is Span => x !== undefined)
      .sort((a, b) => a.offset - b.offset)[0];
    if (unchecked) diagnostics.push(makeDiagnostic("IV1039", unchecked, { limit: MAX_SYNTAX_ERRORS }));
  }
  if (imports.length === 0 && decls.length === 0 && diagnostics.length === 0) {
    diagnostics.push(makeDiagnostic("IV1008", endOfFile.offset === 0 ? endOfFile : lines.span(file, 0, 0), { file }));
  }
  return { program: { kind: "program", file, imports, decls, span: whole }, diagnostics };
}

function isStackOverflow(e: unknown): boolean {
  return e instanceof RangeError && /call stack/i.test(e.message);
}

/** Parses one .ivm file. Never throws: every problem in `text` is a diagnostic. */
export function parseIvm(text: string, file: string): ParseResult {
  try {
    return parseText(text, file);
  } catch (e) {
    // The nesting guard should make this unreachable; it stays as the last line of defence.
    if (!isStackOverflow(e)) throw e;
    const span = new LineIndex(text).span(file, 0, 0);
    const program: Program = { kind: "program", file, imports: [], decls: [], span };
    return { program, diagnostics: [makeDiagnostic("IV1022", span, { limit: "the parser's" })] };
  }
}
