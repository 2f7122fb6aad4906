import type { Diagnostic } from "./diagnostic.ts";

/** Diagnostics without a location come first, then by file, position and code. */
export function compareDiagnostics(a: Diagnostic, b: Diagnostic): number {
  const fa = a.span?.file ?? "";
  const fb = b.span?.file ?? "";
  if (fa !== fb) return fa < fb ? -1 : 1;
  const oa = a.span?.offset ?? -1;
  const ob = b.span?.offset ?? -1;
  if (oa !== ob) return oa - ob;
  const ea = a.span?.endOffset ?? -1;
  const eb = b.span?.endOffset ?? -1;
  if (ea !== eb) return ea - eb;
  return a.code < b.code ? -1 : a.code > b.code ? 1 : 0;
}

function identity(d: Diagnostic): string {
  const s = d.span;
  return `${d.code}\u0000${s ? `${s.file}:${s.offset}:${s.endOffset}` : ""}\u0000${d.message}`;
}

/** Sorted by position with exact repeats (same code, span and message) removed. */
export function sortAndDedupe(diagnostics: readonly Diagnostic[]): Diagnostic[] {
  const seen = new Set<string>();
  const out: Diagnostic[] = [];
  for (const d of [...diagnostics].sort(compareDiagnostics)) {
    const key = identity(d);
    if (seen.has(key)) continue;
    seen.add(key);
    out.push(d);
  }
  return out;
}
