/**
 * `ivc fmt` and plain prettier with the plugin, run as a user would, on copies in a temp directory.
 */
import { spawnSync } from "node:child_process";
import { copyFileSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { describe, expect, it } from "vitest";

const ROOT = resolve(import.meta.dirname, "../..");
const run = (cmd: string, args: string[]) => spawnSync(cmd, args, { cwd: ROOT, encoding: "utf8" });
const ivc = (...args: string[]) => run(process.execPath, ["bin/ivc.mjs", ...args]);

function scratch(): { dir: string; messy: string; tidy: string; broken: string } {
  const dir = mkdtempSync(join(tmpdir(), "ivc-fmt-"));
  const messy = join(dir, "messy.ivm");
  const tidy = join(dir, "tidy.ivm");
  const broken = join(dir, "broken.ivm");
  copyFileSync(resolve(import.meta.dirname, "fixtures/tricky.ivm"), messy);
  copyFileSync(resolve(import.meta.dirname, "fixtures/tricky.expected.ivm"), tidy);
  writeFileSync(broken, "module M {\n  forward(x: f32[B]) -> f32[B] {\n    return foo(x\n  }\n}\n");
  return { dir, messy, tidy, broken };
}

describe("ivc fmt", () => {
  it("--check lists unformatted files, exits 1 and writes nothing", () => {
    const s = scratch();
    const before = readFileSync(s.messy, "utf8");
    const r = ivc("fmt", "--check", s.messy, s.tidy);
    expect(r.status, r.stderr).toBe(1);
    expect(r.stdout.trim().split("\n")).toEqual([s.messy]);
    expect(readFileSync(s.messy, "utf8")).toBe(before);
    expect(ivc("fmt", "--check", s.tidy).status).toBe(0);
  });

  it("formats in place (directories are searched), after which --check passes", () => {
    const s = scratch();
    const r = ivc("fmt", s.messy);
    expect(r.status, r.stderr).toBe(0);
    expect(readFileSync(s.messy, "utf8")).toBe(readFileSync(s.tidy, "utf8"));
    const broken = join(s.dir, "broken.ivm");
    writeFileSync(broken, "module Ok {}\n");
    expect(ivc("fmt", "--check", s.dir).status).toBe(0);
  });

  it("leaves a file with syntax errors alone and prints its diagnostics", () => {
    const s = scratch();
    const before = readFileSync(s.broken, "utf8");
    const r = ivc("fmt", s.broken);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/error\[IV10\d\d\]/);
    expect(readFileSync(s.broken, "utf8")).toBe(before);
  });
});

describe("prettier --plugin ./tools/prettier-plugin-ivm/index.js", () => {
  it("formats like ivc fmt and refuses broken files", () => {
    const s = scratch();
    const r = run("npx", ["prettier", "--plugin", "./tools/prettier-plugin-ivm/index.js", "--write", s.messy]);
    expect(r.status, r.stderr).toBe(0);
    expect(readFileSync(s.messy, "utf8")).toBe(readFileSync(s.tidy, "utf8"));
    const before = readFileSync(s.broken, "utf8");
    const bad = run("npx", ["prettier", "--plugin", "./tools/prettier-plugin-ivm/index.js", "--write", s.broken]);
    expect(bad.status).not.toBe(0);
    expect(bad.stderr).toMatch(/IV10\d\d/);
    expect(readFileSync(s.broken, "utf8")).toBe(before);
  }, 60_000);
});
