import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { UserError } from "../../cli/errors.ts";
import { PARITY_DIR } from "../parity/parity-helpers.ts";
import { describeLoad, loadWeights } from "../../runtime/weights/index.ts";
import { writeSafetensors, type TensorToWrite } from "../../runtime/io/safetensors.ts";
import { caseParams, caseTensors, internVideoParams, parityCase } from "./helpers.ts";

const dir = mkdtempSync(join(tmpdir(), "ivc-weights-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const fixture = (name: string, format: "pth" | "safetensors" = "pth") => join(PARITY_DIR, parityCase(name).checkpoint[format]);

function userError(fn: () => unknown): UserError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(UserError);
    return e as UserError;
  }
  throw new Error("expected a UserError");
}

describe("loadWeights", () => {
  it("loads an official checkpoint completely, in the model's parameter order", () => {
    const params = caseParams("uniformerv2_k400_tiny");
    const loaded = loadWeights([fixture("uniformerv2_k400_tiny")], params);
    expect([...loaded.weights.keys()]).toEqual(params.map((p) => p.path));
    expect(loaded.initialised).toEqual([]);
    expect(describeLoad(loaded)[0]).toMatch(/official UniFormerV2 checkpoint/);
  });

  it("names every missing parameter with its shape, and suggests --init-missing", () => {
    const tensors = caseTensors("uniformerv2_k400_tiny", "safetensors");
    tensors.delete("backbone.ln_pre.bias");
    tensors.delete("backbone.transformer.balance");
    const file = join(dir, "partial.safetensors");
    writeSafetensors(
      file,
      new Map([...tensors].map(([k, t]) => [k, { dtype: "F32", shape: t.shape, data: t.data as Float32Array } as TensorToWrite])),
    );
    const e = userError(() => loadWeights([file], caseParams("uniformerv2_k400_tiny")));
    expect(e.message).toContain("lacks 2 of the model's parameters");
    expect(e.message).toContain("backbone.ln_pre.bias [16]");
    expect(e.message).toContain("backbone.transformer.balance [16]");
    expect(e.help).toContain("--init-missing");
    const loaded = loadWeights([file], caseParams("uniformerv2_k400_tiny"), { initMissing: true });
    expect(loaded.initialised).toEqual(["backbone.ln_pre.bias", "backbone.transformer.balance"]);
    expect(Array.from(loaded.weights.get("backbone.transformer.balance")!)).toEqual(new Array(16).fill(0));
  });

  it("stops on wrong shapes and unused keys, naming both", () => {
    const e = userError(() =>
      loadWeights([fixture("uniformerv2_ssv2_tiny")], caseParams("uniformerv2_k400_tiny", ["global_layers=3"])),
    );
    expect(e.message).toContain(
      "backbone.conv1.weight: the model expects [16, 3, 1, 4, 4], the checkpoint's backbone.conv1.weight is [16, 3, 3, 4, 4]",
    );
    expect(e.message).toMatch(/keys are not used by the model:\n\s+backbone\.transformer\.resblocks\.0\.lmhra1/);
    expect(e.help).toMatch(/another configuration/);
  });

  it("ignoreExtra loads a file with unused keys (LMHRA weights for a model without LMHRA)", () => {
    const params = caseParams("uniformerv2_k400_tiny", ["global_layers=3", "temporal_downsample=true"]);
    expect(() => loadWeights([fixture("uniformerv2_ssv2_tiny")], params)).toThrow(/not used by the model/);
    const loaded = loadWeights([fixture("uniformerv2_ssv2_tiny")], params, { ignoreExtra: true });
    expect(loaded.weights.size).toBe(params.length);
    expect(describeLoad(loaded).some((l) => /ignored 60 unused keys: backbone\.transformer\.resblocks\.0\.lmhra1/.test(l))).toBe(
      true,
    );
  });

  it("initMissing completes a pretraining checkpoint loaded into the classifier", () => {
    const loaded = loadWeights([fixture("videomae_tiny_pretrain")], caseParams("videomae_tiny_cls"), {
      model: "VideoMAE",
      initMissing: true,
    });
    expect(loaded.initialised).toEqual(["fc_norm.weight", "fc_norm.bias", "head.weight", "head.bias"]);
    expect(describeLoad(loaded).some((l) => l.includes("dropped") && l.includes("decoder"))).toBe(true);
  });

  it("combines InternVideo's parts; a later file overrides an earlier one and says so", () => {
    const pre = fixture("videomae_tiny_pretrain");
    const cls = fixture("videomae_tiny_cls");
    const params = internVideoParams();
    const parts = [pre, cls, fixture("uniformerv2_k400_tiny", "safetensors")];
    const e = userError(() => loadWeights(parts, params));
    expect(e.message).toMatch(/the checkpoints lack \d+ of the model's parameters/);
    expect(e.message).toContain("visual_proj [16, 32]");
    expect(e.help).toContain("--init-missing");
    const loaded = loadWeights(parts, params, { initMissing: true });
    expect(loaded.overrides).toEqual([`28 parameters: ${cls} replaces ${pre}`]);
    expect(loaded.regenerated).toEqual(["mae.pos_embed", "mae_decoder.pos_embed"]);
    expect(describeLoad(loaded)).toContain(`overridden 28 parameters: ${cls} replaces ${pre}`);
    expect(loaded.weights.get("mae.blocks.0.attn.qkv.weight")).toEqual(
      caseTensors("videomae_tiny_cls").get("blocks.0.attn.qkv.weight")!.data,
    );
    expect(loaded.weights.get("mae_decoder.encoder_norm.weight")).toEqual(
      caseTensors("videomae_tiny_pretrain").get("encoder.norm.weight")!.data,
    );
    expect(loaded.weights.get("mml.backbone.transformer.proj.2.weight")).toEqual(
      caseTensors("uniformerv2_k400_tiny").get("backbone.transformer.proj.2.weight")!.data,
    );
    expect(loaded.initialised).toContain("visual_proj");
    expect(loaded.initialised.some((p) => p.startsWith("mae.") || p.startsWith("mml."))).toBe(false);
  });

  it("a missing, truncated or non-checkpoint file is a UserError naming the file", () => {
    expect(userError(() => loadWeights([join(dir, "nope.pth")], caseParams("uniformerv2_k400_tiny"))).message).toMatch(
      /not found: .*nope\.pth/,
    );
    const truncated = join(dir, "truncated.pth");
    const bytes = readFileSync(fixture("uniformerv2_k400_tiny"));
    writeFileSync(truncated, bytes.subarray(0, Math.floor(bytes.byteLength / 2)));
    expect(userError(() => loadWeights([truncated], caseParams("uniformerv2_k400_tiny"))).message).toContain("truncated.pth");
    const text = join(dir, "notes.pth");
    writeFileSync(text, "these are not weights\n");
    expect(userError(() => loadWeights([text], caseParams("uniformerv2_k400_tiny"))).message).toMatch(/not a checkpoint/);
    const half = join(dir, "half.safetensors");
    copyFileSync(fixture("videomae_tiny_cls", "safetensors"), half);
    writeFileSync(half, readFileSync(half).subarray(0, 600));
    expect(userError(() => loadWeights([half], caseParams("videomae_tiny_cls"))).message).toContain("half.safetensors");
  });

  it("a layout that does not fit the model is a UserError with the models it fits", () => {
    const e = userError(() => loadWeights([fixture("videomae_tiny_cls")], caseParams("uniformerv2_k400_tiny")));
    expect(e.message).toMatch(/weights\.pth: a VideoMAE fine-tuned classifier .* cannot be loaded into a uniformerv2 model/);
    expect(e.help).toContain("models/videomae.ivm");
  });
});
