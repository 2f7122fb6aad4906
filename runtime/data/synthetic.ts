/**
 * The synthetic motion dataset: a shape moving over a noisy background, where the class is the
 * motion (direction and order of events) and nothing else.
 *
 * Why a model without temporal modelling stays at chance: in every class the object visits the
 * same positions, P_k = base + (k - (T-1)/2) * step * direction for k = 0..T-1, and only the order
 * k_t in which it visits them differs ("moves right" is k = 0,1,2,..; "moves right then left" is
 * the even k ascending then the odd k descending; "moves right twice quickly" the even k then the
 * odd k, both ascending). The base position is uniform on a wrap-around frame, and shape, colour,
 * size, spin and background are drawn independently of the class. So per-frame statistics pooled
 * over time (mean frame, per-pixel sorted values, frame-averaged embeddings) carry no information
 * about the label, and the three orders of one direction have the same unordered set of frames. What
 * the unordered set does show is the axis of the motion (horizontal for left/right, vertical for
 * up/down): an order-blind model can at best tell the axis, 20% (twice chance) for the 10 classes
 * of the tiny presets, 1/6 for all 12. Frame differences in order give everything.
 *
 * Layout: `get(i).clip` is [T, H, W, 3] (frame, row, column, RGB) with values in [0, 1];
 * `load()` returns the model layout [3, T, H, W]. Clips are a pure function of
 * (seed, split, index): generation order and concurrency do not matter.
 */
import { Rng } from "./rng.ts";
import { SHAPE_KINDS, drawShape, type ShapeKind } from "./synthetic-render.ts";
import type { ClipDataset, ClipSample, Normalization } from "./types.ts";

type Order = "once" | "there-and-back" | "twice";
type Direction = "left" | "right" | "up" | "down";

interface MotionClass {
  direction: Direction;
  order: Order;
  phrase: string;
}

const OPPOSITE: Record<Direction, Direction> = { left: "right", right: "left", up: "down", down: "up" };
const DIRECTION_VECTORS: Record<Direction, readonly [number, number]> = { left: [-1, 0], right: [1, 0], up: [0, -1], down: [0, 1] };

/** All classes, in the order labels are assigned; `classes: n` uses the first n. */
export const MOTION_CLASSES: readonly MotionClass[] = (["once", "there-and-back", "twice"] as const).flatMap((order) =>
  (["left", "right", "up", "down"] as const).map((direction) => ({
    direction,
    order,
    phrase:
      order === "once" ? `moves ${direction}` : order === "there-and-back" ? `moves ${direction} then ${OPPOSITE[direction]}` : `moves ${direction} twice quickly`,
  })),
);

const COLORS: readonly { name: string; rgb: readonly [number, number, number] }[] = [
  { name: "red", rgb: [0.9, 0.12, 0.1] },
  { name: "green", rgb: [0.15, 0.8, 0.2] },
  { name: "blue", rgb: [0.15, 0.3, 0.95] },
  { name: "yellow", rgb: [0.95, 0.9, 0.15] },
  { name: "magenta", rgb: [0.9, 0.2, 0.85] },
  { name: "cyan", rgb: [0.1, 0.85, 0.9] },
  { name: "orange", rgb: [0.98, 0.55, 0.1] },
  { name: "white", rgb: [0.97, 0.97, 0.97] },
];

/** Visiting order of the positions 0..T-1 for each order pattern. */
export function visitOrder(order: Order, frames: number): number[] {
  const ks = Array.from({ length: frames }, (_, k) => k);
  const evens = ks.filter((k) => k % 2 === 0);
  const odds = ks.filter((k) => k % 2 === 1);
  if (order === "once") return ks;
  if (order === "twice") return [...evens, ...odds];
  return [...evens, ...odds.reverse()];
}

