import { describe, expect, it } from "vitest";
import type { LoadedTensor } from "../../runtime/io/dtype.ts";
import { readCheckpoint } from "../../runtime/io/checkpoint.ts";
import { centreInflate, MappingError, mapCheckpoint } from "../../runtime/weights/index.ts";
import { caseParams, caseTensors, internVideoParams, rekey, tensor } from "./helpers.ts";

const noProblems = { missing: [], extra: [], misshaped: [] };
const problems = (r: { missing: unknown; extra: unknown; misshaped: unknown }) => ({
  missing: r.missing,
  extra: r.extra,
  misshaped: r.misshaped,
});

describe("official UniFormerV2 checkpoints", () => {
  for (const format of ["pth", "safetensors"] as const) {
    it(`load by identity from ${format} (model_state wrapper or flat)`, () => {
      const tensors = caseTensors("uniformerv2_ssv2_tiny", format);
      const r = mapCheckpoint(tensors, caseParams("uniformerv2_ssv2_tiny"), { model: "UniFormerV2" });
      expect(r.source).toBe("uniformerv2");
      expect(problems(r)).toEqual(noProblems);
      expect(r.weights.size).toBe(tensors.size);
      expect(r.weights.get("backbone.transformer.resblocks.1.lmhra2.pos_embed.0.running_var")).toEqual(
        tensors.get("backbone.transformer.resblocks.1.lmhra2.pos_embed.0.running_var")!.data,
      );
    });
  }

  it("mmaction2 names (transformer.norm, cls_head.fc_cls) map onto proj.0 / proj.2", () => {
    const original = caseTensors("uniformerv2_k400_tiny");
    const renamed = rekey(original, (k) =>
      k
        .replace("backbone.transformer.proj.0.", "backbone.transformer.norm.")
        .replace("backbone.transformer.proj.2.", "cls_head.fc_cls."),
    );
    expect(renamed.has("cls_head.fc_cls.weight")).toBe(true);
    const r = mapCheckpoint(renamed, caseParams("uniformerv2_k400_tiny"));
    expect(r.source).toBe("uniformerv2-mmaction");
    expect(problems(r)).toEqual(noProblems);
    expect(r.weights.get("backbone.transformer.proj.2.weight")).toEqual(original.get("backbone.transformer.proj.2.weight")!.data);
    expect(r.applied.some((a) => a.startsWith("cls_head.fc_cls.* -> backbone.transformer.proj.2.*"))).toBe(true);
  });
});

/** A CLIP state dict made from the k400 fixture's backbone: `visual.` names, 2-D conv1, plus head and text tower. */
function clipStateDict(): Map<string, LoadedTensor> {
  const backbone = caseTensors("uniformerv2_k400_tiny");
  const clip = rekey(backbone, (k) =>
    /^backbone\.(conv1|class_embedding|positional_embedding|ln_pre|transformer\.resblocks)/.test(k)
      ? k.replace("backbone.", "visual.")
      : undefined,
  );
  const conv = clip.get("visual.conv1.weight")!;
  clip.set("visual.conv1.weight", { ...conv, shape: [16, 3, 4, 4] });
  clip.set("visual.proj", tensor([16, 8], 1));
  clip.set("visual.ln_post.weight", tensor([16], 2));
  clip.set("visual.ln_post.bias", tensor([16], 3));
  clip.set("transformer.resblocks.0.attn.in_proj_weight", tensor([24, 8], 4));
  clip.set("token_embedding.weight", tensor([100, 8], 5));
  clip.set("positional_embedding", tensor([77, 8], 6));
  clip.set("ln_final.weight", tensor([8], 7));
  clip.set("text_projection", tensor([8, 8], 8));
  clip.set("logit_scale", tensor([], 9));
  clip.set("input_resolution", { shape: [], dtype: "I64", data: Int32Array.of(16) });
  return clip;
}

