/**
 * Frame images: .png through pngjs and .jpg/.jpeg through jpeg-js (both pure JS), decoded to
 * 8-bit RGB. Frame folders are read in natural order (frame_9 before frame_10).
 */
import * as fs from "node:fs";
import * as path from "node:path";
import jpeg from "jpeg-js";
import pngjs from "pngjs";
import { SampleError } from "./sample-error.ts";

/** Height x width x 3, 8-bit RGB, rows top to bottom. */
export interface RgbFrame {
  width: number;
  height: number;
  data: Uint8Array;
}

export const FRAME_EXTENSIONS: readonly string[] = [".jpg", ".jpeg", ".png"];

function rgbaToRgb(width: number, height: number, rgba: Uint8Array): RgbFrame {
  const data = new Uint8Array(width * height * 3);
  for (let p = 0, q = 0; p < data.length; p += 3, q += 4) {
    data[p] = rgba[q]!;
    data[p + 1] = rgba[q + 1]!;
    data[p + 2] = rgba[q + 2]!;
  }
  return { width, height, data };
}

export function decodeImage(file: string, bytes: Uint8Array): RgbFrame {
  const isPng = bytes[0] === 0x89 && bytes[1] === 0x50 && bytes[2] === 0x4e && bytes[3] === 0x47;
  const isJpeg = bytes[0] === 0xff && bytes[1] === 0xd8;
  try {
    if (isPng) {
      const image = pngjs.PNG.sync.read(bytes);
      return rgbaToRgb(image.width, image.height, image.data);
    }
    if (isJpeg) {
      const image = jpeg.decode(bytes, { useTArray: true, formatAsRGBA: false, maxMemoryUsageInMB: 1024 });
      return { width: image.width, height: image.height, data: image.data };
    }
  } catch (error) {
    throw new SampleError(file, `the image cannot be decoded (${(error as Error).message})`);
  }
  throw new SampleError(file, bytes.byteLength === 0 ? "the image file is empty" : "not a PNG or JPEG image");
}

export function readImage(file: string): RgbFrame {
  let bytes: Buffer;
  try {
    bytes = fs.readFileSync(file);
  } catch (error) {
    throw new SampleError(file, (error as NodeJS.ErrnoException).code === "ENOENT" ? "file not found" : (error as Error).message);
  }
  return decodeImage(file, bytes);
}

const naturalOrder = new Intl.Collator("en", { numeric: true }).compare;

/** The frame images of a folder in natural order; a SampleError when there are none. */
export function listFrameFiles(dir: string): string[] {
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch (error) {
    throw new SampleError(dir, `the frame folder cannot be read (${(error as Error).message})`);
  }
  const frames = names.filter((name) => FRAME_EXTENSIONS.includes(path.extname(name).toLowerCase())).sort(naturalOrder);
  if (frames.length === 0) throw new SampleError(dir, `the frame folder holds no ${FRAME_EXTENSIONS.join("/")} images`);
  return frames.map((name) => path.join(dir, name));
}
