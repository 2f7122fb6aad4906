import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { checkFiles } from "../../cli/commands/check.ts";
import { ivc } from "./cli-helpers.ts";

// cli/semantic-check.ts through `ivc check`: every model elaborated in eval mode, every train stage
// in training mode, library files resolved.
const dir = mkdtempSync(join(tmpdir(), "ivc-check-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A copy of models/videomae.ivm with one edit; imports of `std/...` still resolve from any directory. */
function variant(name: string, from: string, to: string): { file: string; line: number } {
  const text = readFileSync("models/videomae.ivm", "utf8");
  expect(text).toContain(from);
  const file = join(dir, name);
  writeFileSync(file, text.replace(from, to));
  return { file, line: text.slice(0, text.indexOf(from)).split("\n").length };
}

describe("ivc check elaborates models and train stages", () => {
  it("every file in models/ and stdlib/ is clean (exit 0)", async () => {
    const files = [
      ...readdirSync("models").map((f) => join("models", f)),
      ...readdirSync("stdlib").map((f) => join("stdlib", f)),
    ].filter((f) => f.endsWith(".ivm"));
    expect(files.length).toBeGreaterThanOrEqual(5);
    const r = await ivc("check", ...files);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`ok: ${files.length} files checked`);
  });

  it("a shape error in a model's forward is located (IV3xxx) and exits 1", async () => {
    const from = "return head(dropout(fc_norm(mean(x, axis = 1)), cfg.dropout))";
    const { file, line } = variant("forward.ivm", from, from.replace("axis = 1", "axis = 2"));
    const r = await ivc("check", file);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(new RegExp(`forward\\.ivm:${line}:\\d+: error\\[IV3\\d{3}\\]`));
    expect(r.stderr).toContain("mean(x, axis = 2)");
    // Reported once although both the model and its `finetune` stage reach it.
    expect(r.stderr.match(/error\[IV3/g)).toHaveLength(1);
  });

  it("a shape error only a train stage's loss reaches is found in training mode", async () => {
    const from = "loss CrossEntropy(smoothing = 0.1)(model(clip), label)";
    const { file, line } = variant(
      "loss.ivm",
      from,
      "loss CrossEntropy(smoothing = 0.1)(model(clip) + model.embed(clip), label)",
    );
    const r = await ivc("check", file);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(new RegExp(`loss\\.ivm:${line}:\\d+: error\\[IV3005\\]: \`\\+\`: cannot broadcast`));
  });

  it("--preset applies to every model; an unknown preset is an error naming the presets", async () => {
    const ok = await checkFiles(["models/videomae.ivm"], { preset: "tiny" });
    expect(ok.diagnostics).toEqual([]);
    const bad = await checkFiles(["models/videomae.ivm"], { preset: "tinyy" });
    expect(bad.diagnostics.map((d) => d.code)).toEqual(["IV2013"]);
    expect(bad.diagnostics[0]!.help).toContain("`tiny`");
  });

  it("a library file is resolved: an unknown import is reported", async () => {
    const lib = join(dir, "lib.ivm");
    writeFileSync(lib, 'import { Linear } from "std/nope"\n');
    const r = await checkFiles([lib]);
    expect(r.diagnostics.map((d) => d.code)).toContain("IV2006");
  });
});
