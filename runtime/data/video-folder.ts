/**
 * A real video dataset: an annotation file listing videos (decoded with the system ffmpeg) or
 * frame folders (directories of .jpg/.png), each with a label. Each clip is T frames chosen by
 * TSN sparse sampling, cropped (random-resized for training, centre square for evaluation),
 * resized to size x size, flipped at random in training unless `flip: false` (SSv2-style data,
 * where left and right are part of the label), and normalised.
 *
 * A missing or undecodable sample either stops the run with a message naming its path
 * (`onBadSample: "error"`, the default) or is reported once and replaced by the next good sample
 * (`"skip"`).
 */
import * as fs from "node:fs";
import { UserError } from "../../cli/errors.ts";
import { parseAnnotations, type AnnotatedSample } from "./annotations.ts";
import { decodeVideoFrames, probeVideo, type VideoInfo } from "./ffmpeg.ts";
import { listFrameFiles, readImage, type RgbFrame } from "./images.ts";
import type { Rng } from "./rng.ts";
import { SampleError } from "./sample-error.ts";
import { segmentIndices } from "./sampling.ts";
import { centerSquareBox, cropResizeInto, randomResizedCropBox } from "./transforms.ts";
import { UNIFORMERV2_NORMALIZATION, type ClipDataset, type ClipSample, type Normalization } from "./types.ts";

export interface VideoFolderOptions {
  /** Kinetics-style `path label` lines or a CSV with a `path,label` header. */
  annotations: string;
  /** Directory the annotation paths are relative to; default: the annotation file's directory. */
  root?: string;
  frames: number;
  size: number;
  mode: "train" | "eval";
  /** Default: UniFormerV2's 0.45 / 0.225. */
  normalization?: Normalization;
  /** Random horizontal flip in training; turn off for SSv2-style data. Default true. */
  flip?: boolean;
  /** RandomResizedCrop area and aspect-ratio ranges. */
  scale?: readonly [number, number];
  ratio?: readonly [number, number];
  /** Evaluation view (temporal clip k of n); default the single centre view. */
  view?: { index: number; count: number };
  /** Videos are decoded with this short side before cropping; default round(size * 256 / 224). */
  decodeShortSide?: number;
  classNames?: readonly string[];
  onBadSample?: "error" | "skip";
  /** Where skip-mode reports go; default console.warn. */
  onWarning?: (message: string) => void;
}

/** Consecutive bad samples tolerated in skip mode before concluding the data itself is broken. */
const MAX_CONSECUTIVE_SKIPS = 16;

export class VideoFolderDataset implements ClipDataset {
  readonly samples: readonly AnnotatedSample[];
  readonly classNames: readonly string[];
  readonly frames: number;
  readonly size: number;
  /** Paths reported as bad so far (skip mode). */
  readonly skipped = new Set<string>();
  private readonly options: VideoFolderOptions;
  private readonly frameLists = new Map<string, string[]>();
  private readonly videoInfo = new Map<string, VideoInfo>();

  constructor(options: VideoFolderOptions) {
    if (!Number.isInteger(options.frames) || options.frames < 1) throw new RangeError(`frames must be a positive integer, got ${options.frames}`);
    if (!Number.isInteger(options.size) || options.size < 1) throw new RangeError(`size must be a positive integer, got ${options.size}`);
    if (options.root !== undefined && !fs.existsSync(options.root)) {
      throw new UserError(`dataset root ${options.root} does not exist`, "give the directory the annotation file's paths are relative to");
    }
    const { samples, classNames } = parseAnnotations(options.annotations, { root: options.root, classNames: options.classNames });
    this.samples = samples;
    this.classNames = classNames;
    this.frames = options.frames;
    this.size = options.size;
    this.options = options;
  }

  get length(): number {
    return this.samples.length;
  }

  async load(index: number, rng: Rng): Promise<ClipSample> {
    if (!Number.isInteger(index) || index < 0 || index >= this.length) throw new RangeError(`sample index ${index} outside [0, ${this.length})`);
    for (let attempt = 0; attempt < Math.min(MAX_CONSECUTIVE_SKIPS, this.length); attempt++) {
      const sample = this.samples[(index + attempt) % this.length]!;
      try {
        return { clip: await this.loadClip(sample, rng), label: sample.label };
      } catch (error) {
        if (!(error instanceof SampleError)) throw error;
        const where = `${this.options.annotations}:${sample.line}`;
        if (this.options.onBadSample !== "skip") {
          throw new UserError(`cannot load ${error.path} (listed at ${where}): ${error.reason}`, "fix or remove the sample, or pass the skip option for bad samples");
        }
        if (!this.skipped.has(sample.path)) {
          this.skipped.add(sample.path);
          (this.options.onWarning ?? console.warn)(`skipping ${error.path} (listed at ${where}): ${error.reason}`);
        }
      }
    }
    throw new UserError(
      `${MAX_CONSECUTIVE_SKIPS} consecutive samples from ${this.options.annotations} could not be loaded (last reported: ${[...this.skipped].pop()})`,
      "check the dataset root and that the files exist and decode",
    );
  }

  private async loadClip(sample: AnnotatedSample, rng: Rng): Promise<Float32Array> {
    const mode = this.options.mode;
    let stat: fs.Stats;
    try {
      stat = await fs.promises.stat(sample.path);
    } catch {
      throw new SampleError(sample.path, "file not found");
    }
    let images: RgbFrame[];
    if (stat.isDirectory()) {
      let files = this.frameLists.get(sample.path);
      if (!files) this.frameLists.set(sample.path, (files = listFrameFiles(sample.path)));
      const indices = segmentIndices(files.length, this.frames, mode, rng, this.options.view);
      // Short videos repeat frames; decode each file once.
      const decoded = new Map<number, RgbFrame>();
      for (const i of new Set(indices)) decoded.set(i, readImage(files[i]!));
      images = indices.map((i) => decoded.get(i)!);
    } else {
      let info = this.videoInfo.get(sample.path);
      if (!info) this.videoInfo.set(sample.path, (info = await probeVideo(sample.path)));
      const indices = segmentIndices(info.frameCount, this.frames, mode, rng, this.options.view);
      images = await decodeVideoFrames(sample.path, info, indices, this.options.decodeShortSide ?? Math.round((this.size * 256) / 224));
    }
    const { width, height } = images[0]!;
    if (images.some((image) => image.width !== width || image.height !== height)) {
      throw new SampleError(sample.path, "its frames differ in size");
    }
    const box = mode === "train" ? randomResizedCropBox(width, height, rng, this.options.scale, this.options.ratio) : centerSquareBox(width, height);
    const flip = mode === "train" && this.options.flip !== false && rng.float() < 0.5;
    const clip = new Float32Array(3 * this.frames * this.size * this.size);
    const normalization = this.options.normalization ?? UNIFORMERV2_NORMALIZATION;
    images.forEach((image, t) => cropResizeInto(image, box, this.size, flip, normalization, clip, t, this.frames));
    return clip;
  }
}
