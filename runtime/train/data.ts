/**
 * The training data of a stage: its `data` call (synthetic_motion(...) or videos(...)) or `--data PATH`,
 * split into a training set and a held-out set, and the conversion of loader batches into the
 * graph's inputs (clip, label, caption tokens).
 *
 * Clips reach the models in [0, 1]: every model normalises its input itself (UniFormerV2 0.45 / 0.225,
 * VideoMAE ImageNet, InternVideo-MM CLIP), so the datasets are built without a normalisation.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { UserError } from "../../cli/errors.ts";
import type { CallSpec } from "../../compiler/elaborate/stage.ts";
import type { InputInfo } from "../../compiler/ir/types.ts";
import type { Batch } from "../data/loader.ts";
import type { Rng } from "../data/rng.ts";
import { SyntheticMotionDataset } from "../data/synthetic.ts";
import type { ClipDataset, ClipSample, Normalization } from "../data/types.ts";
import { VideoFolderDataset } from "../data/video-folder.ts";
import type { EngineBatch } from "./engine.ts";
import { BYTE_TOKENIZER, type Tokenizer } from "../text/tokenizer.ts";

const UNIT_RANGE: Normalization = { mean: [0, 0, 0], std: [1, 1, 1] };

export interface StageData {
  readonly train: ClipDataset;
  readonly heldOut: ClipDataset;
  /** For logs and run.json. */
  readonly description: string;
}

export interface DataOptions {
  /** "synthetic" (the stage's own data call) or a path: an annotation file, or a folder with train/val lists. */
  readonly data?: string;
  /** Held-out clips used per evaluation. */
  readonly evalClips: number;
  /** Shuffle every synthetic clip's frames whatever the data line says (`ivc train --shuffle-frames`). */
  readonly shuffleFrames?: boolean;
}

/** A view of some samples of a dataset, in the given order. */
class SubsetDataset implements ClipDataset {
  constructor(
    private readonly base: ClipDataset,
    private readonly indices: readonly number[],
  ) {}
  get length() {
    return this.indices.length;
  }
  get frames() {
    return this.base.frames;
  }
  get size() {
    return this.base.size;
  }
  get classNames() {
    return this.base.classNames;
  }
  load(index: number, rng: Rng): Promise<ClipSample> {
    return this.base.load(this.indices[index]!, rng);
  }
}

function intArg(call: CallSpec, key: string, fallback?: number): number {
  const v = call.args[key] ?? fallback;
  if (typeof v !== "number" || !Number.isInteger(v)) {
    throw new UserError(`data ${call.name}: \`${key}\` must be an integer, got ${JSON.stringify(v)} (${call.span.file}:${call.span.line})`);
  }
  return v;
}

function boolArg(call: CallSpec, key: string): boolean {
  const v = call.args[key] ?? false;
  if (typeof v !== "boolean") throw new UserError(`data ${call.name}: \`${key}\` must be true or false, got ${JSON.stringify(v)} (${call.span.file}:${call.span.line})`);
  return v;
}

const SYNTHETIC_ARGS = ["frames", "size", "classes", "count", "seed", "noise", "distractors", "text_len", "shuffle_frames"];

function syntheticData(call: CallSpec, opts: DataOptions): StageData {
  for (const key of Object.keys(call.args)) {
    if (!SYNTHETIC_ARGS.includes(key)) throw new UserError(`data synthetic_motion: unknown argument \`${key}\` (${call.span.file}:${call.span.line})`, `it takes ${SYNTHETIC_ARGS.join(", ")}`);
  }
  const common = {
    frames: intArg(call, "frames"),
    size: intArg(call, "size"),
    classes: intArg(call, "classes", 8),
    seed: intArg(call, "seed", 0),
    noise: typeof call.args.noise === "number" ? call.args.noise : undefined,
    distractors: call.args.distractors === undefined ? undefined : intArg(call, "distractors"),
    shuffleFrames: boolArg(call, "shuffle_frames") || opts.shuffleFrames === true,
  };
  try {
    const train = new SyntheticMotionDataset({ ...common, split: "train", count: intArg(call, "count", 1024) });
    const heldOut = new SyntheticMotionDataset({ ...common, split: "val", count: opts.evalClips });
    return { train, heldOut, description: `synthetic_motion(frames ${common.frames}, size ${common.size}, classes ${common.classes}${common.shuffleFrames ? ", frames shuffled" : ""}; ${train.length} train / ${heldOut.length} held-out clips)` };
  } catch (e) {
    if (e instanceof RangeError) throw new UserError(e.message, `fix the stage's data line (${call.span.file}:${call.span.line}) or the config values it reads`);
    throw e;
  }
}

const LIST_NAMES = (split: string) => [`${split}.csv`, `${split}.txt`, `${split}.list`];

function findList(dir: string, split: string): string | undefined {
  return LIST_NAMES(split).map((n) => path.join(dir, n)).find((f) => fs.existsSync(f));
}

