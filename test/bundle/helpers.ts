/**
 * Bundle tests run the CLI and the bundle as a user would: `ivc compile` in a child process, then a
 * plain `.mjs` program in another that imports the bundle's index.js. Bundles are written under the
 * repository's build/ (git-ignored) because a bundle resolves `webgpu` from the node_modules above
 * it, exactly as in a user's project that has `webgpu` installed.
 */
import { spawnSync } from "node:child_process";
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";

export const REPO = resolve(import.meta.dirname, "..", "..");
const ROOT = join(REPO, "build", "test-bundles");

// Read per call: a test may point IVC_CACHE_DIR somewhere of its own.
const env = () => ({ ...process.env, XDG_RUNTIME_DIR: process.env.XDG_RUNTIME_DIR ?? "/tmp", NO_COLOR: "1" });

export interface Ran {
  readonly status: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

export function ivc(...args: string[]): Ran {
  const r = spawnSync(process.execPath, [join(REPO, "bin/ivc.mjs"), ...args], { cwd: REPO, encoding: "utf8", env: env() });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** A fresh directory for one test file's bundles; removed by the returned cleanup. */
export function workDir(name: string): { dir: string; cleanup: () => void } {
  const dir = join(ROOT, `${name}-${process.pid}`);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Runs `source` as an ES module program in `dir` with plain node (no tsx); its stdout is JSON. */
export function runNode<T>(dir: string, file: string, source: string): T {
  const path = join(dir, file);
  writeFileSync(path, source);
  const r = spawnSync(process.execPath, [path], { cwd: dir, encoding: "utf8", env: env(), timeout: 120_000 });
  if (r.status !== 0) throw new Error(`node ${file} exited ${r.status}:\n${r.stderr}`);
  return JSON.parse(r.stdout) as T;
}

export function writeF32(path: string, data: Float32Array): void {
  writeFileSync(path, new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
}

/** Max |a - b| over max(1e-6, max |b|): the relative error of a whole tensor. */
export function relError(got: ArrayLike<number>, want: ArrayLike<number>): number {
  if (got.length !== want.length) return Infinity;
  let scale = 1e-6;
  let err = 0;
  for (let i = 0; i < want.length; i++) {
    scale = Math.max(scale, Math.abs(want[i]!));
    err = Math.max(err, Math.abs(got[i]! - want[i]!));
  }
  return err / scale;
}
