/**
 * Checkpoint key layouts ivc knows (fact sheet section 3, docs/models.md) and, per target model
 * family, the rename rules that turn each layout into the `.ivm` parameter paths. A rule is a key
 * prefix (or an exact key) that is renamed, or dropped with a stated reason; the first matching rule
 * wins, and a key no rule matches is reported as extra. Nothing is skipped without a reason.
 */
import type { ParamInfo } from "../../compiler/ir/types.ts";

/** The model family being loaded, i.e. which `.ivm` parameter layout the keys must reach. */
export type TargetFamily = "uniformerv2" | "videomae" | "videomae-pretrain" | "internvideo" | "other";

/** Key layouts recognised in checkpoint files. */
export type SourceFormat =
  | "uniformerv2" // official UniFormerV2 `.pyth` (`backbone.` prefix), flat or under `model_state`
  | "uniformerv2-mmaction" // mmaction2 conversion: `backbone.transformer.norm`, `cls_head.fc_cls`
  | "clip-visual" // an OpenAI CLIP state dict (`visual.` tower, 2-D conv1, maybe the text tower)
  | "clip-extracted" // CLIP's visual tower as UniFormerV2's extract_clip writes it: no prefix, 2-D conv1
  | "internvideo-mm" // InternVideo-MM Lightning checkpoint (`clip.` prefix under `state_dict`)
  | "videomae" // VideoMAE fine-tuned classifier (`patch_embed`, `blocks`, `fc_norm`, `head`)
  | "videomae-pretrain" // VideoMAE pretraining (`encoder.`, `decoder.`, `encoder_to_decoder`, `mask_token`)
  | "ivc"; // already the model's own parameter paths (an `ivc import` output or an unknown layout)

export const SOURCE_DESCRIPTIONS: Readonly<Record<SourceFormat, string>> = {
  uniformerv2: "official UniFormerV2 checkpoint (backbone.*)",
  "uniformerv2-mmaction": "mmaction2 UniFormerV2 checkpoint (backbone.*, cls_head.fc_cls)",
  "clip-visual": "OpenAI CLIP checkpoint (visual.* tower)",
  "clip-extracted": "CLIP visual tower without prefix (UniFormerV2 extract_clip: conv1, class_embedding, ...)",
  "internvideo-mm": "InternVideo-MM checkpoint (clip.*)",
  videomae: "VideoMAE fine-tuned classifier (patch_embed, blocks, fc_norm, head)",
  "videomae-pretrain": "VideoMAE pretraining checkpoint (encoder.*, decoder.*)",
  ivc: "ivc parameter names",
};

export interface Rule {
  /** Key prefix, or the whole key when `exact`. */
  readonly from: string;
  readonly exact?: boolean;
  /** Replacement of the matched prefix (or the target path when `exact`). */
  readonly to?: string;
  /** Why the key is not loaded; set instead of `to`. */
  readonly drop?: string;
  /** A 2-D CLIP patch embedding (or a 1-tap 3-D one) is centre-inflated to the target's taps. */
  readonly inflate?: boolean;
}

const CLIP_TEXT = "part of CLIP's text tower, which UniFormerV2 does not have";
const CLIP_META = "CLIP build metadata, not a weight";
const BPE =
  "CLIP's BPE token embedding (49408 rows) does not fit the model's byte-level text vocabulary (--set text_vocab=49408 loads it; tokenize with --tokenizer clip:PATH)";
const LIGHTNING = "outside `clip.`: a module of InternVideo-MM's Lightning wrapper whose form ivc does not model";

function textTowerRules(drop: string): Rule[] {
  return [
    { from: "transformer.", drop },
    { from: "token_embedding.", drop },
    { from: "positional_embedding", exact: true, drop },
    { from: "ln_final.", drop },
    { from: "text_projection", exact: true, drop },
    { from: "logit_scale", exact: true, drop },
  ];
}

const CLIP_META_RULES: Rule[] = ["input_resolution", "context_length", "vocab_size"].map((from) => ({
  from,
  exact: true,
  drop: CLIP_META,
}));

/**
 * CLIP's visual tower (keys under `from`: `visual.` in a CLIP state dict, nothing in an extract_clip
 * file) into a UniFormerV2 backbone placed at `to` (`backbone.` or `mml.backbone.`). InternVideo keeps
 * CLIP's final LayerNorm and projection (`keepHead`); UniFormerV2 has neither.
 */
