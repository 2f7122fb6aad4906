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

/** Every tracked .ivm file that parses without errors (the diagnostics fixtures are broken on purpose). */
function cleanIvmFiles(): string[] {
  const tracked = execFileSync("git", ["ls-files", "*.ivm"], { cwd: ROOT, encoding: "utf8" }).split("\n").filter(Boolean);
  return tracked.filter((f) => {
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
