/**
 * Golden diagnostic baselines: every test/fixtures/diagnostics/NAME.ivm is checked as `ivc check`
 * would, and the rendered output must equal NAME.expected. After an intended change, regenerate with
 *   UPDATE_BASELINES=1 npx vitest run test/diagnostics
 * and review the diff.
 */
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { checkFiles } from "../../cli/commands/check.ts";
import { renderDiagnostics } from "../../diagnostics/index.ts";

const DIR = "test/fixtures/diagnostics";
const UPDATE = process.env.UPDATE_BASELINES === "1";

/** Fixtures whose one mistake legitimately yields more than one diagnostic. */
const MULTIPLE = new Set(["two-modules-two-errors", "misspelled-member-keyword"]);

const fixtures = readdirSync(DIR)
  .filter((f) => f.endsWith(".ivm"))
  .map((f) => f.slice(0, -4))
  .sort();

async function rendered(name: string): Promise<{ text: string; count: number }> {
  const path = `${DIR}/${name}.ivm`;
  const { diagnostics, sources } = await checkFiles([path]);
  const text = renderDiagnostics(diagnostics, sources, { color: false });
  return { text: text === "" ? "(no diagnostics)\n" : text, count: diagnostics.length };
}

describe("diagnostic baselines", () => {
  it("has at least 30 malformed inputs", () => {
    expect(fixtures.length).toBeGreaterThanOrEqual(30);
  });

  for (const name of fixtures) {
    it(name, async () => {
      const { text, count } = await rendered(name);
      const expectedPath = join(DIR, `${name}.expected`);
      if (UPDATE || !existsSync(expectedPath)) {
        if (!UPDATE) throw new Error(`no baseline ${expectedPath}; run with UPDATE_BASELINES=1 and review it`);
        writeFileSync(expectedPath, text);
      }
      expect(text).toBe(readFileSync(expectedPath, "utf8"));
      if (MULTIPLE.has(name)) expect(count).toBeGreaterThan(1);
      else expect(count).toBe(1);
    });
  }
});