function clipVisualRules(from: string, to: string, keepHead: boolean): Rule[] {
  const head: Rule[] = keepHead
    ? [
        { from: `${from}proj`, exact: true, to: "visual_proj" },
        { from: `${from}ln_post.`, to: "visual_ln_post." },
      ]
    : [
        { from: `${from}proj`, exact: true, drop: "CLIP's projection to the joint embedding; UniFormerV2 does not use it" },
        { from: `${from}ln_post.`, drop: "CLIP's final visual LayerNorm; UniFormerV2 does not use it" },
      ];
  return [{ from: `${from}conv1.weight`, exact: true, to: `${to}conv1.weight`, inflate: true }, ...head, { from, to }];
}

function mmactionRules(to: string): Rule[] {
  return [
    { from: "backbone.transformer.norm.", to: `${to}transformer.proj.0.` },
    { from: "cls_head.fc_cls.", to: `${to}transformer.proj.2.` },
    { from: "backbone.", to },
  ];
}

const VIDEOMAE_DECODER_DROP = "part of the VideoMAE pretraining decoder, which the classifier does not have";

export interface RuleContext {
  /** The model's text token embedding has CLIP's 49408 BPE rows, so CLIP's table loads instead of being dropped. */
  readonly bpeVocab?: boolean;
}

/** Rules for loading `source` into `target`; undefined when the pair makes no sense. */
export function rulesFor(source: SourceFormat, target: TargetFamily, context: RuleContext = {}): Rule[] | undefined {
  const bpeRule = (from: string): Rule[] => (context.bpeVocab ? [] : [{ from, drop: BPE }]);
  if (source === "ivc") return [{ from: "", to: "" }];
  switch (target) {
    case "uniformerv2":
      if (source === "uniformerv2") return [{ from: "backbone.", to: "backbone." }];
      if (source === "uniformerv2-mmaction") return mmactionRules("backbone.");
      if (source === "clip-visual")
        return [...clipVisualRules("visual.", "backbone.", false), ...textTowerRules(CLIP_TEXT), ...CLIP_META_RULES];
      if (source === "clip-extracted") return clipVisualRules("", "backbone.", false);
      if (source === "internvideo-mm") {
        return [
          { from: "clip.visual.conv1.weight", exact: true, to: "backbone.conv1.weight", inflate: true },
          { from: "clip.visual.", to: "backbone." },
          { from: "clip.", drop: "InternVideo-MM's text tower and joint projection, which UniFormerV2 does not have" },
          { from: "", drop: LIGHTNING },
        ];
      }
      return undefined;
    case "videomae":
      // The official fine-tuning loader strips `backbone.` and `encoder.` (fact sheet 3.3).
      if (source === "videomae")
        return [
          { from: "backbone.", to: "" },
          { from: "encoder.", to: "" },
          { from: "", to: "" },
        ];
      if (source === "videomae-pretrain") {
        return [
          {
            from: "encoder.norm.",
            drop: "the pretraining encoder's final LayerNorm; the classifier mean-pools and uses fc_norm, as the official fine-tuning does",
          },
          { from: "encoder.", to: "" },
          { from: "decoder.", drop: VIDEOMAE_DECODER_DROP },
          { from: "encoder_to_decoder.", drop: VIDEOMAE_DECODER_DROP },
          { from: "mask_token", exact: true, drop: VIDEOMAE_DECODER_DROP },
        ];
      }
      return undefined;
    case "videomae-pretrain":
      return source === "videomae-pretrain" ? [{ from: "", to: "" }] : undefined;
    case "internvideo":
      if (source === "videomae")
        return [
          { from: "backbone.", to: "mae." },
          { from: "encoder.", to: "mae." },
          { from: "", to: "mae." },
        ];
      if (source === "videomae-pretrain") {
        return [
          { from: "encoder.norm.", to: "mae_decoder.encoder_norm." },
          { from: "encoder.", to: "mae." },
          { from: "", to: "mae_decoder." },
        ];
      }
      if (source === "uniformerv2") return [{ from: "backbone.", to: "mml.backbone." }];
      if (source === "uniformerv2-mmaction") return mmactionRules("mml.backbone.");
      if (source === "clip-visual") {
        return [
          ...clipVisualRules("visual.", "mml.backbone.", true),
          ...bpeRule("token_embedding."),
          { from: "logit_scale", exact: true, to: "logit_scale" },
          ...CLIP_META_RULES,
          { from: "", to: "text." },
        ];
      }
      if (source === "clip-extracted") return clipVisualRules("", "mml.backbone.", true);
      if (source === "internvideo-mm") {
        return [
          { from: "clip.visual.conv1.weight", exact: true, to: "mml.backbone.conv1.weight", inflate: true },
          { from: "clip.visual.", to: "mml.backbone." },
          { from: "clip.visual_ln_post.", to: "visual_ln_post." },
          { from: "clip.visual_proj", exact: true, to: "visual_proj" },
          { from: "clip.logit_scale", exact: true, to: "logit_scale" },
          {
            from: "clip.text_mask_embedding",
            exact: true,
            drop: "the masked-language embedding, which ivc's InternVideo does not model",
          },
          ...bpeRule("clip.token_embedding."),
          { from: "clip.", to: "text." },
          { from: "", drop: LIGHTNING },
        ];
      }
      return undefined;
    case "other":
      return undefined;
  }
}

