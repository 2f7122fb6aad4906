/**
 * The parser never throws and stays fast on any input: garbage, mutated valid specs, huge files,
 * deep nesting. Every diagnostic and every AST node is located inside the text.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { Diagnostic } from "../../diagnostics/diagnostic.ts";
import type { Span } from "../../diagnostics/span.ts";
import { MAX_NESTING, MAX_SYNTAX_ERRORS, parseIvm } from "../../grammar/index.ts";
import { LineIndex } from "../../grammar/spans.ts";
import { allNodes } from "./helpers.ts";
import { VALID_SNIPPETS as VALID } from "./specs.ts";

const TOKENS = [
  "import",
  "from",
  "config",
  "preset",
  "module",
  "model",
  "forward",
  "let",
  "return",
  "if",
  "else",
  "for",
  "in",
  "param",
  "buffer",
  "train",
  "stage",
  "extends",
  "freeze",
  "unfreeze",
  "data",
  "loss",
  "true",
  "and",
  "not",
  "x",
  "dim",
  "f32",
  "bool",
  "list",
  "0",
  "12",
  "1.5",
  "1e-6",
  '"s"',
  '"open',
  "/*",
  "*/",
  "//",
  "\n",
  " ",
  "\t",
  "(",
  ")",
  "[",
  "]",
  "{",
  "}",
  ",",
  ":",
  ";",
  ".",
  "..",
  "...",
  "->",
  "=",
  "+=",
  "+",
  "-",
  "*",
  "**",
  "/",
  "%",
  "@",
  "@init",
  "@frozen",
  "<",
  "<=",
  "==",
  "!=",
  "#",
  "$",
  "\uFFFD",
  "é",
  "\u0000",
  "\r\n",
];

/** Inputs are small; one second is a generous bound that still catches exponential recovery. */
const PER_INPUT_MS = 1000;

function checkSpan(text: string, lines: LineIndex, span: Span, what: string): void {
  expect(span.offset, what).toBeGreaterThanOrEqual(0);
  expect(span.endOffset, what).toBeGreaterThanOrEqual(span.offset);
  expect(span.endOffset, what).toBeLessThanOrEqual(text.length);
  expect(lines.position(span.offset), what).toEqual({ line: span.line, col: span.col });
}

/**
 * CPU time of `run` in ms. Other processes share the test machine, so wall-clock time says more
 * about them than about the parser; CPU time does not grow when the machine is busy.
 */
function cpuMs<T>(run: () => T): { result: T; ms: number } {
  const start = process.cpuUsage();
  const result = run();
  const used = process.cpuUsage(start);
  return { result, ms: (used.user + used.system) / 1000 };
}

function parseAndCheck(text: string): Diagnostic[] {
  const { result, ms } = cpuMs(() => parseIvm(text, "p.ivm"));
  const { program, diagnostics } = result;
  expect(ms).toBeLessThan(PER_INPUT_MS);
  const lines = new LineIndex(text);
  for (const d of diagnostics) {
    expect(d.span, d.code).toBeDefined();
    checkSpan(text, lines, d.span!, `${d.code} ${d.message}`);
    expect(d.message).not.toMatch(/\{[a-z]+\}|undefined|NaN/);
  }
  for (const node of allNodes(program)) {
    const span = (node as { span?: Span }).span;
    if (span) checkSpan(text, lines, span, node.kind);
  }
  return diagnostics;
}

const tokenSoup = fc.array(fc.constantFrom(...TOKENS), { maxLength: 80 }).map((ts) => ts.join(" "));

const mutation = fc.oneof(
  fc.record({ kind: fc.constant("delete" as const), at: fc.nat(), length: fc.integer({ min: 1, max: 12 }) }),
  fc.record({ kind: fc.constant("insert" as const), at: fc.nat(), text: fc.constantFrom(...TOKENS) }),
  fc.record({ kind: fc.constant("duplicate" as const), at: fc.nat(), length: fc.integer({ min: 1, max: 30 }) }),
);

const mutatedValid = fc.tuple(fc.constantFrom(...VALID), fc.array(mutation, { minLength: 1, maxLength: 4 })).map(([text, ms]) =>
  ms.reduce((t, m) => {
    const at = t.length === 0 ? 0 : m.at % (t.length + 1);
    if (m.kind === "delete") return t.slice(0, at) + t.slice(at + m.length);
    if (m.kind === "insert") return t.slice(0, at) + m.text + t.slice(at);
    return t.slice(0, at) + t.slice(at, at + m.length) + t.slice(at);
  }, text),
);

