/**
 * Tiny on-disk datasets written by the tests themselves. Frame i of every clip is a solid image
 * whose red channel is 10 * i (so the sampled frame index can be read back from the clip), whose
 * green channel rises from left to right (so a horizontal flip is visible), and whose blue
 * channel is 100.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import jpeg from "jpeg-js";
import pngjs from "pngjs";

export const FRAME_WIDTH = 40;
export const FRAME_HEIGHT = 30;

export function frameRgba(index: number): Uint8Array {
  const rgba = new Uint8Array(FRAME_WIDTH * FRAME_HEIGHT * 4);
  for (let y = 0; y < FRAME_HEIGHT; y++) {
    for (let x = 0; x < FRAME_WIDTH; x++) {
      const at = (y * FRAME_WIDTH + x) * 4;
      rgba[at] = 10 * index;
      rgba[at + 1] = Math.round((x * 255) / (FRAME_WIDTH - 1));
      rgba[at + 2] = 100;
      rgba[at + 3] = 255;
    }
  }
  return rgba;
}

export function writeFrameFolder(dir: string, count: number, format: "png" | "jpg" = "png"): void {
  fs.mkdirSync(dir, { recursive: true });
  for (let i = 0; i < count; i++) {
    // Unpadded names on purpose: natural ordering must put frame_10 after frame_9.
    const file = path.join(dir, `frame_${i}.${format}`);
    const image = { width: FRAME_WIDTH, height: FRAME_HEIGHT, data: frameRgba(i) };
    fs.writeFileSync(file, format === "png" ? pngjs.PNG.sync.write(image) : jpeg.encode(image, 95).data);
  }
}
