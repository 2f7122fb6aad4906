/**
 * editors/vscode: the manifest points at files that exist, the TextMate grammar is valid JSON whose
 * every regex compiles, and its main rules scope a real model's lines as intended.
 */
import { existsSync, readFileSync } from "node:fs";
import { resolve } from "node:path";
import { describe, expect, it } from "vitest";

const DIR = resolve(import.meta.dirname, "../../editors/vscode");
const json = (f: string) => JSON.parse(readFileSync(resolve(DIR, f), "utf8"));

interface Rule {
  name?: string;
  match?: string;
  begin?: string;
  end?: string;
  patterns?: Rule[];
  include?: string;
}

function* rules(r: Rule): Generator<Rule> {
  yield r;
  for (const p of r.patterns ?? []) yield* rules(p);
}

const grammar = json("syntaxes/ivm.tmLanguage.json") as { scopeName: string; patterns: Rule[]; repository: Record<string, Rule> };
const all = [...grammar.patterns, ...Object.values(grammar.repository)].flatMap((r) => [...rules(r)]);

/** The scope (or, for rules scoped by captures, the group) of the first top-level rule matching at `at`. */
function scopeAt(line: string, at: number): string | undefined {
  for (const top of grammar.patterns) {
    const r = grammar.repository[top.include!.slice(1)]!;
    // Rules nested in a begin/end rule apply only inside it: only the group's own rules are tried.
    for (const rule of r.begin || r.match ? [r] : (r.patterns ?? [])) {
      const re = rule.match ?? rule.begin;
      if (!re) continue;
      const m = new RegExp(re, "g");
      for (let hit = m.exec(line); hit; hit = m.exec(line)) {
        if (hit.index <= at && at < hit.index + hit[0].length) return rule.name ?? `${top.include}`;
        if (hit[0].length === 0) m.lastIndex++;
      }
    }
  }
  return undefined;
}

describe("editors/vscode", () => {
  it("the manifest declares the ivm language, its grammar and configuration, and files exist", () => {
    const pkg = json("package.json");
    expect(pkg.contributes.languages[0]).toMatchObject({ id: "ivm", extensions: [".ivm"] });
    for (const f of [pkg.main, pkg.contributes.languages[0].configuration, pkg.contributes.grammars[0].path]) expect(existsSync(resolve(DIR, f)), f).toBe(true);
    expect(pkg.contributes.grammars[0].scopeName).toBe(grammar.scopeName);
    expect(json("language-configuration.json").comments.lineComment).toBe("//");
  });

  it("every include resolves and every regex compiles", () => {
    expect(all.length).toBeGreaterThan(30);
    for (const r of all) {
      if (r.include) expect(grammar.repository[r.include.slice(1)], r.include).toBeDefined();
      for (const re of [r.match, r.begin, r.end]) if (re !== undefined) expect(() => new RegExp(re), re).not.toThrow();
    }
  });

  it("scopes comments, annotations, tensor types, keywords, numbers and rearrange strings", () => {
    const line = '  @init(zeros) param w: f32[B, T*H, dim] = rearrange(x, "b t c -> (b t) c")  // note 1.5e-3';
    expect(scopeAt(line, line.indexOf("// note"))).toBe("comment.line.double-slash.ivm");
    expect(scopeAt(line, line.indexOf("init"))).toBe("#annotations");
    expect(new RegExp(grammar.repository.annotations!.patterns![0]!.match!).exec(line)?.[2]).toBe("init");
    expect(scopeAt(line, line.indexOf('"b t'))).toBe("string.quoted.double.ivm");
    expect(new RegExp(grammar.repository["tensor-types"]!.patterns![0]!.begin!).exec(line)?.[1]).toBe("f32");
    expect(scopeAt(line, line.indexOf("param"))).toBe("keyword.other.ivm");
    expect(scopeAt("let x = 1.5e-3", 8)).toBe("constant.numeric.float.ivm");
    expect(scopeAt("x @ w", 2)).toBe("keyword.operator.arithmetic.ivm");
    const rearrange = grammar.repository.strings!.patterns!.find((p) => p.name === "keyword.operator.rearrange.arrow.ivm")!;
    expect(new RegExp(rearrange.match!).test("b t c -> (b t) c")).toBe(true);
  });
});
