import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { listTempFiles } from "../../runtime/io/atomic.ts";
import { readSafetensors, writeSafetensors } from "../../runtime/io/safetensors.ts";
import { ELEMENTS, expectedValue } from "./helpers/checkpoint-writer-loop.ts";

const writer = path.join(import.meta.dirname, "helpers", "checkpoint-writer-loop.ts");
const dir = fs.mkdtempSync(path.join(os.tmpdir(), "ivc-atomic-"));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

function assertIntact(file: string): number {
  const { metadata, tensors } = readSafetensors(file);
  const step = Number(metadata.step);
  const weights = tensors.get("weights")!.data;
  expect(weights.length).toBe(ELEMENTS);
  expect(tensors.get("step_count")!.data[0]).toBe(step);
  for (let i = 0; i < ELEMENTS; i += 4099) expect(weights[i]).toBe(expectedValue(step, i));
  expect(weights[ELEMENTS - 1]).toBe(expectedValue(step, ELEMENTS - 1));
  return step;
}

/** Starts the writer loop, waits until it is writing, kills it after `delayMs`. */
function runAndKill(file: string, delayMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    // `node --import tsx` keeps the writer in one process; the tsx launcher would fork a child that outlives SIGKILL.
    const child = spawn(process.execPath, ["--import", "tsx", writer, file], { stdio: ["ignore", "pipe", "pipe"] });
    let stderr = "";
    child.stderr.on("data", (chunk) => (stderr += chunk));
    child.stdout.once("data", () => setTimeout(() => child.kill("SIGKILL"), delayMs));
    child.on("exit", (code, signal) => (signal === "SIGKILL" ? resolve() : reject(new Error(`writer exited with ${code}: ${stderr}`))));
  });
}

describe("atomic checkpoint writes", () => {
  it("leave the previous checkpoint intact and loadable when the writer is killed at random moments", async () => {
    const file = path.join(dir, "model.safetensors");
    const data = new Float32Array(ELEMENTS);
    for (let i = 0; i < ELEMENTS; i++) data[i] = expectedValue(0, i);
    writeSafetensors(file, { weights: { dtype: "F32", shape: [ELEMENTS], data }, step_count: { dtype: "I64", shape: [1], data: BigInt64Array.of(0n) } }, { step: "0" });

    let lastStep = assertIntact(file);
    let killedMidWrite = 0;
    for (let round = 0; round < 8; round++) {
      await runAndKill(file, Math.floor(Math.random() * 400));
      if (listTempFiles(file).length > 0) killedMidWrite++;
      const step = assertIntact(file);
      expect(step).toBeGreaterThanOrEqual(lastStep);
      lastStep = step;
    }
    // About 70% of the writer loop is spent inside writes (measured), so all 8 kills missing them has odds near 1e-4;
    // otherwise this test would not be exercising atomicity at all.
    expect(killedMidWrite).toBeGreaterThan(0);
    expect(lastStep).toBeGreaterThan(0);
  });

  it("cleans up the temporary files of killed writers on the next write", () => {
    const file = path.join(dir, "model.safetensors");
    writeSafetensors(file, { x: { dtype: "F32", shape: [1], data: Float32Array.of(1) } });
    expect(listTempFiles(file)).toEqual([]);
  });
});
