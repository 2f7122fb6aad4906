/**
 * What every dataset gives the loader. Clips are channels-first, [3, T, H, W] in C order, the
 * layout of the models' input tensors (B x 3 x T x H x W once batched).
 */
import type { Rng } from "./rng.ts";

export interface ClipSample {
  /** [3, T, size, size], normalised as the dataset was configured. */
  clip: Float32Array;
  label: number;
  /** A sentence describing the clip, for the video-text objective (synthetic data has one). */
  caption?: string;
}

export interface ClipDataset {
  readonly length: number;
  readonly frames: number;
  readonly size: number;
  readonly classNames: readonly string[];
  /** `rng` drives augmentation and frame sampling; the same rng state gives the same clip. */
  load(index: number, rng: Rng): Promise<ClipSample>;
}

/** Per-channel mean and std applied as (pixel / 255 - mean) / std. */
export interface Normalization {
  mean: readonly [number, number, number];
  std: readonly [number, number, number];
}

/** UniFormerV2 (architecture notes 1.3): 0.45 / 0.225 on every channel. */
export const UNIFORMERV2_NORMALIZATION: Normalization = { mean: [0.45, 0.45, 0.45], std: [0.225, 0.225, 0.225] };
/** InternVideo-MM and CLIP. */
export const CLIP_NORMALIZATION: Normalization = {
  mean: [0.48145466, 0.4578275, 0.40821073],
  std: [0.26862954, 0.26130258, 0.27577711],
};
/** VideoMAE. */
export const IMAGENET_NORMALIZATION: Normalization = { mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] };
