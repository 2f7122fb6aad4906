/**
 * The diagnostic value every stage of ivc reports through, and `makeDiagnostic`, which builds one
 * from the catalog so that codes, severities and wording stay in one place.
 */
import type { Span } from "./span.ts";
import { CATALOG, type DiagnosticCode, type DiagnosticDef } from "./catalog.ts";

export type Severity = "error" | "warning" | "note";

export interface DiagnosticNote {
  readonly message: string;
  readonly span?: Span;
}

export interface Diagnostic {
  readonly code: string;
  readonly severity: Severity;
  readonly message: string;
  readonly span?: Span;
  readonly help?: string;
  readonly notes?: readonly DiagnosticNote[];
}

export type TemplateArgs = Readonly<Record<string, string | number>>;

export interface DiagnosticExtras {
  /** Replaces the catalog's help text (already filled in). */
  readonly help?: string;
  readonly notes?: readonly DiagnosticNote[];
  /** Overrides the catalog severity, e.g. a lint promoted to an error. */
  readonly severity?: Severity;
}

/**
 * Fills `{name}` placeholders from `args`. A placeholder without an argument is left visible as
 * `{name}` so that a forgotten argument shows up in the output (and in tests) instead of vanishing.
 */
export function fillTemplate(template: string, args: TemplateArgs): string {
  return template.replace(/\{([A-Za-z_][A-Za-z0-9_]*)\}/g, (whole, key: string) =>
    Object.prototype.hasOwnProperty.call(args, key) ? String(args[key]) : whole,
  );
}

/** A diagnostic for catalog entry `code`, with `args` filled into its message and help templates. */
export function makeDiagnostic(
  code: DiagnosticCode,
  span: Span | undefined,
  args: TemplateArgs = {},
  extras: DiagnosticExtras = {},
): Diagnostic {
  const def: DiagnosticDef = CATALOG[code];
  const help = extras.help ?? (def.help === undefined ? undefined : fillTemplate(def.help, args));
  return {
    code,
    severity: extras.severity ?? def.severity,
    message: fillTemplate(def.message, args),
    ...(span ? { span } : {}),
    ...(help ? { help } : {}),
    ...(extras.notes && extras.notes.length > 0 ? { notes: extras.notes } : {}),
  };
}

export function hasErrors(diagnostics: readonly Diagnostic[]): boolean {
  return diagnostics.some((d) => d.severity === "error");
}
