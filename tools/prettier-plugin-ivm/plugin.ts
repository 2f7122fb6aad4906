/**
 * The prettier plugin for .ivm: language, parser (the compiler's own `parseIvm`) and printer.
 * Load it through index.js (plain prettier) or import it from TypeScript (`ivc fmt`, the LSP).
 */
import type { Parser, Plugin, Printer, SupportLanguage } from "prettier";
import { hasErrors, renderDiagnostics, type Diagnostic } from "../../diagnostics/index.ts";
import { parseIvm, type Program } from "../../grammar/index.ts";
import { scanComments } from "./comments.ts";
import { IvmPrinter } from "./printer.ts";

/** The parser's result handed to the printer. No `comments` key: the printer places comments itself. */
export interface IvmRoot {
  readonly kind: "ivmRoot";
  readonly program: Program;
  readonly text: string;
  readonly span: { offset: number; endOffset: number };
}

/** Thrown for a file with syntax errors: its message is the rendered diagnostics, the file is left alone. */
export class FormatRefused extends Error {
  /** Prettier's CLI reports an error with `loc` as a syntax error: the message alone, no stack trace. */
  readonly loc?: { start: { line: number; column: number } };
  constructor(
    readonly file: string,
    readonly diagnostics: readonly Diagnostic[],
    text: string,
  ) {
    super(`${file} has syntax errors; not formatted\n${renderDiagnostics(diagnostics, new Map([[file, text]]), { color: false }).trimEnd()}`);
    this.name = "SyntaxError";
    const at = diagnostics.find((d) => d.span)?.span;
    if (at) this.loc = { start: { line: at.line, column: at.col } };
  }
}

export function parseForFormat(text: string, file: string): Program {
  const { program, diagnostics } = parseIvm(text, file);
  const errors = diagnostics.filter((d) => d.severity === "error");
  if (hasErrors(diagnostics)) throw new FormatRefused(file, errors, text);
  return program;
}

export const languages: SupportLanguage[] = [
  { name: "ivm", parsers: ["ivm"], extensions: [".ivm"], vscodeLanguageIds: ["ivm"], linguistLanguageId: undefined as never },
];

const parser: Parser<IvmRoot> = {
  astFormat: "ivm",
  parse(text, options) {
    const file = (options as { filepath?: string }).filepath ?? "<input>.ivm";
    return { kind: "ivmRoot", program: parseForFormat(text, file), text, span: { offset: 0, endOffset: text.length } };
  },
  locStart: (node) => node.span.offset,
  locEnd: (node) => node.span.endOffset,
};

const printer: Printer<IvmRoot> = {
  print(path, options) {
    const root = path.node;
    const p = new IvmPrinter(root.text, scanComments(root.text), { printWidth: options.printWidth, tabWidth: options.tabWidth });
    const doc = p.program(root.program);
    const total = scanComments(root.text).length;
    // Never drop a comment silently: a miss here is a printer bug, and the file must stay as it was.
    if (p.printedComments !== total) throw new Error(`ivm printer placed ${p.printedComments} of ${total} comments`);
    return doc;
  },
};

export const parsers = { ivm: parser };
export const printers = { ivm: printer };
/** The hand-written models use 120 columns and two-space indents. */
export const defaultOptions = { printWidth: 120, tabWidth: 2 };

const plugin: Plugin<IvmRoot> = { languages, parsers, printers, defaultOptions };
export default plugin;
