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

interface Tap {
  low: number;
  high: number;
  weight: number;
}

/**
 * Bilinear taps along one axis for each output pixel. When shrinking by more than 2x, each output
 * pixel averages ceil(scale) evenly spaced bilinear samples across its footprint, so fine detail
 * is averaged rather than aliased (a box prefilter, like antialiased resizing).
 */
function axisTaps(start: number, extent: number, outSize: number, sourceSize: number, flip: boolean): Tap[][] {
  const scale = extent / outSize;
  const samples = Math.max(1, Math.ceil(scale - 1e-9));
  const taps: Tap[][] = [];
  for (let o = 0; o < outSize; o++) {
    const source = flip ? outSize - 1 - o : o;
    const list: Tap[] = [];
    for (let k = 0; k < samples; k++) {
      const position = Math.min(sourceSize - 1, Math.max(0, start + (source + (k + 0.5) / samples) * scale - 0.5));
      const low = Math.floor(position);
      list.push({ low, high: Math.min(sourceSize - 1, low + 1), weight: position - low });
    }
    taps.push(list);
  }
  return taps;
}

/**
 * Resamples `box` of `frame` to size x size (bilinear, pixel centres aligned as in
 * align_corners=False, averaged over the footprint when shrinking), flips horizontally if asked,
 * normalises, and writes frame `t` of the channels-first clip `out` ([3, T, size, size]).
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
  const columns = axisTaps(box.x, box.width, size, width, flip);
  const rows = axisTaps(box.y, box.height, size, height, false);
  const factors = [0, 1, 2].map((c) => 1 / (255 * normalization.std[c]!));
  const offsets = [0, 1, 2].map((c) => normalization.mean[c]! / normalization.std[c]!);
  const sum = [0, 0, 0];
  for (let oy = 0; oy < size; oy++) {
    const rowTaps = rows[oy]!;
    for (let ox = 0; ox < size; ox++) {
      const columnTaps = columns[ox]!;
      sum[0] = sum[1] = sum[2] = 0;
      for (const row of rowTaps) {
        for (const column of columnTaps) {
          const a = (row.low * width + column.low) * 3;
          const b = (row.low * width + column.high) * 3;
          const c = (row.high * width + column.low) * 3;
          const d = (row.high * width + column.high) * 3;
          for (let ch = 0; ch < 3; ch++) {
            const top = data[a + ch]! + column.weight * (data[b + ch]! - data[a + ch]!);
            const bottom = data[c + ch]! + column.weight * (data[d + ch]! - data[c + ch]!);
            sum[ch]! += top + row.weight * (bottom - top);
          }
        }
      }
      const count = rowTaps.length * columnTaps.length;
      const at = (t * size + oy) * size + ox;
      for (let ch = 0; ch < 3; ch++) out[ch * plane + at] = (sum[ch]! / count) * factors[ch]! - offsets[ch]!;
    }
  }
}