describe("parser robustness (property tests)", () => {
  it("valid seeds parse cleanly", () => {
    for (const v of VALID) expect(parseAndCheck(v)).toEqual([]);
  });

  it("never throws on token soup", () => {
    fc.assert(
      fc.property(tokenSoup, (t) => void parseAndCheck(t)),
      { numRuns: 300 },
    );
  });

  it("never throws on mutated valid specs, and reports a located error for broken ones", () => {
    fc.assert(
      fc.property(mutatedValid, (t) => void parseAndCheck(t)),
      { numRuns: 400 },
    );
  });

  it("never throws on arbitrary unicode", () => {
    fc.assert(
      fc.property(fc.string({ unit: "binary", maxLength: 200 }), (t) => void parseAndCheck(t)),
      { numRuns: 300 },
    );
  });
});

describe("parser limits", () => {
  const wrap = (body: string) => `module Deep() {\n  forward(x: f32[B]) -> f32[B] = ${body}\n}\n`;

  it.each([
    ["parentheses", (n: number) => "(".repeat(n) + "x" + ")".repeat(n)],
    ["calls", (n: number) => "f(".repeat(n) + "x" + ")".repeat(n)],
    ["lists", (n: number) => "[".repeat(n) + "x" + "]".repeat(n)],
    ["unclosed parentheses", (n: number) => "(".repeat(n) + "x"],
  ])("500-deep %s give one nesting diagnostic", (_name, build) => {
    const ds = parseAndCheck(wrap(build(500)));
    expect(ds.map((d) => d.code)).toEqual(["IV1022"]);
  });

  it("nesting just under the limit parses cleanly", () => {
    const n = MAX_NESTING - 3;
    expect(parseAndCheck(wrap("(".repeat(n) + "x" + ")".repeat(n)))).toEqual([]);
  });

  it("500-deep blocks give one nesting diagnostic", () => {
    const body = "if c { ".repeat(500) + "x = 1" + " }".repeat(500);
    const ds = parseAndCheck(`module M { forward(x: f32[B]) -> f32[B] { ${body}\n return x } }`);
    expect(ds.map((d) => d.code)).toEqual(["IV1022"]);
  });

  it.each([
    ["unary chains", "-".repeat(5000) + "x"],
    ["operator chains", "x" + " + x".repeat(5000)],
    ["member chains", "x" + ".a".repeat(5000)],
  ])("very long %s are reported, not built into an overflowing tree", (_name, body) => {
    expect(parseAndCheck(wrap(body)).map((d) => d.code)).toEqual(["IV1023"]);
  });

  it("parses a 1 MB file quickly and locates one error at its end", () => {
    const block = (i: number) => `module Block${i}(dim: int) {
  norm = LayerNorm(dim, eps = 1e-5)
  param w: f32[dim, dim] @init(trunc_normal(std = 0.02))
  forward(x: f32[B, N, dim]) -> f32[B, N, dim] {
    let y = softmax(x @ w, axis = -1)[:, 1:, ::2]
    x = x + drop_path(y, 0.1) * 2 ** -1
    return x
  }
}
`;
    const parts: string[] = [];
    let size = 0;
    for (let i = 0; size < 1_000_000; i++) {
      parts.push(block(i));
      size += parts.at(-1)!.length;
    }
    const text = `${parts.join("")}module Broken { x = f(1,\n}\n`;
    // Best of two: the first run pays for JIT warm-up.
    const runs = [0, 1].map(() => cpuMs(() => parseIvm(text, "big.ivm")));
    expect(Math.min(...runs.map((r) => r.ms))).toBeLessThan(2000);
    const { program, diagnostics } = runs[0]!.result;
    expect(program.decls.length).toBe(parts.length + 1);
    expect(diagnostics.map((d) => [d.code, d.span!.line])).toEqual([["IV1011", text.split("\n").length - 2]]);
  });

  it("stops after MAX_SYNTAX_ERRORS and says so", () => {
    const text = "module A { x = f(\n".repeat(MAX_SYNTAX_ERRORS + 50);
    const ds = parseAndCheck(text);
    expect(ds.filter((d) => d.code === "IV1011")).toHaveLength(MAX_SYNTAX_ERRORS);
    expect(ds.at(-1)).toMatchObject({ code: "IV1039", severity: "note", span: { line: MAX_SYNTAX_ERRORS + 1 } });
  });

  it("counts lexical errors toward the limit too", () => {
    const ds = parseAndCheck("module A { }\n" + "# $ ? ! ' ".repeat(100_000));
    expect(ds).toHaveLength(MAX_SYNTAX_ERRORS + 1);
    expect(ds.at(-1)!.code).toBe("IV1039");
  });

  it("handles empty input, a BOM, CRLF line ends and lone replacement characters", () => {
    expect(parseAndCheck("").map((d) => d.code)).toEqual(["IV1008"]);
    expect(parseAndCheck("\uFEFFmodule A { }")).toEqual([]);
    const crlf = parseAndCheck("module A {\r\n  x = f(\r\n}\r\n");
    expect(crlf.map((d) => [d.code, d.span!.line])).toEqual([["IV1011", 2]]);
    expect(parseAndCheck("module \uFFFD\uFFFD A { }").map((d) => d.code)).toEqual(["IV1001"]);
  });
});
