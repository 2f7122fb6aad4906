// The InternVideo interaction stage (issue: freezes honoured end to end): both encoders, the text side and the
// decoders stay bit-identical and get no optimizer state; the cross-model attentions, the score mix, the two
// classifier heads and the multimodal query token train.
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { compileModel } from "../../compiler/pipeline.ts";
import { initParams } from "../../runtime/init/index.ts";
import { tempDir, tensors, train } from "./helpers.ts";

// InternVideo tiny shrunk further so that the CPU reference engine takes a step in about a second.
const SMALL = [
  "frames=4", "size=16",
  "mae.frames=4", "mae.size=16", "mae.patch=8", "mae.width=16", "mae.depth=2", "mae.heads=2", "mae.classes=4",
  "mae.decoder_width=8", "mae.decoder_depth=1", "mae.decoder_heads=2",
  "mml.frames=4", "mml.size=16", "mml.width=16", "mml.layers=2", "mml.heads=2", "mml.global_layers=1", "mml.classes=4",
  "embed_dim=8", "text_len=8", "text_width=16", "text_layers=1", "text_heads=2",
  "caption_queries=2", "caption_layers=1", "caption_heads=2",
];

describe("InternVideo interaction stage", () => {
  it("leaves both encoders bit-identical and trains only the interaction modules, heads and query", async () => {
    const out = tempDir();
    const { run, output } = train(out, { file: "models/internvideo.ivm", set: SMALL, stage: "interaction", steps: 2, batch: 2, lr: 1e-2 });
    await run;
    const compiled = compileModel("models/internvideo.ivm", { preset: "tiny", set: SMALL, stage: "interaction" });
    expect(compiled.diagnostics).toEqual([]);
    const params = compiled.elaborated!.graph.params.filter((p) => p.kind === "param");
    const frozen = params.filter((p) => p.frozen).map((p) => p.path);
    const trained = params.filter((p) => !p.frozen).map((p) => p.path);
    const top = (p: string) => p.split(".")[0]!;
    expect(new Set(frozen.map(top))).toEqual(new Set(["mae", "mae_decoder", "mml", "visual_ln_post", "visual_proj", "text", "logit_scale", "caption_decoder"]));
    expect(new Set(trained.map(top))).toEqual(new Set(["cma", "cma_back", "fusion", "mae", "mml"]));
    expect(trained.filter((p) => p.startsWith("mae.")).every((p) => p.startsWith("mae.head."))).toBe(true);
    expect(trained.filter((p) => p.startsWith("mml.")).sort()).toEqual(
      trained.filter((p) => p.startsWith("mml.backbone.transformer.proj") || p === "mml.backbone.transformer.temporal_cls_token").sort(),
    );

    const initial = initParams(compiled.elaborated!.graph.params, 3);
    const { tensors: saved } = tensors(path.join(out, "checkpoint.safetensors"));
    for (const p of frozen) {
      expect(Buffer.from(saved.get(p)!.data.buffer).equals(Buffer.from(initial.get(p)!.buffer)), p).toBe(true);
      expect(saved.has(`optim.exp_avg:${p}`), p).toBe(false);
    }
    for (const p of trained) expect(saved.has(`optim.exp_avg:${p}`), p).toBe(true);
    // The gates start at 0 (tanh(0) = 0) and the heads get gradients: some trained tensors move.
    expect(trained.filter((p) => saved.get(p)!.data.some((v, i) => v !== initial.get(p)![i])).length).toBeGreaterThan(trained.length / 2);
    expect(output.text()).toMatch(new RegExp(`${trained.length} parameter tensors train .*${frozen.length} frozen`));
  });
});