describe("CLIP visual towers", () => {
  it("centre-inflate the 2-D conv1 to 3 taps (temporal downsampling) and drop head and text tower with reasons", () => {
    const clip = clipStateDict();
    const r = mapCheckpoint(clip, caseParams("uniformerv2_ssv2_tiny"), { model: "UniFormerV2" });
    expect(r.source).toBe("clip-visual");
    expect(r.extra).toEqual([]);
    expect(r.misshaped).toEqual([]);
    const conv = r.weights.get("backbone.conv1.weight")!;
    const flat = clip.get("visual.conv1.weight")!.data;
    expect(conv.length).toBe(16 * 3 * 3 * 16);
    for (let ci = 0; ci < 48; ci++) {
      expect(Array.from(conv.subarray((ci * 3 + 1) * 16, (ci * 3 + 2) * 16))).toEqual(
        Array.from(flat.subarray(ci * 16, ci * 16 + 16)),
      );
      expect(conv.subarray(ci * 3 * 16, (ci * 3 + 1) * 16).every((v) => v === 0)).toBe(true);
      expect(conv.subarray((ci * 3 + 2) * 16, (ci * 3 + 3) * 16).every((v) => v === 0)).toBe(true);
    }
    expect(r.applied).toContain("centre-inflated visual.conv1.weight [16, 3, 4, 4] -> backbone.conv1.weight [16, 3, 3, 4, 4]");
    const reasons = new Map(r.dropped.map((d) => [d.key, d.reason]));
    expect(reasons.get("visual.proj")).toMatch(/projection/);
    expect(reasons.get("visual.ln_post.bias")).toMatch(/LayerNorm/);
    expect(reasons.get("token_embedding.weight")).toMatch(/text tower/);
    expect(reasons.get("input_resolution")).toMatch(/metadata/);
    expect(r.dropped).toHaveLength(10);
    // What CLIP cannot provide is listed by name with the expected shape, never skipped.
    expect(r.missing).toContainEqual({ path: "backbone.transformer.dec.0.attn.in_proj_weight", shape: [48, 16] });
    expect(r.missing).toContainEqual({
      path: "backbone.transformer.resblocks.0.lmhra1.pos_embed.1.weight",
      shape: [10, 16, 1, 1, 1],
    });
    expect(r.missing.some((m) => m.path.startsWith("backbone.transformer.resblocks.0.attn"))).toBe(false);
  });

  it("an extract_clip file (no prefix, no proj/ln_post) is inflated and loaded the same way", () => {
    const extracted = rekey(clipStateDict(), (k) =>
      k.startsWith("visual.") && k !== "visual.proj" && !k.startsWith("visual.ln_post") ? k.slice(7) : undefined,
    );
    const params = caseParams("uniformerv2_ssv2_tiny");
    const r = mapCheckpoint(extracted, params);
    expect(r.source).toBe("clip-extracted");
    expect(r.extra).toEqual([]);
    expect(r.misshaped).toEqual([]);
    const viaClip = mapCheckpoint(clipStateDict(), params);
    expect(r.weights.get("backbone.conv1.weight")).toEqual(viaClip.weights.get("backbone.conv1.weight"));
    expect([...r.weights.keys()]).toEqual([...viaClip.weights.keys()]);
    expect(r.missing).toEqual(viaClip.missing);
  });

  it("a 1-tap target receives the 2-D kernel unchanged", () => {
    const clip = clipStateDict();
    const r = mapCheckpoint(clip, caseParams("uniformerv2_k400_tiny"));
    expect(Array.from(r.weights.get("backbone.conv1.weight")!)).toEqual(Array.from(clip.get("visual.conv1.weight")!.data));
  });

  it("centreInflate handles [C,3,P,P] and [C,3,1,P,P] and refuses other shapes", () => {
    const k = Float32Array.from({ length: 2 * 3 * 4 }, (_, i) => i + 1);
    const a = centreInflate(k, [2, 3, 2, 2], [2, 3, 5, 2, 2])!;
    expect(a.length).toBe(2 * 3 * 5 * 4);
    expect(Array.from(a.subarray(2 * 4, 3 * 4))).toEqual([1, 2, 3, 4]);
    expect(a.filter((v) => v !== 0).length).toBe(24);
    expect(centreInflate(k, [2, 3, 1, 2, 2], [2, 3, 3, 2, 2])!.subarray(4, 8)).toEqual(Float32Array.of(1, 2, 3, 4));
    expect(centreInflate(k, [2, 3, 2, 2], [2, 3, 3, 4, 1])).toBeUndefined();
    expect(centreInflate(k, [3, 2, 2, 2], [2, 3, 3, 2, 2])).toBeUndefined();
  });
});

