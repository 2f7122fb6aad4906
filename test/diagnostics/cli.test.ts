/** `ivc check` as a user runs it: a real process, real exit codes and output. */
import { spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { checkFiles } from "../../cli/commands/check.ts";

const dir = mkdtempSync(join(tmpdir(), "ivc-check-"));
const bad = join(dir, "bad.ivm");
const good = join(dir, "good.ivm");
const warnOnly = join(dir, "empty.ivm");
writeFileSync(bad, "module Attn(dim: int) {\n  qkv = Linear(dim, 3 * dim\n  proj = Linear(dim, dim)\n}\n");
writeFileSync(good, "module Id(dim: int) {\n  forward(x: f32[B, dim]) -> f32[B, dim] = x\n}\n");
writeFileSync(warnOnly, "// nothing yet\n");

function ivc(...args: string[]) {
  const r = spawnSync(process.execPath, ["bin/ivc.mjs", ...args], { encoding: "utf8", env: { ...process.env, NO_COLOR: "1" } });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe("ivc check", () => {
  it("exits 1 with a located, rendered error for a bad file", () => {
    const r = ivc("check", bad);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(
      `${bad}:2:28: error[IV1011]: expected \`)\` to close the argument list opened at 2:15, found \`proj\``,
    );
    expect(r.stderr).toContain("2 |   qkv = Linear(dim, 3 * dim\n");
    expect(r.stderr).toContain("1 error");
    expect(r.stderr).not.toMatch(/at .*\.ts:\d+/);
  });

  it("exits 2 with one line for a missing file", () => {
    const r = ivc("check", join(dir, "missing.ivm"));
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split("\n")).toEqual([`error: cannot read \`${join(dir, "missing.ivm")}\`: no such file`]);
  });

  it("exits 0 for clean files and for warnings alone; prints JSON with --json", () => {
    expect(ivc("check", good).code).toBe(0);
    const warn = ivc("check", warnOnly);
    expect(warn.code).toBe(0);
    expect(warn.stderr).toContain("warning[IV1008]");
    const json = ivc("check", "--json", bad, good);
    expect(json.code).toBe(1);
    expect(JSON.parse(json.stdout)).toEqual([
      expect.objectContaining({ code: "IV1011", severity: "error", file: bad, line: 2, col: 28, endLine: 2, endCol: 29 }),
    ]);
  });
});

describe("checkFiles", () => {
  it("returns diagnostics and sources, and runs semantic checks only on files that parsed", async () => {
    const seen: string[][] = [];
    const result = await checkFiles([bad, good], {
      preset: "tiny",
      semanticChecks: [
        (input) => {
          seen.push([...input.paths, input.preset ?? ""]);
          return { diagnostics: [], sources: new Map([["std/nn.ivm", "module Linear() { }"]]) };
        },
      ],
    });
    expect(seen).toEqual([[good, "tiny"]]);
    expect(result.diagnostics.map((d) => d.code)).toEqual(["IV1011"]);
    expect([...result.sources.keys()]).toEqual([bad, good, "std/nn.ivm"]);
    expect(result.programs.get(good)?.decls[0]).toMatchObject({ kind: "module", name: { name: "Id" } });
  });

  it("reports an unreadable file as a diagnostic", async () => {
    const result = await checkFiles([join(dir, "missing.ivm")]);
    expect(result.diagnostics.map((d) => d.code)).toEqual(["IV1007"]);
  });
});