export interface SyntheticMotionOptions {
  frames?: number;
  size?: number;
  /** How many of MOTION_CLASSES to use (2..12). */
  classes?: number;
  seed?: number;
  split?: "train" | "val";
  /** Number of clips; default 1024 for train, 256 for val. */
  count?: number;
  /** Half-width of the uniform per-pixel noise. */
  noise?: number;
  /** Static shapes that do not move, drawn under the moving one (0..3). */
  distractors?: number;
  /** Applied by `load()`; values stay in [0, 1] without it. */
  normalization?: Normalization;
  /**
   * Put each clip's frames in a random order (its own, fixed per clip): the control for the claim
   * that the task needs temporal order. A model trained on such clips should stay at chance.
   */
  shuffleFrames?: boolean;
}

export interface SyntheticClip {
  /** [T, H, W, 3], values in [0, 1]. */
  clip: Float32Array;
  label: number;
  caption: string;
}

const SPLIT_KEYS = { train: 0x7a11, val: 0x5a1d } as const;
const SHUFFLE_KEY = 0x5f1e;

/** The clip's frames in a uniformly random order (Fisher-Yates). */
function shuffledFrames(clip: Float32Array, frames: number, frameLength: number, rng: Rng): Float32Array {
  const order = Array.from({ length: frames }, (_, t) => t);
  for (let t = frames - 1; t > 0; t--) {
    const j = Math.floor(rng.float() * (t + 1));
    [order[t], order[j]] = [order[j]!, order[t]!];
  }
  const out = new Float32Array(clip.length);
  order.forEach((from, t) => out.set(clip.subarray(from * frameLength, (from + 1) * frameLength), t * frameLength));
  return out;
}

export class SyntheticMotionDataset implements ClipDataset {
  readonly frames: number;
  readonly size: number;
  readonly classes: number;
  readonly length: number;
  readonly classNames: readonly string[];
  private readonly seed: number;
  private readonly split: "train" | "val";
  private readonly noise: number;
  private readonly distractors: number;
  private readonly normalization: Normalization | undefined;
  private readonly shuffleFrames: boolean;

  constructor(options: SyntheticMotionOptions = {}) {
    this.frames = options.frames ?? 8;
    this.size = options.size ?? 32;
    this.classes = options.classes ?? 8;
    this.seed = options.seed ?? 0;
    this.split = options.split ?? "train";
    this.length = options.count ?? (this.split === "train" ? 1024 : 256);
    this.noise = options.noise ?? 0.08;
    this.distractors = options.distractors ?? 1;
    this.normalization = options.normalization;
    this.shuffleFrames = options.shuffleFrames ?? false;
    const check = (ok: boolean, what: string) => {
      if (!ok) throw new RangeError(`synthetic_motion: ${what}`);
    };
    check(Number.isInteger(this.frames) && this.frames >= 4, `frames must be an integer >= 4 (the motion patterns need 4 frames), got ${this.frames}`);
    check(Number.isInteger(this.size) && this.size >= 16, `size must be an integer >= 16, got ${this.size}`);
    check(Number.isInteger(this.classes) && this.classes >= 2 && this.classes <= MOTION_CLASSES.length, `classes must be between 2 and ${MOTION_CLASSES.length}, got ${this.classes}`);
    check(Number.isInteger(this.length) && this.length >= 0, `count must be a non-negative integer, got ${this.length}`);
    check(Number.isInteger(this.distractors) && this.distractors >= 0 && this.distractors <= 3, `distractors must be 0..3, got ${this.distractors}`);
    this.classNames = MOTION_CLASSES.slice(0, this.classes).map((c) => c.phrase);
  }

  /** Labels cycle through the classes, so every class has count/classes clips (+-1). */
  labelOf(index: number): number {
    return index % this.classes;
  }

