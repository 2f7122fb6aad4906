import { spawnSync } from "node:child_process";
import { describe, expect, it } from "vitest";

const ivc = (...args: string[]) =>
  spawnSync(process.execPath, ["bin/ivc.mjs", ...args], { encoding: "utf8", env: { ...process.env, XDG_RUNTIME_DIR: "/tmp" } });

describe("ivc command line", () => {
  it("prints help and exits 0", () => {
    const r = ivc("--help");
    expect(r.status).toBe(0);
    expect(r.stdout).toContain("doctor");
  });
  it("rejects an unknown flag with exit code 2 and one line", () => {
    const r = ivc("--definitely-not-a-flag");
    expect(r.status).toBe(2);
    expect(r.stderr.trim().split("\n")[0]).toMatch(/unknown option/);
  });
  it("doctor finds an adapter", () => {
    const r = ivc("doctor", "--json");
    expect(r.status, r.stderr).toBe(0);
    const info = JSON.parse(r.stdout);
    expect(info.features).toBeInstanceOf(Array);
    expect(info.limits.maxStorageBufferBindingSize).toBeGreaterThan(0);
    const text = ivc("doctor");
    expect(text.stdout).toMatch(/^shader-f16: (yes|no) \(--precision f16 (un)?available\)$/m);
    expect(text.stdout).toMatch(/^autotune: {2}.*autotune\.json/m);
  });
});

const hasScript = spawnSync("script", ["--version"], { encoding: "utf8" }).status === 0;

/** Runs the CLI with a terminal for stdout and stderr (util-linux `script`), as a user's shell would. */
const ivcInTerminal = (...args: string[]) =>
  spawnSync("script", ["-qec", ["node", "bin/ivc.mjs", ...args].join(" "), "/dev/null"], {
    encoding: "utf8",
    env: { ...process.env, XDG_RUNTIME_DIR: "/tmp", NO_COLOR: "" },
  });

describe.skipIf(!hasScript)("ivc in a terminal", () => {
  it("hides Dawn's adapter-limit warnings", () => {
    const piped = ivc("doctor");
    const r = ivcInTerminal("doctor");
    expect(r.status, r.stdout).toBe(0);
    expect(r.stdout).toMatch(/^adapter: /m);
    expect(r.stdout).not.toMatch(/artificially reduced/);
    // The filter is what hides them: without a terminal they still reach stderr.
    expect(piped.stderr).toMatch(/artificially reduced/);
  });

  it("keeps the exit code and colours diagnostics", () => {
    const r = ivcInTerminal("check", "test/fixtures/diagnostics/bad-escape.ivm");
    expect(r.status).toBe(1);
    expect(r.stdout).toContain("\u001b[");
    expect(r.stdout).toContain("IV1004");
  });
});
