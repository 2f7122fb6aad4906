import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { writeSafetensors } from "../../runtime/io/safetensors.ts";
import { main } from "../../cli/main.ts";
import { workDir } from "./helpers.ts";

/** Runs the CLI in this process (as bin/ivc.mjs does), capturing stdout and stderr. */
async function ivc(...args: string[]): Promise<{ status: number; stdout: string; stderr: string }> {
  const out = { stdout: "", stderr: "" };
  const write = { stdout: process.stdout.write, stderr: process.stderr.write };
  process.stdout.write = ((s: string) => ((out.stdout += s), true)) as typeof process.stdout.write;
  process.stderr.write = ((s: string) => ((out.stderr += s), true)) as typeof process.stderr.write;
  try {
    process.exitCode = undefined;
    const status = await main(args);
    return { status, ...out };
  } finally {
    process.stdout.write = write.stdout;
    process.stderr.write = write.stderr;
    process.exitCode = undefined;
  }
}

const TOY = "test/bundle/fixtures/toy.ivm";
let work: ReturnType<typeof workDir>;
beforeAll(() => {
  work = workDir("errors");
});
afterAll(() => work?.cleanup());

/** The error output without Dawn's own adapter warnings. */
const errors = (stderr: string) => stderr.split("\n").filter((l) => l && !l.startsWith("Warning:"));

describe("ivc compile: bad input is a clear error, never a stack trace", () => {
  it("without -o: usage error, exit 2", async () => {
    const r = await ivc("compile", TOY);
    expect(r.status).toBe(2);
    expect(errors(r.stderr)).toEqual(["error: missing -o DIR (the bundle directory to write)"]);
  });

  it("an unknown preset: the diagnostic with the known presets, exit 1, nothing written", async () => {
    const out = join(work.dir, "never");
    const r = await ivc("compile", "models/uniformerv2.ivm", "--preset", "huge", "-o", out);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/error\[IV\d+\]: unknown preset `huge`/);
    expect(r.stderr).toMatch(/tiny/);
    expect(r.stderr).not.toMatch(/\n\s+at /);
    expect(existsSync(out)).toBe(false);
  });

  it("an unwritable output (a file in the way): exit 1 before compiling", async () => {
    const file = join(work.dir, "a-file");
    writeFileSync(file, "x");
    const r = await ivc("compile", TOY, "-o", join(file, "bundle"));
    expect(r.status).toBe(1);
    expect(errors(r.stderr)[0]).toBe(`error: cannot write the bundle to ${join(file, "bundle")}: ${file} is a file`);
    const onFile = await ivc("compile", TOY, "-o", file);
    expect(onFile.status).toBe(1);
    expect(onFile.stderr).toMatch(/it is a file/);
  });

  it("a non-empty directory that holds no bundle is never replaced", async () => {
    const dir = join(work.dir, "mine");
    mkdirSync(dir);
    writeFileSync(join(dir, "notes.txt"), "keep me");
    const r = await ivc("compile", TOY, "-o", dir);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/is not empty and holds no bundle; refusing to replace it/);
    expect(readFileSync(join(dir, "notes.txt"), "utf8")).toBe("keep me");
  });

  it("flag errors: --train without --stage, a bad --batch, an unknown stage", async () => {
    const out = join(work.dir, "x");
    expect((await ivc("compile", TOY, "-o", out, "--train")).stderr).toMatch(/--train needs --stage NAME/);
    const batch = await ivc("compile", TOY, "-o", out, "--batch", "0");
    expect(batch.status).toBe(2);
    expect(batch.stderr).toMatch(/--batch must be a positive integer, got '0'/);
    const stage = await ivc("compile", TOY, "-o", out, "--train", "--stage", "nope");
    expect(stage.status).toBe(1);
    expect(stage.stderr).toMatch(/unknown train stage `nope`[\s\S]*fit, probe/);
  });

  it("weights that lack a parameter: exit 1 naming it, and no bundle is left behind", async () => {
    const w = join(work.dir, "partial.safetensors");
    writeSafetensors(w, { "head.bias": { dtype: "F32", shape: [3], data: new Float32Array(3) } });
    const out = join(work.dir, "w");
    const r = await ivc("compile", TOY, "-o", out, "--weights", w);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/partial\.safetensors lacks 5 of the model's 6 parameters: embed\.weight/);
    expect(existsSync(out)).toBe(false);
  });
});
