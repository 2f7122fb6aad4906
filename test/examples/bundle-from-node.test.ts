import { describe, expect, it } from "vitest";
import { missingCommands, runExample } from "./run-example.ts";

const skip = missingCommands("bundle-from-node", ["train", "compile"]);

describe.skipIf(skip !== undefined)("examples/bundle-from-node", () => {
  it("compiles a trained model and runs the bundle from a plain Node script", () => {
    const r = runExample("bundle-from-node");
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/VideoTransformer \(tiny\), \d+ kernels, batch 1/);
    const logits = /logits \[1, 8\]: (.*)/.exec(r.stdout)![1]!.split(" ").map(Number);
    expect(logits).toHaveLength(8);
    expect(logits.every(Number.isFinite)).toBe(true);
    expect(r.stdout).toMatch(/top-3: class \d \d+\.\d%/);
    expect(r.stdout).toMatch(/head\.bias \(8 values\) read back/);
  }, 120_000);
});
