/** Shared setup for the training tests: a UniFormerV2 small enough to take a few dozen steps per second. */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterEach } from "vitest";
import { readSafetensors } from "../../runtime/io/safetensors.ts";
import { runTraining, type TrainOptions } from "../../runtime/train/run.ts";
import { TINY_SET } from "./engine-setup.ts";

export { TINY_SET } from "./engine-setup.ts";

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

export function tempDir(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "ivc-train-"));
  dirs.push(dir);
  return dir;
}

export function collectingOutput(): { write(text: string): void; text(): string } {
  let buffer = "";
  return { write: (t: string) => void (buffer += t), text: () => buffer };
}

export function train(out: string, extra: Partial<TrainOptions> = {}) {
  const output = collectingOutput();
  const run = runTraining({
    file: "models/uniformerv2.ivm",
    preset: "tiny",
    set: TINY_SET,
    stage: "finetune",
    steps: 12,
    batch: 4,
    resume: false,
    engine: "cpu",
    out,
    output,
    evalEvery: 1000,
    saveEvery: 1000,
    logEvery: 1,
    evalClips: 8,
    seed: 3,
    ...extra,
  });
  return { run, output };
}

export function readMetrics(dir: string): Record<string, unknown>[] {
  return fs.readFileSync(path.join(dir, "metrics.jsonl"), "utf8").trim().split("\n").map((l) => JSON.parse(l) as Record<string, unknown>);
}

export function tensors(file: string) {
  return readSafetensors(file);
}
