import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { missingCommands, runExample } from "./run-example.ts";

const skip = missingCommands("finetune-from-checkpoint", ["train", "run"]);

describe.skipIf(skip !== undefined)("examples/finetune-from-checkpoint", () => {
  it("writes PNG frame folders, fine-tunes from a checkpoint on them, classifies a clip", () => {
    const r = runExample("finetune-from-checkpoint");
    expect(r.status).toBe(0);
    const train = readFileSync(join(r.out, "data", "train.txt"), "utf8").trim().split("\n");
    expect(train).toHaveLength(16);
    const [dir, label] = train[0]!.split(" ");
    expect(Number(label)).toBeGreaterThanOrEqual(0);
    expect(readdirSync(join(r.out, "data", dir!)).filter((f) => f.endsWith(".png"))).toHaveLength(8);
    expect(r.stdout).toMatch(/--init \S+pretrain\/checkpoint\.safetensors: loaded 131 tensors/);
    expect(r.stdout).toContain("data videos");
    expect(existsSync(join(r.out, "finetune", "checkpoint.safetensors"))).toBe(true);
    expect(r.stdout).toMatch(/UniFormerV2 on cpu: output \[1, 4\]\nclip 0:\s+\d/);
  }, 120_000);
});
