/**
 * Spatial augmentation shared by all frames of a clip: a crop box (random-resized for training,
 * centre square for evaluation), bilinear resampling to size x size, optional horizontal flip,
 * and per-channel normalisation, written straight into the channels-first clip.
 */
import type { RgbFrame } from "./images.ts";
import type { Rng } from "./rng.ts";
import type { Normalization } from "./types.ts";

export interface CropBox {
  x: number;
  y: number;
  width: number;
  height: number;
}

/**
 * torchvision's RandomResizedCrop box: area fraction in `scale`, aspect ratio log-uniform in
 * `ratio`, ten tries, then the centre crop clamped to `ratio` (UniFormerV2: [0.08, 1], [3/4, 4/3]).
 */
export function randomResizedCropBox(
  width: number,
  height: number,
  rng: Rng,
  scale: readonly [number, number] = [0.08, 1],
  ratio: readonly [number, number] = [3 / 4, 4 / 3],
): CropBox {
  const area = width * height;
  const logRatio = [Math.log(ratio[0]), Math.log(ratio[1])] as const;
  for (let attempt = 0; attempt < 10; attempt++) {
    const targetArea = area * rng.uniform(scale[0], scale[1]);
    const aspect = Math.exp(rng.uniform(logRatio[0], logRatio[1]));
    const w = Math.round(Math.sqrt(targetArea * aspect));
    const h = Math.round(Math.sqrt(targetArea / aspect));
    if (w > 0 && h > 0 && w <= width && h <= height) {
      return { x: rng.int(width - w + 1), y: rng.int(height - h + 1), width: w, height: h };
    }
  }
  const inputRatio = width / height;
  let w = width;
  let h = height;
  if (inputRatio < ratio[0]) h = Math.round(w / ratio[0]);
  else if (inputRatio > ratio[1]) w = Math.round(h * ratio[1]);
  return { x: Math.floor((width - w) / 2), y: Math.floor((height - h) / 2), width: w, height: h };
}

/** Short side resized to the output size, then the centre crop: the largest centred square. */
export function centerSquareBox(width: number, height: number): CropBox {
  const side = Math.min(width, height);
  return { x: (width - side) / 2, y: (height - side) / 2, width: side, height: side };
}

/**
 * Resamples `box` of `frame` to size x size (bilinear, pixel centres aligned as in
 * align_corners=False), flips horizontally if asked, normalises, and writes frame `t` of the
 * channels-first clip `out` ([3, T, size, size]).
 */
export function cropResizeInto(
  frame: RgbFrame,
  box: CropBox,
  size: number,
  flip: boolean,
  normalization: Normalization,
  out: Float32Array,
  t: number,
  frames: number,
): void {
  const { width, height, data } = frame;
  const plane = frames * size * size;
  const scaleX = box.width / size;
  const scaleY = box.height / size;
  const factors = [0, 1, 2].map((c) => 1 / (255 * normalization.std[c]!));
  const offsets = [0, 1, 2].map((c) => normalization.mean[c]! / normalization.std[c]!);
  for (let oy = 0; oy < size; oy++) {
    const sy = Math.min(height - 1, Math.max(0, box.y + (oy + 0.5) * scaleY - 0.5));
    const y0 = Math.floor(sy);
    const y1 = Math.min(height - 1, y0 + 1);
    const wy = sy - y0;
    for (let ox = 0; ox < size; ox++) {
      const sourceX = flip ? size - 1 - ox : ox;
      const sx = Math.min(width - 1, Math.max(0, box.x + (sourceX + 0.5) * scaleX - 0.5));
      const x0 = Math.floor(sx);
      const x1 = Math.min(width - 1, x0 + 1);
      const wx = sx - x0;
      const a = (y0 * width + x0) * 3;
      const b = (y0 * width + x1) * 3;
      const c = (y1 * width + x0) * 3;
      const d = (y1 * width + x1) * 3;
      const at = (t * size + oy) * size + ox;
      for (let ch = 0; ch < 3; ch++) {
        const top = data[a + ch]! + wx * (data[b + ch]! - data[a + ch]!);
        const bottom = data[c + ch]! + wx * (data[d + ch]! - data[c + ch]!);
        out[ch * plane + at] = (top + wy * (bottom - top)) * factors[ch]! - offsets[ch]!;
      }
    }
  }
}
