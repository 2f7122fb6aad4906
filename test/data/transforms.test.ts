import { describe, expect, it } from "vitest";
import type { RgbFrame } from "../../runtime/data/images.ts";
import { Rng } from "../../runtime/data/rng.ts";
import { segmentIndices } from "../../runtime/data/sampling.ts";
import { centerSquareBox, cropResizeInto, randomResizedCropBox } from "../../runtime/data/transforms.ts";
import type { Normalization } from "../../runtime/data/types.ts";

const RAW: Normalization = { mean: [0, 0, 0], std: [1 / 255, 1 / 255, 1 / 255] };

function frame(width: number, height: number, value: (x: number, y: number, c: number) => number): RgbFrame {
  const data = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) for (let c = 0; c < 3; c++) data[(y * width + x) * 3 + c] = value(x, y, c);
  return { width, height, data };
}

function resize(source: RgbFrame, size: number, flip = false, box = { x: 0, y: 0, width: source.width, height: source.height }): Float32Array {
  const out = new Float32Array(3 * size * size);
  cropResizeInto(source, box, size, flip, RAW, out, 0, 1);
  return out;
}

describe("spatial transforms", () => {
  it("random-resized crops stay inside the frame with area and aspect in range", () => {
    const rng = Rng.fromKey(3);
    for (let i = 0; i < 200; i++) {
      const box = randomResizedCropBox(320, 240, rng);
      expect(box.x).toBeGreaterThanOrEqual(0);
      expect(box.y).toBeGreaterThanOrEqual(0);
      expect(box.x + box.width).toBeLessThanOrEqual(320);
      expect(box.y + box.height).toBeLessThanOrEqual(240);
      const area = (box.width * box.height) / (320 * 240);
      expect(area).toBeGreaterThan(0.07);
      expect(area).toBeLessThanOrEqual(1.01);
      expect(box.width / box.height).toBeGreaterThan(0.7);
      expect(box.width / box.height).toBeLessThan(1.4);
    }
    // No sampled box can fit: falls back to the centre crop clamped to the ratio range.
    expect(randomResizedCropBox(1000, 10, rng, [0.9, 1], [1, 1])).toEqual({ x: 495, y: 0, width: 10, height: 10 });
    expect(centerSquareBox(40, 30)).toEqual({ x: 5, y: 0, width: 30, height: 30 });
  });

  it("resampling at the same size copies pixels, and flipping mirrors columns", () => {
    const source = frame(4, 4, (x, y, c) => 10 * x + 50 * y + c);
    const same = resize(source, 4);
    expect(same[1 * 4 + 2]).toBe(10 * 2 + 50 * 1);
    expect(same[16 + 1 * 4 + 2]).toBe(10 * 2 + 50 * 1 + 1);
    const flipped = resize(source, 4, true);
    expect(flipped[1 * 4 + 0]).toBe(10 * 3 + 50 * 1);
    const cropped = resize(source, 2, false, { x: 2, y: 2, width: 2, height: 2 });
    expect([...cropped.subarray(0, 4)]).toEqual([10 * 2 + 50 * 2, 10 * 3 + 50 * 2, 10 * 2 + 50 * 3, 10 * 3 + 50 * 3]);
  });

  it("averages instead of aliasing when shrinking a lot", () => {
    const checkerboard = frame(32, 32, (x, y) => ((x + y) % 2 === 0 ? 255 : 0));
    const small = resize(checkerboard, 8);
    for (const value of small) expect(value).toBeCloseTo(127.5, 5);
  });

  it("samples one frame per segment: the centre in evaluation, a random one in training", () => {
    expect(segmentIndices(80, 8, "eval", Rng.fromKey(0))).toEqual([5, 15, 25, 35, 45, 55, 65, 75]);
    expect(segmentIndices(12, 4, "eval", Rng.fromKey(0), { index: 2, count: 3 })).toEqual([2, 5, 8, 11]);
    expect(segmentIndices(3, 4, "eval", Rng.fromKey(0))).toEqual([0, 1, 1, 2]);
    const rng = Rng.fromKey(1);
    for (let i = 0; i < 50; i++) {
      segmentIndices(100, 8, "train", rng).forEach((index, segment) => {
        expect(index).toBeGreaterThanOrEqual(Math.floor(12.5 * segment));
        expect(index).toBeLessThan(12.5 * (segment + 1));
      });
    }
    expect(() => segmentIndices(0, 8, "eval", rng)).toThrow(/0 frames/);
  });
});