describe("VideoMAE checkpoints", () => {
  it("fine-tuned weights load with or without the backbone./encoder. prefix; pos_embed is regenerated", () => {
    for (const prefix of ["", "encoder.", "backbone."]) {
      const r = mapCheckpoint(
        rekey(caseTensors("videomae_tiny_cls"), (k) => prefix + k),
        caseParams("videomae_tiny_cls"),
        { model: "VideoMAE" },
      );
      expect(r.source).toBe("videomae");
      expect(problems(r)).toEqual(noProblems);
      expect(r.regenerated).toEqual(["pos_embed"]);
    }
  });

  it("a pretraining checkpoint initialises the classifier's encoder; fc_norm and head are reported missing", () => {
    const pre = caseTensors("videomae_tiny_pretrain");
    const r = mapCheckpoint(pre, caseParams("videomae_tiny_cls"), { model: "VideoMAE" });
    expect(r.source).toBe("videomae-pretrain");
    expect(r.weights.get("blocks.1.attn.qkv.weight")).toEqual(pre.get("encoder.blocks.1.attn.qkv.weight")!.data);
    expect(r.missing.map((m) => m.path)).toEqual(["fc_norm.weight", "fc_norm.bias", "head.weight", "head.bias"]);
    expect(r.extra).toEqual([]);
    expect(r.dropped.find((d) => d.key === "encoder.norm.weight")!.reason).toMatch(/fc_norm/);
    expect(r.dropped.find((d) => d.key === "decoder.head.weight")!.reason).toMatch(/decoder/);
  });

  it("a pretraining checkpoint loads into VideoMAEPretrain by identity, both tables regenerated", () => {
    const r = mapCheckpoint(caseTensors("videomae_tiny_pretrain", "safetensors"), caseParams("videomae_tiny_pretrain"), {
      model: "VideoMAEPretrain",
    });
    expect(problems(r)).toEqual(noProblems);
    expect(r.regenerated.sort()).toEqual(["encoder.pos_embed", "pos_embed"]);
  });

  it("a VideoMAE file offered to UniFormerV2 is refused with the models it fits", () => {
    expect(() => mapCheckpoint(caseTensors("videomae_tiny_cls"), caseParams("uniformerv2_k400_tiny"))).toThrow(MappingError);
    expect(() => mapCheckpoint(caseTensors("videomae_tiny_cls"), caseParams("uniformerv2_k400_tiny"))).toThrow(
      /VideoMAE fine-tuned classifier .* uniformerv2/,
    );
  });
});

describe("InternVideo", () => {
  it("takes VideoMAE pretraining, UniFormerV2 and InternVideo-MM parts under their documented prefixes", () => {
    const params = internVideoParams();
    const pre = mapCheckpoint(caseTensors("videomae_tiny_pretrain"), params, { model: "InternVideo" });
    expect(pre.extra).toEqual([]);
    expect(pre.misshaped).toEqual([]);
    expect(pre.weights.get("mae_decoder.encoder_norm.weight")).toEqual(
      caseTensors("videomae_tiny_pretrain").get("encoder.norm.weight")!.data,
    );
    expect(pre.weights.has("mae.blocks.1.mlp.fc2.bias")).toBe(true);
    expect(pre.weights.has("mae_decoder.decoder.head.weight")).toBe(true);
    expect(pre.weights.has("mae_decoder.mask_token")).toBe(true);

    const uni = mapCheckpoint(caseTensors("uniformerv2_k400_tiny"), params, { model: "InternVideo" });
    expect(uni.source).toBe("uniformerv2");
    expect(uni.misshaped).toEqual([]);
    expect(uni.weights.has("mml.backbone.transformer.dec.1.ln_3.bias")).toBe(true);
  });

  it("maps an InternVideo-MM checkpoint (clip. prefix) and drops the BPE embedding and the Lightning modules with reasons", () => {
    const params = internVideoParams();
    const mm = new Map<string, LoadedTensor>();
    const origin = new Map<string, string>();
    params.forEach((p, i) => {
      let key: string | undefined;
      if (p.path.startsWith("mml.backbone.") && !p.path.startsWith("mml.backbone.transformer.proj."))
        key = p.path.replace("mml.backbone.", "clip.visual.");
      else if (p.path.startsWith("visual_ln_post.") || p.path === "visual_proj" || p.path === "logit_scale")
        key = `clip.${p.path}`;
      else if (p.path.startsWith("text.") && p.path !== "text.token_embedding.weight") key = p.path.replace("text.", "clip.");
      if (key === undefined) return;
      mm.set(key, tensor(p.shape.map(Number), i));
      origin.set(key, p.path);
    });
    mm.set("clip.token_embedding.weight", tensor([49408, 4], 0));
    mm.set("clip.text_mask_embedding", tensor([1, 1, 64], 0));
    mm.set("caption_decoder.query", tensor([3], 0));
    const r = mapCheckpoint(mm, params);
    expect(r.source).toBe("internvideo-mm");
    expect(r.target).toBe("internvideo");
    expect(r.extra).toEqual([]);
    expect(r.misshaped).toEqual([]);
    for (const [key, path] of origin) expect(r.weights.get(path), key).toEqual(mm.get(key)!.data);
    expect(r.dropped.map((d) => d.key).sort()).toEqual([
      "caption_decoder.query",
      "clip.text_mask_embedding",
      "clip.token_embedding.weight",
    ]);
    expect(r.dropped.find((d) => d.key === "clip.token_embedding.weight")!.reason).toMatch(/BPE/);
  });

  it("the committed state_dict fixture: logit_scale maps, a key InternVideo lacks is extra", () => {
    const tensors = readCheckpoint("test/fixtures/io/state_dict_wrapped.ckpt").tensors;
    const r = mapCheckpoint(tensors, internVideoParams());
    expect(r.source).toBe("internvideo-mm");
    expect(r.weights.get("logit_scale")).toEqual(tensors.get("clip.logit_scale")!.data);
    expect(r.extra).toEqual(["clip.visual.proj"]);
  });
});

