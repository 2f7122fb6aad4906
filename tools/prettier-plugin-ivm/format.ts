/**
 * Formatting entry points for the CLI, the language server and tests: prettier with the .ivm plugin,
 * plus a safety net. Every result is re-parsed and compared with the input, tree for tree (spans
 * aside) and comment for comment, so a printer bug raises an error instead of rewriting a model.
 */
import * as prettier from "prettier";
import { parseIvm, type Program } from "../../grammar/index.ts";
import { scanComments } from "./comments.ts";
import plugin, { parseForFormat } from "./plugin.ts";

export { FormatRefused } from "./plugin.ts";

export interface FormatOptions {
  /** Look up .prettierrc / .editorconfig for this file (the CLI does; tests pass false). */
  readonly resolveConfig?: boolean;
  readonly printWidth?: number;
}

function isSpan(v: unknown): boolean {
  return typeof v === "object" && v !== null && "offset" in v && "endOffset" in v && "line" in v;
}

/** The tree with every location dropped (a span's presence is kept: `leadingEllipsis`). */
export function withoutSpans(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(withoutSpans);
  if (typeof node !== "object" || node === null) return node;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(node)) {
    if (k === "file") continue;
    out[k] = isSpan(v) ? true : withoutSpans(v);
  }
  return out;
}

/** The path to the first difference between two trees, or undefined when they are the same. */
export function treeDifference(a: unknown, b: unknown, at = "program"): string | undefined {
  if (typeof a !== "object" || a === null || typeof b !== "object" || b === null) return Object.is(a, b) ? undefined : at;
  if (Array.isArray(a) !== Array.isArray(b)) return at;
  const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
  for (const k of keys) {
    const d = treeDifference((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k], `${at}.${k}`);
    if (d) return d;
  }
  return undefined;
}

function commentTexts(text: string): string[] {
  return scanComments(text)
    .map((c) => c.text.trim())
    .sort();
}

/** Throws when `formatted` does not say exactly what `original` said. */
export function verifyFormatted(original: Program, originalText: string, formatted: string, file: string): void {
  const again = parseIvm(formatted, file);
  if (again.diagnostics.some((d) => d.severity === "error")) {
    throw new Error(`internal error: the formatted ${file} does not parse (${again.diagnostics[0]!.message}); file left unchanged`);
  }
  const diff = treeDifference(withoutSpans(original), withoutSpans(again.program));
  if (diff) throw new Error(`internal error: formatting ${file} would change ${diff}; file left unchanged`);
  if (JSON.stringify(commentTexts(originalText)) !== JSON.stringify(commentTexts(formatted))) {
    throw new Error(`internal error: formatting ${file} would change its comments; file left unchanged`);
  }
}

/** The formatted text. Throws FormatRefused (rendered diagnostics) for a file with syntax errors. */
export async function formatIvm(text: string, file: string, opts: FormatOptions = {}): Promise<string> {
  const program = parseForFormat(text, file);
  const config = opts.resolveConfig ? ((await prettier.resolveConfig(file)) ?? {}) : {};
  const formatted = await prettier.format(text, {
    ...config,
    ...(opts.printWidth !== undefined ? { printWidth: opts.printWidth } : {}),
    parser: "ivm",
    plugins: [plugin],
    filepath: file,
  });
  verifyFormatted(program, text, formatted, file);
  return formatted;
}
