import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { missingCommands, runExample } from "./run-example.ts";

const skip = missingCommands("custom-block", ["check", "info", "graph", "train"]);

describe.skipIf(skip !== undefined)("examples/custom-block", () => {
  it("adds a temporal block to UniFormerV2, trains it with the backbone frozen, then everything", () => {
    const r = runExample("custom-block");
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/trainable 1,480\n\s+frozen\s+45,920/);
    const svg = readFileSync(join(r.out, "motion_only.svg"), "utf8");
    expect(svg).toMatch(/data-path="motion" data-kind="[a-z]+" data-frozen="false"/);
    expect(svg).toMatch(/data-path="backbone.conv1" data-kind="module" data-frozen="true"/);
    for (const stage of ["motion_only", "finetune"]) {
      const run = JSON.parse(readFileSync(join(r.out, "runs", stage, "run.json"), "utf8"));
      expect(run.status).toBe("finished");
      expect(existsSync(join(r.out, "runs", stage, "checkpoint.safetensors"))).toBe(true);
    }
    expect(r.stdout).toContain("[finetune] initialised 56 of 56 tensors from the previous stage");
  }, 120_000);
});
