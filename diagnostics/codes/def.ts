import type { Severity } from "../diagnostic.ts";

/**
 * One catalog entry. `message` and `help` are templates: `{name}` is replaced by the argument of
 * that name. Codes are stable: never reuse or renumber one; retire it by leaving it in place.
 */
export interface DiagnosticDef {
  readonly severity: Severity;
  readonly message: string;
  readonly help?: string;
}

export type CodeTable = Readonly<Record<string, DiagnosticDef>>;
