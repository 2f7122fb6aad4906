import { describe, expect, it } from "vitest";
import type { Diagnostic } from "../../diagnostics/diagnostic.ts";
import { makeDiagnostic } from "../../diagnostics/diagnostic.ts";
import { renderDiagnostics, summarizeDiagnostics } from "../../diagnostics/render.ts";
import type { Span } from "../../diagnostics/span.ts";
import { LineIndex } from "../../grammar/spans.ts";

/** The span of the first occurrence of `needle` (optionally the nth) in `text`. */
function spanOf(file: string, text: string, needle: string, nth = 0): Span {
  let at = -1;
  for (let i = 0; i <= nth; i++) at = text.indexOf(needle, at + 1);
  if (at < 0) throw new Error(`${needle} not found`);
  return new LineIndex(text).span(file, at, at + needle.length);
}

const render = (ds: Diagnostic[], sources: Record<string, string>, color = false) =>
  renderDiagnostics(ds, new Map(Object.entries(sources)), { color });

describe("renderDiagnostics", () => {
  const SRC =
    "config C {\n  frames: int = 8\n}\nmodule M(dim: int) {\n  forward(x: f32[B, N, dim]) -> f32[B, N, dim] {\n    let y = x + pos\n    return y\n  }\n}\n";

  it("renders the header, source line, carets under the whole span, notes and help", () => {
    const d = makeDiagnostic(
      "IV3001",
      spanOf("models/x.ivm", SRC, "x + pos"),
      { left: "f32[B, 8, 196, 768]", right: "f32[B, 8, 197, 768]" },
      { notes: [{ message: "T bound to 8", span: spanOf("models/x.ivm", SRC, "frames") }], help: "add the class token first" },
    );
    expect(render([d], { "models/x.ivm": SRC })).toBe(
      [
        "models/x.ivm:6:13: error[IV3001]: shapes do not match: f32[B, 8, 196, 768] vs f32[B, 8, 197, 768]",
        "  |",
        "6 |     let y = x + pos",
        "  |             ^^^^^^^",
        "  = note: T bound to 8 (models/x.ivm:2:3)",
        "  = help: add the class token first",
        "",
      ].join("\n"),
    );
  });

  it("widens the gutter for multi-digit line numbers", () => {
    const text = `${"\n".repeat(11)}  let y = x + pos\n`;
    const out = render([makeDiagnostic("IV1013", spanOf("a.ivm", text, "pos"), { found: "`pos`" })], { "a.ivm": text });
    expect(out).toContain("   |\n12 |   let y = x + pos\n   |               ^^^\n");
  });

  it("shows the first and last line of a multi-line span", () => {
    const text = "module M {\n  a = A()\n  b = B()\n  c = C()\n}\n";
    const span = new LineIndex(text).span("m.ivm", text.indexOf("a ="), text.indexOf("C()") + 3);
    const out = render([makeDiagnostic("IV2005", span, { name: "a" })], { "m.ivm": text });
    expect(out).toBe(
      [
        "m.ivm:2:3: error[IV2005]: `a` is defined twice",
        "  |",
        "2 |   a = A()",
        "  |   ^^^^^^^",
        "...",
        "4 |   c = C()",
        "  |   ^^^^^^^",
        "",
      ].join("\n"),
    );
  });

  it("expands tabs so that carets line up", () => {
    const text = "module M {\n\tforward(x: f32[B]) -> f32[B] {\n\t\tlet y = x +* 2.0\n\t}\n}\n";
    const out = render([makeDiagnostic("IV1013", spanOf("t.ivm", text, "*"), { found: "`*`" })], { "t.ivm": text });
    const lines = out.split("\n");
    const sourceLine = lines.find((l) => l.startsWith("3 |"))!;
    const caretLine = lines[lines.indexOf(sourceLine) + 1]!;
    expect(sourceLine).not.toContain("\t");
    expect(caretLine.indexOf("^")).toBe(sourceLine.indexOf("*"));
  });

  it("counts wide characters as two columns", () => {
    const text = 'let s = "视频" + x\n';
    const out = render([makeDiagnostic("IV2001", spanOf("w.ivm", text, "x"), { name: "x", help: "declare it" })], {
      "w.ivm": text,
    });
    const [, , source, carets] = out.split("\n");
    expect(carets!.indexOf("^")).toBe(source!.indexOf("x") + 2);
  });

  it("cuts very long lines to a window around the span", () => {
    const text = `let y = ${"a + ".repeat(100)}bad + ${"b + ".repeat(100)}c\n`;
    const out = render([makeDiagnostic("IV2001", spanOf("l.ivm", text, "bad"), { name: "bad", help: "" })], { "l.ivm": text });
    const [, , source, carets] = out.split("\n");
    expect(source!.length).toBeLessThan(140);
    expect(source).toMatch(/^\d \| \.\.\..*\.\.\.$/);
    expect(source!.slice(carets!.indexOf("^"), carets!.lastIndexOf("^") + 1)).toBe("bad");
  });

  it("puts one caret at an empty span, including at the end of a file", () => {
    const text = "module M {\n";
    const end = new LineIndex(text).span("e.ivm", text.length, text.length);
    const out = render(
      [makeDiagnostic("IV1011", end, { close: "}", what: "module body", line: 1, col: 10, found: "end of file" })],
      { "e.ivm": text },
    );
    expect(out).toContain("2 |\n  | ^\n");
  });

  it("renders diagnostics without a location or without source text", () => {
    const out = render(
      [
        makeDiagnostic("IV1007", undefined, { path: "x.ivm", reason: "no such file" }),
        makeDiagnostic("IV2001", spanOf("gone.ivm", "abc", "b"), { name: "b", help: "h" }),
      ],
      {},
    );
    expect(out).toBe(
      "error[IV1007]: cannot read `x.ivm`: no such file\n\ngone.ivm:1:2: error[IV2001]: unknown name `b`\n  = help: h\n",
    );
  });

  it("sorts by file and position and removes exact repeats", () => {
    const text = "a b c\n";
    const d = (name: string, file = "z.ivm") => makeDiagnostic("IV2001", spanOf(file, text, name), { name, help: "" });
    const out = render([d("c"), d("a"), d("a"), d("b", "a.ivm")], { "z.ivm": text, "a.ivm": text });
    const headers = out.split("\n").filter((l) => l.includes("error["));
    expect(headers).toEqual([
      "a.ivm:1:3: error[IV2001]: unknown name `b`",
      "z.ivm:1:1: error[IV2001]: unknown name `a`",
      "z.ivm:1:5: error[IV2001]: unknown name `c`",
    ]);
  });

  it("colors only when asked", () => {
    const d = makeDiagnostic("IV1008", spanOf("c.ivm", "x", "x"), { file: "c.ivm" });
    expect(render([d], { "c.ivm": "x" })).not.toContain("\u001b[");
    expect(render([d], { "c.ivm": "x" }, true)).toContain("\u001b[1;33mwarning[IV1008]\u001b[0m");
  });

  it("returns an empty string for no diagnostics and summarizes counts", () => {
    expect(render([], {})).toBe("");
    const span = spanOf("s.ivm", "a b", "a");
    const ds = [
      makeDiagnostic("IV2001", span, { name: "a", help: "" }),
      makeDiagnostic("IV1008", span, { file: "s" }),
      makeDiagnostic("IV2005", span, { name: "a" }),
    ];
    expect(summarizeDiagnostics(ds)).toBe("2 errors, 1 warning");
    expect(summarizeDiagnostics([])).toBe("");
  });
});
