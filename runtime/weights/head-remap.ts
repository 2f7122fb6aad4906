/**
 * Fine-tuning a Kinetics-710 checkpoint on another Kinetics set keeps the classifier rows of that
 * set's classes (fact sheet 2.4; UniFormerV2 `slowfast/models/uniformerv2.py`). K400 needs no list:
 * the first 400 K710 classes are K400's, in K400's official order, so its head is `head[:400]`
 * (`k400`). K600 and K700 take an index list, one K710 row per target class, which the user
 * supplies: UniFormerV2's `data_list/k710/label_mixto600.json` / `label_mixto700.json` or
 * mmaction2's `k710_channel_map/map_k*.json` (a plain JSON list either way; mmaction2's K400 list
 * reorders the first 400 rows into mmaction2's own K400 label order).
 */
import { readFileSync } from "node:fs";
import { catalogError } from "../../cli/errors.ts";
import type { LoadedTensor } from "../io/dtype.ts";
import type { TargetFamily } from "./formats.ts";

export interface HeadRemap {
  /** `k400` or the file the list came from, for messages. */
  readonly source: string;
  /** For each class of the model, the checkpoint row it takes. */
  readonly rows: readonly number[];
}

export const K400_FROM_K710: HeadRemap = { source: "k400", rows: Array.from({ length: 400 }, (_, i) => i) };

/** `k400`, or a JSON file holding one list of row indices; a bad file is IV6007. */
export function readHeadRemap(spec: string): HeadRemap {
  if (spec === K400_FROM_K710.source) return K400_FROM_K710;
  let text: string;
  try {
    text = readFileSync(spec, "utf8");
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw catalogError("IV6007", { path: spec, reason: code === "ENOENT" ? "no such file" : (e as Error).message });
  }
  let list: unknown;
  try {
    list = JSON.parse(text);
  } catch (e) {
    throw catalogError("IV6007", { path: spec, reason: `it is not JSON (${(e as Error).message})` });
  }
  if (!Array.isArray(list) || list.length === 0)
    throw catalogError("IV6007", { path: spec, reason: "it should hold one non-empty JSON list of row indices" });
  const bad = list.findIndex((x) => !Number.isInteger(x) || (x as number) < 0);
  if (bad >= 0)
    throw catalogError("IV6007", { path: spec, reason: `entry ${bad} is ${JSON.stringify(list[bad])}, not a row index (an integer >= 0)` });
  return { source: spec, rows: list as number[] };
}

/** The classifier heads of each model family, by parameter path prefix (weight [K, C] and bias [K]). */
const HEAD_PREFIXES: Readonly<Record<TargetFamily, readonly string[]>> = {
  uniformerv2: ["backbone.transformer.proj.2."],
  videomae: ["head."],
  "videomae-pretrain": [],
  internvideo: ["mae.head.", "mml.backbone.transformer.proj.2."],
  other: [],
};

export function isHeadPath(path: string, target: TargetFamily): boolean {
  return HEAD_PREFIXES[target].some((prefix) => path.startsWith(prefix) && !path.slice(prefix.length).includes("."));
}

/**
 * The head tensor `key` (loaded into `path`, which has `classes` rows) reduced to the rows the remap
 * names, in its order; a list of another length is IV6008, a row past the tensor's is IV6009.
 */
export function selectHeadRows(tensor: LoadedTensor, remap: HeadRemap, key: string, path: string, classes: number): LoadedTensor {
  if (remap.rows.length !== classes)
    throw catalogError("IV6008", { source: remap.source, count: remap.rows.length, path, classes });
  const rows = tensor.shape[0]!;
  const position = remap.rows.findIndex((r) => r >= rows);
  if (position >= 0)
    throw catalogError("IV6009", { source: remap.source, index: remap.rows[position]!, position, key, rows });
  const rowSize = tensor.data.length / rows;
  const data = tensor.data instanceof Float32Array ? new Float32Array(classes * rowSize) : new Int32Array(classes * rowSize);
  remap.rows.forEach((r, i) => data.set(tensor.data.subarray(r * rowSize, (r + 1) * rowSize), i * rowSize));
  return { ...tensor, shape: [classes, ...tensor.shape.slice(1)], data };
}
