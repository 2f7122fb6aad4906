import type { Diagnostic, Severity } from "./diagnostic.ts";
import { sortAndDedupe } from "./order.ts";

export interface DiagnosticJson {
  code: string;
  severity: Severity;
  file: string | null;
  line: number | null;
  col: number | null;
  endLine: number | null;
  endCol: number | null;
  message: string;
  help: string | null;
  notes: { message: string; file: string | null; line: number | null; col: number | null }[];
}

/** Plain objects for `--json` output and editor integrations; sorted and de-duplicated. */
export function diagnosticsToJson(diagnostics: readonly Diagnostic[]): DiagnosticJson[] {
  return sortAndDedupe(diagnostics).map((d) => ({
    code: d.code,
    severity: d.severity,
    file: d.span?.file ?? null,
    line: d.span?.line ?? null,
    col: d.span?.col ?? null,
    endLine: d.span?.endLine ?? null,
    endCol: d.span?.endCol ?? null,
    message: d.message,
    help: d.help ?? null,
    notes: (d.notes ?? []).map((n) => ({
      message: n.message,
      file: n.span?.file ?? null,
      line: n.span?.line ?? null,
      col: n.span?.col ?? null,
    })),
  }));
}