function videoData(dataPath: string, frames: number, size: number, opts: DataOptions): StageData {
  let stat: fs.Stats;
  try {
    stat = fs.statSync(dataPath);
  } catch {
    throw new UserError(`data not found: ${dataPath}`, "give an annotation file (`path label` per line, or CSV with path,label), or a folder holding train.csv/train.txt and optionally val.csv/val.txt");
  }
  const build = (annotations: string, mode: "train" | "eval") =>
    new VideoFolderDataset({ annotations, frames, size, mode, normalization: UNIT_RANGE, root: stat.isDirectory() ? dataPath : undefined });
  const trainList = stat.isDirectory() ? findList(dataPath, "train") : dataPath;
  if (!trainList) throw new UserError(`no training list in ${dataPath}`, `add one of ${LIST_NAMES("train").join(", ")}`);
  const valList = stat.isDirectory() ? findList(dataPath, "val") : undefined;
  const trainAll = build(trainList, "train");
  if (valList) {
    const val = build(valList, "eval");
    const count = Math.min(opts.evalClips, val.length);
    const step = val.length / Math.max(count, 1);
    const heldOut = new SubsetDataset(val, Array.from({ length: count }, (_, i) => Math.floor(i * step)));
    return { train: trainAll, heldOut, description: `videos ${trainList} (${trainAll.length} clips), held out ${count} of ${valList}` };
  }
  // No validation list: every 10th sample is held out (from an eval-mode view of the same list).
  const all = Array.from({ length: trainAll.length }, (_, i) => i);
  const trainIdx = all.filter((i) => i % 10 !== 9);
  const heldIdx = all.filter((i) => i % 10 === 9).slice(0, opts.evalClips);
  if (heldIdx.length === 0) throw new UserError(`${trainList} has ${trainAll.length} samples: too few to hold any out`, "give at least 10 samples, or a folder with a separate val list");
  return {
    train: new SubsetDataset(trainAll, trainIdx),
    heldOut: new SubsetDataset(build(trainList, "eval"), heldIdx),
    description: `videos ${trainList}: ${trainIdx.length} train / ${heldIdx.length} held-out clips (every 10th sample)`,
  };
}

/** The stage's data, or `opts.data` when it names a path. */
export function stageData(call: CallSpec | undefined, opts: DataOptions): StageData {
  if (!call) throw new UserError("this stage has no `data` line", "add e.g. `data synthetic_motion(frames = cfg.frames, size = cfg.size)`");
  if (opts.shuffleFrames && ((opts.data && opts.data !== "synthetic") || call.name !== "synthetic_motion")) {
    throw new UserError("--shuffle-frames applies to the synthetic motion data only", "drop --shuffle-frames, or train on the stage's synthetic_motion data");
  }
  if (opts.data && opts.data !== "synthetic") return videoData(opts.data, intArg(call, "frames"), intArg(call, "size"), opts);
  if (call.name === "synthetic_motion") return syntheticData(call, opts);
  if (call.name === "videos") {
    const source = call.args.$0 ?? call.args.path;
    if (typeof source !== "string") throw new UserError(`data videos: give the annotation file, e.g. videos("data/train.csv") (${call.span.file}:${call.span.line})`);
    return videoData(path.resolve(path.dirname(call.span.file), source), intArg(call, "frames"), intArg(call, "size"), opts);
  }
  throw new UserError(`unknown data source \`${call.name}\``, "the data sources are synthetic_motion and videos");
}

/** The graph inputs for one loader batch; captions become token rows of `tokenizer` (byte-level by default). */
export function engineBatch(batch: Batch, inputs: readonly InputInfo[], classes: number | undefined, tokenizer: Tokenizer = BYTE_TOKENIZER): EngineBatch {
  const out: EngineBatch = {};
  for (const input of inputs) {
    if (input.name === "clip") out.clip = batch.clips;
    else if (input.name === "label") {
      const bad = classes === undefined ? -1 : batch.labels.findIndex((l) => l < 0 || l >= classes);
      if (bad >= 0) {
        throw new UserError(`clip ${batch.indices[bad]} has label ${batch.labels[bad]}, but the model has ${classes} classes`, "set the model's class count with --set (e.g. --set classes=N) or fix the annotation file");
      }
      out.label = batch.labels;
    } else if (input.name === "caption") {
      const length = input.shape[1];
      if (!batch.captions || typeof length !== "number") throw new UserError("this stage needs captions, and the data has none", "train it on synthetic_motion (which captions every clip)");
      const tokens = new Int32Array(batch.batchSize * length);
      batch.captions.forEach((c, i) => tokens.set(tokenizer.tokenize(c, length), i * length));
      out.caption = tokens;
    } else {
      throw new UserError(`the stage's graph needs an input \`${input.name}\` that no data source provides`, "the data sources give clip, label and caption");
    }
  }
  return out;
}