  get(index: number): SyntheticClip {
    if (!Number.isInteger(index) || index < 0 || index >= this.length) {
      throw new RangeError(`synthetic_motion: index ${index} outside [0, ${this.length})`);
    }
    const { frames: T, size } = this;
    const label = this.labelOf(index);
    const motion = MOTION_CLASSES[label]!;
    const rng = Rng.fromKey(this.seed, SPLIT_KEYS[this.split], index);

    const kind: ShapeKind = rng.pick(SHAPE_KINDS);
    const color = rng.pick(COLORS);
    const radius = size * rng.uniform(0.12, 0.18);
    const baseX = rng.uniform(0, size);
    const baseY = rng.uniform(0, size);
    const step = (size * rng.uniform(0.35, 0.55)) / (T - 1);
    const spin = rng.uniform(0.08, 0.25) * (rng.float() < 0.5 ? -1 : 1);
    const angle0 = rng.uniform(0, 2 * Math.PI);
    const background = rng.uniform(0.25, 0.55);
    const tint = [rng.uniform(-0.05, 0.05), rng.uniform(-0.05, 0.05), rng.uniform(-0.05, 0.05)];
    const statics = Array.from({ length: this.distractors }, () => ({
      kind: rng.pick(SHAPE_KINDS),
      x: rng.uniform(0, size),
      y: rng.uniform(0, size),
      radius: size * rng.uniform(0.08, 0.14),
      angle: rng.uniform(0, 2 * Math.PI),
      color: rng.pick(COLORS).rgb,
    }));

    const [dirX, dirY] = DIRECTION_VECTORS[motion.direction];
    const order = visitOrder(motion.order, T);
    const frameLength = size * size * 3;
    const clip = new Float32Array(T * frameLength);
    const noise = this.noise;
    for (let t = 0; t < T; t++) {
      const offset = t * frameLength;
      for (let i = 0; i < frameLength; i += 3) {
        clip[offset + i] = background + tint[0]! + noise * (2 * rng.float() - 1);
        clip[offset + i + 1] = background + tint[1]! + noise * (2 * rng.float() - 1);
        clip[offset + i + 2] = background + tint[2]! + noise * (2 * rng.float() - 1);
      }
      for (const shape of statics) drawShape(clip, offset, size, shape);
      const k = order[t]!;
      const travel = (k - (T - 1) / 2) * step;
      drawShape(clip, offset, size, {
        kind,
        x: baseX + dirX * travel,
        y: baseY + dirY * travel,
        radius,
        angle: angle0 + spin * k,
        color: color.rgb,
      });
    }
    for (let i = 0; i < clip.length; i++) clip[i] = Math.min(1, Math.max(0, clip[i]!));
    return { clip: this.shuffleFrames ? shuffledFrames(clip, T, frameLength, Rng.fromKey(this.seed, SHUFFLE_KEY ^ SPLIT_KEYS[this.split], index)) : clip, label, caption: `a ${color.name} ${kind} ${motion.phrase}` };
  }

  /** Channels-first [3, T, H, W], normalised if the dataset was given a normalisation. */
  async load(index: number): Promise<ClipSample> {
    const { clip, label, caption } = this.get(index);
    const channelsFirst = toChannelsFirst(clip, this.frames, this.size, this.size);
    if (this.normalization) {
      const plane = this.frames * this.size * this.size;
      for (let c = 0; c < 3; c++) {
        const mean = this.normalization.mean[c]!;
        const std = this.normalization.std[c]!;
        for (let i = c * plane; i < (c + 1) * plane; i++) channelsFirst[i] = (channelsFirst[i]! - mean) / std;
      }
    }
    return { clip: channelsFirst, label, caption };
  }

  *[Symbol.iterator](): IterableIterator<SyntheticClip> {
    for (let i = 0; i < this.length; i++) yield this.get(i);
  }
}

/** The dataset named `synthetic_motion` in .ivm `data` clauses. */
export function synthetic_motion(options: SyntheticMotionOptions = {}): SyntheticMotionDataset {
  return new SyntheticMotionDataset(options);
}

/** [T, H, W, 3] -> [3, T, H, W]. */
export function toChannelsFirst(clip: Float32Array, frames: number, height: number, width: number): Float32Array {
  const plane = frames * height * width;
  if (clip.length !== plane * 3) throw new RangeError(`clip has ${clip.length} values, [${frames}, ${height}, ${width}, 3] needs ${plane * 3}`);
  const out = new Float32Array(clip.length);
  for (let p = 0; p < plane; p++) {
    out[p] = clip[p * 3]!;
    out[plane + p] = clip[p * 3 + 1]!;
    out[2 * plane + p] = clip[p * 3 + 2]!;
  }
  return out;
}
