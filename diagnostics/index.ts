export type { Span } from "./span.ts";
export { joinSpans, spanText } from "./span.ts";
export type { Diagnostic, DiagnosticNote, DiagnosticExtras, Severity, TemplateArgs } from "./diagnostic.ts";
export { fillTemplate, hasErrors, makeDiagnostic } from "./diagnostic.ts";
export { CATALOG, CODE_RANGES, isDiagnosticCode, lookupCode, type DiagnosticCode } from "./catalog.ts";
export { compareDiagnostics, sortAndDedupe } from "./order.ts";
export { renderDiagnostics, summarizeDiagnostics, type RenderOptions } from "./render.ts";
export { diagnosticsToJson, type DiagnosticJson } from "./json.ts";