const TARGET_BY_MODEL: Readonly<Record<string, TargetFamily>> = {
  UniFormerV2: "uniformerv2",
  VideoMAE: "videomae",
  VideoMAEPretrain: "videomae-pretrain",
  InternVideo: "internvideo",
};

/** The family from the model's name when it is one of ivc's, else from its parameter paths. */
export function targetFamily(params: readonly ParamInfo[], modelName?: string): TargetFamily {
  const byName = modelName !== undefined ? TARGET_BY_MODEL[modelName] : undefined;
  if (byName) return byName;
  const paths = new Set(params.map((p) => p.path));
  if (paths.has("mae.patch_embed.proj.weight") && paths.has("mml.backbone.conv1.weight")) return "internvideo";
  if (paths.has("backbone.conv1.weight")) return "uniformerv2";
  if (paths.has("encoder.patch_embed.proj.weight")) return "videomae-pretrain";
  if (paths.has("patch_embed.proj.weight")) return "videomae";
  return "other";
}

/** Recognises the key layout of a checkpoint (after its wrapper dicts were removed). */
export function detectSource(keys: readonly string[]): SourceFormat {
  const set = new Set(keys);
  const has = (k: string) => set.has(k);
  if (keys.some((k) => k.startsWith("clip.visual."))) return "internvideo-mm";
  if (has("visual.conv1.weight")) return "clip-visual";
  if (has("conv1.weight") && has("class_embedding")) return "clip-extracted";
  if (has("backbone.conv1.weight")) {
    return has("backbone.transformer.norm.weight") || has("cls_head.fc_cls.weight") ? "uniformerv2-mmaction" : "uniformerv2";
  }
  if (has("encoder.patch_embed.proj.weight") && keys.some((k) => k.startsWith("decoder."))) return "videomae-pretrain";
  if (["", "backbone.", "encoder."].some((p) => has(`${p}patch_embed.proj.weight`))) return "videomae";
  // Anything else is taken as the model's own names (an `ivc import` output); unmatched keys are then reported.
  return "ivc";
}

/** Applies the first matching rule: the target path, a drop reason, or undefined (no rule: extra). */
export function applyRules(key: string, rules: readonly Rule[]): { rule: Rule; path?: string; drop?: string } | undefined {
  for (const rule of rules) {
    const hit = rule.exact ? key === rule.from : key.startsWith(rule.from);
    if (!hit) continue;
    if (rule.drop !== undefined) return { rule, drop: rule.drop };
    return { rule, path: rule.exact ? rule.to! : rule.to! + key.slice(rule.from.length) };
  }
  return undefined;
}

export function describeRule(rule: Rule): string {
  const from = rule.exact ? rule.from : rule.from ? `${rule.from}*` : "every key";
  const to = rule.exact ? rule.to! : `${rule.to ?? ""}*`;
  return rule.from === rule.to
    ? `${from} (identity)`
    : `${from} -> ${to}${rule.inflate ? " (centre-inflated when 2-D or 1-tap)" : ""}`;
}
