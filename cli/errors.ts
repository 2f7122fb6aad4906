import { type DiagnosticCode, makeDiagnostic, type TemplateArgs } from "../diagnostics/index.ts";

/** Wrong invocation: unknown flag value, missing file. Exit code 2, one line. */
export class UsageError extends Error {}

/** Bad user input the command cannot proceed with (corrupt checkpoint, missing adapter). Exit code 1. */
export class UserError extends Error {
  constructor(
    message: string,
    readonly help?: string,
    /** The catalog code (diagnostics/codes/) when the error has one; printed as `error[IV6005]`. */
    readonly code?: DiagnosticCode,
  ) {
    super(message);
  }
}

/** A UserError worded by the diagnostics catalog, so its text and code stay in one place. */
export function catalogError(code: DiagnosticCode, args: TemplateArgs): UserError {
  const d = makeDiagnostic(code, undefined, args);
  return new UserError(d.message, d.help, code);
}
