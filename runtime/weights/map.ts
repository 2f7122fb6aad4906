/**
 * mapCheckpoint: the tensors of an official checkpoint (any layout in formats.ts) renamed to a
 * compiled model's parameter paths, with every problem reported by name: parameters the file does
 * not provide (with the shape the model expects), keys nothing uses, and shape mismatches.
 * Sinusoidal tables are regenerated from their `@init`, as the official code does (they are never
 * stored in VideoMAE checkpoints).
 */
import { evalShape } from "../../compiler/ir/dims.ts";
import type { ParamInfo } from "../../compiler/ir/types.ts";
import type { LoadedTensor } from "../io/dtype.ts";
import { initParams } from "../init/index.ts";
import { CLIP_VOCAB } from "../text/clip-bpe.ts";
import {
  applyRules,
  describeRule,
  detectSource,
  rulesFor,
  type Rule,
  SOURCE_DESCRIPTIONS,
  type SourceFormat,
  type TargetFamily,
  targetFamily,
} from "./formats.ts";
import { type HeadRemap, isHeadPath, selectHeadRows } from "./head-remap.ts";
import { centreInflate } from "./inflate.ts";

export type WeightArray = Float32Array | Int32Array;

export interface MapOptions {
  /** The model's name (`UniFormerV2`, `VideoMAE`, `VideoMAEPretrain`, `InternVideo`); else inferred from the paths. */
  readonly model?: string;
  /** Force a key layout instead of detecting it from the keys. */
  readonly source?: SourceFormat;
  /** Rows of the checkpoint's classifier heads to keep where their class count differs from the model's (K710 -> K400). */
  readonly remapHead?: HeadRemap;
}