describe("problems are reported by name", () => {
  it("a checkpoint of another configuration: wrong conv1 taps and unused LMHRA keys", () => {
    const r = mapCheckpoint(caseTensors("uniformerv2_ssv2_tiny"), caseParams("uniformerv2_k400_tiny", ["global_layers=3"]));
    expect(r.misshaped).toEqual([
      { path: "backbone.conv1.weight", key: "backbone.conv1.weight", expected: [16, 3, 1, 4, 4], found: [16, 3, 3, 4, 4] },
    ]);
    expect(r.extra).toContain("backbone.transformer.resblocks.2.lmhra2.pos_embed.3.weight");
    expect(r.extra.every((k) => k.includes("lmhra"))).toBe(true);
    expect(r.missing).toEqual([]);
    expect(r.weights.has("backbone.conv1.weight")).toBe(false);
  });

  it("a missing key is listed with its expected shape", () => {
    const tensors = caseTensors("uniformerv2_k400_tiny");
    tensors.delete("backbone.transformer.dec.1.mlp.c_fc.weight");
    const r = mapCheckpoint(tensors, caseParams("uniformerv2_k400_tiny"));
    expect(r.missing).toEqual([{ path: "backbone.transformer.dec.1.mlp.c_fc.weight", shape: [64, 16] }]);
  });

  it("the committed videomae_style.pth: a head of the wrong size is misshaped, the rest missing", () => {
    const r = mapCheckpoint(readCheckpoint("test/fixtures/io/videomae_style.pth").tensors, caseParams("videomae_tiny_cls"), {
      model: "VideoMAE",
    });
    expect(r.misshaped).toEqual([
      { path: "head.weight", key: "head.weight", expected: [10, 16], found: [2, 3] },
      { path: "head.bias", key: "head.bias", expected: [10], found: [2] },
    ]);
    expect(r.missing).toContainEqual({ path: "patch_embed.proj.weight", shape: [16, 3, 2, 4, 4] });
    expect(r.weights.has("head.bias")).toBe(false);
  });

  it("size-1 axes alone are a reshape, not an error", () => {
    const tensors = caseTensors("uniformerv2_k400_tiny");
    const q = tensors.get("backbone.transformer.temporal_cls_token")!;
    tensors.set("backbone.transformer.temporal_cls_token", { ...q, shape: [16] });
    const r = mapCheckpoint(tensors, caseParams("uniformerv2_k400_tiny"));
    expect(problems(r)).toEqual(noProblems);
    expect(r.applied).toContain("reshaped backbone.transformer.temporal_cls_token [16] -> [1, 1, 16]");
  });
});
