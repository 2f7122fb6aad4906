import { describe, expect, it } from "vitest";
import { CATALOG, CODE_RANGES, isDiagnosticCode } from "../../diagnostics/catalog.ts";
import { fillTemplate, hasErrors, makeDiagnostic } from "../../diagnostics/diagnostic.ts";
import { diagnosticsToJson } from "../../diagnostics/json.ts";
import { LineIndex } from "../../grammar/spans.ts";

describe("diagnostic catalog", () => {
  it("keeps every code in its range file, with the IVnxxx form", () => {
    for (const { prefix, table } of CODE_RANGES) {
      for (const code of Object.keys(table)) expect(code).toMatch(new RegExp(`^${prefix}\\d{3}$`));
    }
  });

  it("never defines a code twice across range files", () => {
    const all = CODE_RANGES.flatMap((r) => Object.keys(r.table));
    expect(new Set(all).size).toBe(all.length);
    expect(Object.keys(CATALOG).length).toBe(all.length);
  });

  it("has the seeded codes of every range", () => {
    for (const code of [
      "IV1001",
      "IV2001",
      "IV2002",
      "IV2003",
      "IV2004",
      "IV3001",
      "IV3002",
      "IV4001",
      "IV4002",
      "IV4003",
      "IV5001",
      "IV6001",
    ]) {
      expect(isDiagnosticCode(code), code).toBe(true);
    }
    expect(isDiagnosticCode("IV9999")).toBe(false);
  });

  it("gives every entry a severity and a non-empty message", () => {
    for (const [code, def] of Object.entries(CATALOG)) {
      expect(["error", "warning", "note"], code).toContain(def.severity);
      expect(def.message.length, code).toBeGreaterThan(0);
    }
  });
});

describe("makeDiagnostic", () => {
  const span = new LineIndex("let y = x + pos\n").span("m.ivm", 8, 15);

  it("fills message and help templates", () => {
    const d = makeDiagnostic("IV2003", span, { key: "widht", config: "UniFormerV2", keys: "`width`, `frames`" });
    expect(d).toEqual({
      code: "IV2003",
      severity: "error",
      message: "unknown key `widht` for config `UniFormerV2`",
      span,
      help: "the keys of `UniFormerV2` are `width`, `frames`",
    });
  });

  it("keeps a forgotten placeholder visible", () => {
    expect(fillTemplate("shapes {left} vs {right}", { left: "f32[B]" })).toBe("shapes f32[B] vs {right}");
  });

  it("takes help, notes and severity overrides", () => {
    const d = makeDiagnostic("IV4003", span, { path: "head.bias" }, { severity: "error", notes: [{ message: "n" }], help: "h" });
    expect([d.severity, d.help, d.notes]).toEqual(["error", "h", [{ message: "n" }]]);
    expect(hasErrors([d])).toBe(true);
    expect(hasErrors([makeDiagnostic("IV4003", span, { path: "p" })])).toBe(false);
  });
});

describe("diagnosticsToJson", () => {
  it("flattens, sorts and de-duplicates", () => {
    const text = "let y = x + pos\nlet z = q\n";
    const lines = new LineIndex(text);
    const late = makeDiagnostic("IV2001", lines.span("m.ivm", 24, 25), { name: "q", help: "declare it" });
    const early = makeDiagnostic(
      "IV3001",
      lines.span("m.ivm", 8, 15),
      { left: "f32[B, 196]", right: "f32[B, 197]" },
      { notes: [{ message: "bound here", span: lines.span("m.ivm", 0, 3) }] },
    );
    expect(diagnosticsToJson([late, early, late])).toEqual([
      {
        code: "IV3001",
        severity: "error",
        file: "m.ivm",
        line: 1,
        col: 9,
        endLine: 1,
        endCol: 16,
        message: "shapes do not match: f32[B, 196] vs f32[B, 197]",
        help: null,
        notes: [{ message: "bound here", file: "m.ivm", line: 1, col: 1 }],
      },
      {
        code: "IV2001",
        severity: "error",
        file: "m.ivm",
        line: 2,
        col: 9,
        endLine: 2,
        endCol: 10,
        message: "unknown name `q`",
        help: "declare it",
        notes: [],
      },
    ]);
  });

  it("uses null for a diagnostic without a location", () => {
    const [j] = diagnosticsToJson([makeDiagnostic("IV1007", undefined, { path: "p", reason: "r" })]);
    expect([j!.file, j!.line, j!.col]).toEqual([null, null, null]);
  });
});
