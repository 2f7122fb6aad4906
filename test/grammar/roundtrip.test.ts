import { describe, expect, it } from "vitest";
import { parseClean } from "./helpers.ts";
import { printProgram } from "./printer.ts";
import { UNIFORMERV2_SPEC, VALID_SNIPPETS } from "./specs.ts";

/** The tree without source positions, and without `raw`, which keeps a literal's spelling. */
function shape(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(shape);
  if (v && typeof v === "object") {
    return Object.fromEntries(
      Object.entries(v)
        .filter(([k]) => !/span$/i.test(k) && k !== "raw" && k !== "file")
        .map(([k, x]) => [k, k === "leadingEllipsis" ? true : shape(x)]),
    );
  }
  return v;
}

describe("print and reparse", () => {
  it.each([["UniFormerV2", UNIFORMERV2_SPEC], ...VALID_SNIPPETS.map((s, i) => [`snippet ${i}`, s])])("%s", (_name, text) => {
    const first = parseClean(text!);
    const printed = printProgram(first);
    const second = parseClean(printed);
    expect(shape(second)).toEqual(shape(first));
    expect(printProgram(second)).toBe(printed);
  });
});
