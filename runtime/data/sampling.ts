/**
 * TSN-style sparse sampling (architecture notes 1.3): the video is cut into T equal segments and
 * one frame is taken from each. Training takes a random frame per segment; evaluation view k of
 * `views` takes the frame at offset floor((k+1) * segment / (views+1)) inside each segment, which
 * for a single view is the centre frame. Videos shorter than T frames repeat frames.
 */
import type { Rng } from "./rng.ts";

export function segmentIndices(
  frameCount: number,
  frames: number,
  mode: "train" | "eval",
  rng: Rng,
  view: { index: number; count: number } = { index: 0, count: 1 },
): number[] {
  if (!(frameCount > 0)) throw new RangeError(`cannot sample from a video of ${frameCount} frames`);
  const segment = frameCount / frames;
  const indices: number[] = [];
  for (let i = 0; i < frames; i++) {
    const offset = mode === "train" ? rng.float() * segment : ((view.index + 1) * segment) / (view.count + 1);
    indices.push(Math.min(frameCount - 1, Math.floor(segment * i + offset)));
  }
  return indices;
}