export interface MappedCheckpoint {
  /** By parameter path, in the model's parameter order. */
  readonly weights: Map<string, WeightArray>;
  readonly missing: { path: string; shape: number[] }[];
  readonly extra: string[];
  readonly misshaped: { path: string; key: string; expected: number[]; found: number[] }[];
  /** Keys deliberately not loaded, each with the reason (e.g. CLIP's text tower for UniFormerV2). */
  readonly dropped: { key: string; reason: string }[];
  /** Buffers computed from their `@init` because checkpoints do not store them. */
  readonly regenerated: string[];
  /** Head parameters whose rows were selected by `remapHead`. */
  readonly remapped: string[];
  /** The mappings used, readable: rules with their tensor counts, inflations, reshapes. */
  readonly applied: string[];
  readonly source: SourceFormat;
  readonly target: TargetFamily;
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

function withoutOnes(shape: readonly number[]): number[] {
  return shape.filter((d) => d !== 1);
}

function castTo(param: ParamInfo, data: WeightArray): WeightArray {
  if (param.dtype === "f32") return data instanceof Float32Array ? data : Float32Array.from(data);
  return data instanceof Int32Array ? data : Int32Array.from(data, Math.round);
}

export function mapCheckpoint(
  tensors: ReadonlyMap<string, LoadedTensor>,
  params: readonly ParamInfo[],
  options: MapOptions = {},
): MappedCheckpoint {
  const target = targetFamily(params, options.model);
  const source = options.source ?? detectSource([...tensors.keys()]);
  const byPath = new Map(params.map((p) => [p.path, p]));
  const textEmbedding = byPath.get("text.token_embedding.weight");
  const bpeVocab = textEmbedding !== undefined && evalShape(textEmbedding.shape, {})[0] === CLIP_VOCAB;
  const rules = rulesFor(source, target, { bpeVocab });
  if (!rules) {
    throw new MappingError(
      `a ${SOURCE_DESCRIPTIONS[source]} cannot be loaded into a ${target === "other" ? "model of this kind" : `${target} model`}`,
      suggestion(source),
    );
  }
  const found = new Map<string, WeightArray>();
  const extra: string[] = [];
  const dropped: { key: string; reason: string }[] = [];
  const misshaped: MappedCheckpoint["misshaped"] = [];
  const remapped: string[] = [];
  const ruleUse = new Map<Rule, number>();
  const notes: string[] = [];
  for (const [key, tensor] of tensors) {
    const hit = applyRules(key, rules);
    if (!hit) {
      extra.push(key);
      continue;
    }
    if (hit.drop !== undefined) {
      dropped.push({ key, reason: hit.drop });
      continue;
    }
    const path = hit.path!;
    const param = byPath.get(path);
    if (!param) {
      extra.push(key);
      continue;
    }
    if (found.has(path)) {
      // Two keys for one parameter (e.g. `x` and `backbone.x`): the first is kept, the second reported.
      extra.push(key);
      notes.push(`${key}: ${path} was already loaded from another key`);
      continue;
    }
    const expected = evalShape(param.shape, {});
    let data: WeightArray = tensor.data;
    let shape = tensor.shape;
    const remap = options.remapHead;
    if (remap && isHeadPath(path, target) && shape.length === expected.length && shape[0] !== expected[0]) {
      const picked = selectHeadRows(tensor, remap, key, path, expected[0]!);
      notes.push(`head rows ${remap.source}: ${key} [${shape.join(", ")}] -> ${path} [${picked.shape.join(", ")}]`);
      data = picked.data;
      shape = picked.shape;
      remapped.push(path);
    }
    if (hit.rule.inflate && !sameShape(shape, expected)) {
      const inflated = centreInflate(tensor.data as Float32Array, shape, expected);
      if (inflated) {
        notes.push(`centre-inflated ${key} [${shape.join(", ")}] -> ${path} [${expected.join(", ")}]`);
        data = inflated;
        shape = expected;
      }
    }
    if (!sameShape(shape, expected)) {
      // Size-1 axes only (`logit_scale` as [] or [1], a [1,1,C] token stored as [C]) are a reshape, not an error.
      if (data.length === expected.reduce((a, b) => a * b, 1) && sameShape(withoutOnes(shape), withoutOnes(expected))) {
        notes.push(`reshaped ${key} [${shape.join(", ")}] -> [${expected.join(", ")}]`);
      } else {
        misshaped.push({ path, key, expected, found: [...shape] });
        continue;
      }
    }
    found.set(path, castTo(param, data));
    ruleUse.set(hit.rule, (ruleUse.get(hit.rule) ?? 0) + 1);
  }
  const regenerate = params.filter((p) => !found.has(p.path) && p.kind === "buffer" && p.init.kind === "sinusoidal");
  const generated = initParams(regenerate, 0);
  const weights = new Map<string, WeightArray>();
  const missing: MappedCheckpoint["missing"] = [];
  const misshapedPaths = new Set(misshaped.map((m) => m.path));
  for (const p of params) {
    const w = found.get(p.path) ?? generated.get(p.path);
    if (w) weights.set(p.path, w);
    else if (!misshapedPaths.has(p.path)) missing.push({ path: p.path, shape: evalShape(p.shape, {}) });
  }
  const applied = [
    `format: ${SOURCE_DESCRIPTIONS[source]} -> ${target}`,
    ...rules
      .filter((r) => ruleUse.has(r))
      .map((r) => `${describeRule(r)}: ${ruleUse.get(r)} tensor${ruleUse.get(r) === 1 ? "" : "s"}`),
    ...notes,
  ];
  const regenerated = regenerate.map((p) => p.path);
  return { weights, missing, extra, misshaped, dropped, regenerated, remapped, applied, source, target };
}

function suggestion(source: SourceFormat): string {
  switch (source) {
    case "videomae":
    case "videomae-pretrain":
      return "load it into models/videomae.ivm (--model VideoMAE for a fine-tuned file, VideoMAEPretrain for a pretraining one) or models/internvideo.ivm";
    case "uniformerv2":
    case "uniformerv2-mmaction":
    case "clip-visual":
    case "clip-extracted":
      return "load it into models/uniformerv2.ivm or models/internvideo.ivm";
    case "internvideo-mm":
      return "load it into models/internvideo.ivm (or its visual tower into models/uniformerv2.ivm)";
    case "ivc":
      return "the file's keys should be the model's parameter paths (see `ivc info`)";
  }
}

/** The pair (file layout, model) has no mapping at all. */
export class MappingError extends Error {
  constructor(
    message: string,
    readonly help: string,
  ) {
    super(message);
  }
}
