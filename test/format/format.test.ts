/**
 * The .ivm formatter: a golden file full of awkward layouts and comments, idempotence and tree
 * equality on every .ivm file in the repository, refusal of files with syntax errors.
 */
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { parseIvm } from "../../grammar/index.ts";
import { scanComments } from "../../tools/prettier-plugin-ivm/comments.ts";
import { FormatRefused, formatIvm, treeDifference, withoutSpans } from "../../tools/prettier-plugin-ivm/format.ts";

const ROOT = resolve(import.meta.dirname, "../..");
const fixture = (name: string) => resolve(import.meta.dirname, "fixtures", name);

/**
 * Every tracked .ivm file that parses without errors (the diagnostics fixtures are broken on purpose),
 * except the unformatted golden input.
 */
function cleanIvmFiles(): string[] {
  const tracked = execFileSync("git", ["ls-files", "*.ivm"], { cwd: ROOT, encoding: "utf8" }).split("\n").filter(Boolean);
  const skipped = (f: string) => f === "test/format/fixtures/tricky.ivm";
  return tracked.filter((f) => {
    if (skipped(f)) return false;
    const text = readFileSync(resolve(ROOT, f), "utf8");
    return !parseIvm(text, f).diagnostics.some((d) => d.severity === "error");
  });
}

describe("ivc fmt / prettier-plugin-ivm", () => {
  it("formats the tricky file exactly as the golden output", async () => {
    const input = readFileSync(fixture("tricky.ivm"), "utf8");
    const expected = readFileSync(fixture("tricky.expected.ivm"), "utf8");
    expect(await formatIvm(input, "tricky.ivm")).toBe(expected);
    expect(await formatIvm(expected, "tricky.ivm")).toBe(expected);
  });

  it("keeps every comment, in order, in the golden file", async () => {
    const input = readFileSync(fixture("tricky.ivm"), "utf8");
    const out = await formatIvm(input, "tricky.ivm");
    const texts = (t: string) => scanComments(t).map((c) => c.text.trim());
    expect(texts(out)).toEqual(texts(input));
    expect(texts(input).length).toBeGreaterThan(8);
  });

  it("puts back exactly the parentheses the precedence rules need", async () => {
    const src = "module P {\n  forward(x: f32[B]) -> f32[B] {\n    let a = (x - (x - x)) * ((x + x) / x) ** (x ** x)\n    let b = -(x ** 2) + (-x) ** 2\n    return not (a > b) or a == b and (a < b or b < a)\n  }\n}\n";
    const out = await formatIvm(src, "p.ivm");
    expect(out).toContain("let a = (x - (x - x)) * ((x + x) / x) ** x ** x");
    expect(out).toContain("let b = -(x ** 2) + (-x) ** 2");
    expect(out).toContain("return not (a > b) or a == b and (a < b or b < a)");
    expect(treeDifference(withoutSpans(parseIvm(src, "p.ivm").program), withoutSpans(parseIvm(out, "p.ivm").program))).toBeUndefined();
  });

  it("breaks long calls one argument per line and never starts a line with `@`", async () => {
    const src = `module L(d: int) {\n  forward(x: f32[B, d]) -> f32[B, d] = some_long_function_name(x, another_argument_name = 1, yet_another_argument = 2) @ a_matrix_with_a_long_name_that_cannot_fit\n}\n`;
    const out = await formatIvm(src, "l.ivm", { printWidth: 60 });
    expect(out.split("\n").some((l) => /^\s*@/.test(l))).toBe(false);
    expect(out).toContain("    another_argument_name = 1,\n");
    expect(out.split("\n").every((l) => l.length <= 60)).toBe(true);
  });

  it("refuses a file with syntax errors with the rendered diagnostics", async () => {
    const broken = "module M {\n  forward(x: f32[B]) -> f32[B] {\n    return foo(x\n  }\n}\n";
    const err = await formatIvm(broken, "broken.ivm").catch((e: unknown) => e);
    expect(err).toBeInstanceOf(FormatRefused);
    expect((err as Error).message).toMatch(/error\[IV10\d\d\]/);
    expect((err as Error).message).toContain("broken.ivm:");
  });

  it("every .ivm file in the repository is formatted, and formatting is idempotent and keeps the tree", async () => {
    const files = cleanIvmFiles();
    expect(files.length).toBeGreaterThan(5);
    const unformatted: string[] = [];
    for (const f of files) {
      const text = readFileSync(resolve(ROOT, f), "utf8");
      // formatIvm itself re-parses its output and throws on any tree or comment difference.
      const once = await formatIvm(text, f);
      expect(await formatIvm(once, f), f).toBe(once);
      if (once !== text) unformatted.push(f);
    }
    expect(unformatted, "run `ivc fmt` on these").toEqual([]);
  }, 60_000);
});

describe("comments anywhere", () => {
  // Small but with every kind of declaration, member and statement.
  const SRC = [
    'import { Linear } from "std/nn"',
    "config C { a: int = 1 }",
    "preset p: C { a = 2 }",
    "module M(d: int) {",
    "  @frozen lin = Linear(d, d)",
    "  param w: f32[d] @init(zeros)",
    "  for i in 0..2 { b[i] = Linear(d, d) }",
    "  forward(x: f32[B, d]) -> f32[B, d] {",
    "    let (y, z) = (lin(x) * 2.0, x[:, 0:1])",
    "    if d > 1 { y = y + w } else { y = -y }",
    "    return y @ transpose(x, 0, 1) @ x",
    "  }",
    "}",
    "train stage s for M { freeze lin, b.0; steps 2 }",
    "",
  ].join("\n");

  it("a block or line comment inserted at any gap survives formatting idempotently, and the tree is unchanged", async () => {
    const base = withoutSpans(parseIvm(SRC, "c.ivm").program);
    let tried = 0;
    for (let i = 0; i < SRC.length; i++) {
      if (!/[\s(),[\]{}:=]/.test(SRC[i]!)) continue;
      for (const comment of ["/*c*/", "// c\n"]) {
        const text = SRC.slice(0, i) + comment + SRC.slice(i);
        const parsed = parseIvm(text, "c.ivm");
        // A line comment can move the rest of a line onto the next one, which may parse differently.
        if (parsed.diagnostics.some((d) => d.severity === "error") || treeDifference(base, withoutSpans(parsed.program))) continue;
        tried++;
        // formatIvm re-parses its result and throws if the tree or the comments differ.
        const out = await formatIvm(text, "c.ivm");
        expect(scanComments(out).length, JSON.stringify(text.slice(i - 20, i + 20))).toBe(1);
        expect(await formatIvm(out, "c.ivm"), JSON.stringify(text.slice(i - 20, i + 20))).toBe(out);
      }
    }
    expect(tried).toBeGreaterThan(150);
  }, 60_000);
});
