/**
 * Inputs for `ivc run`. The models take `clip: f32[B, 3, T, H, W]`, RGB in [0, 1] and unnormalised
 * (each model normalises inside, docs/models.md), so a video file or a frame folder is sampled with
 * the evaluation view (the centre frame of each of T segments), centre-cropped to a square, resized
 * to H x W and only divided by 255. A `.npy` is taken as it is, with or without the batch axis.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { UserError } from "../../cli/errors.ts";
import type { InputInfo } from "../../compiler/ir/types.ts";
import { decodeVideoFrames, probeVideo } from "../data/ffmpeg.ts";
import { listFrameFiles, readImage, type RgbFrame } from "../data/images.ts";
import { Rng } from "../data/rng.ts";
import { SampleError } from "../data/sample-error.ts";
import { segmentIndices } from "../data/sampling.ts";
import { centerSquareBox, cropResizeInto } from "../data/transforms.ts";
import type { Normalization } from "../data/types.ts";
import { readNpy } from "../io/npy.ts";

/** Keeps pixels in [0, 1]: (x / 255 - 0) / 1. */
const UNIT_RANGE: Normalization = { mean: [0, 0, 0], std: [1, 1, 1] };

export interface HostInput {
  readonly data: Float32Array | Int32Array;
  /** The batch size B this input implies. */
  readonly batch: number;
}

/** The concrete sizes of every axis but the first (B), or undefined when some other axis is symbolic. */
function tail(input: InputInfo): number[] | undefined {
  const rest = input.shape.slice(1);
  return rest.every((d) => typeof d === "number") ? (rest as number[]) : undefined;
}

function readArray(file: string, input: InputInfo): HostInput {
  const array = readNpy(file);
  const want = tail(input);
  const shape = array.shape;
  const described = `[B, ${input.shape.slice(1).join(", ")}]`;
  let batch: number;
  if (want && shape.length === want.length + 1 && want.every((d, i) => d === shape[i + 1])) batch = shape[0]!;
  else if (want && shape.length === want.length && want.every((d, i) => d === shape[i])) batch = 1;
  else {
    throw new UserError(
      `${file} has shape [${shape.join(", ")}], but the model's input \`${input.name}\` is ${input.dtype}${described}`,
      input.name === "clip"
        ? "give a clip array [B, 3, T, H, W] with the model's frames and size (RGB in [0, 1]), or a video file / frame folder"
        : `save the array with shape ${described}`,
    );
  }
  if (batch < 1) throw new UserError(`${file} holds no samples (its batch axis is 0)`);
  if (input.dtype === "f32") {
    if (array.dtype !== "f4" && array.dtype !== "f8")
      throw new UserError(`${file} is ${array.dtype}, but \`${input.name}\` is a float input`, "save it as float32");
    return { data: array.data instanceof Float32Array ? array.data : Float32Array.from(array.data), batch };
  }
  if (array.dtype === "i4") return { data: array.data, batch };
  if (array.dtype === "i8") return { data: Int32Array.from(array.data, (v) => Number(v)), batch };
  throw new UserError(`${file} is ${array.dtype}, but \`${input.name}\` is an integer input`, "save it as int32 or int64");
}

async function readVideoClip(file: string, stat: fs.Stats, input: InputInfo): Promise<HostInput> {
  const want = tail(input);
  if (!want || want.length !== 4 || want[0] !== 3) {
    throw new UserError(
      `\`${input.name}\` is ${input.dtype}[${input.shape.join(", ")}], not a video clip [B, 3, T, H, W]`,
      "give it as a .npy array",
    );
  }
  const [, frames, height, width] = want as [number, number, number, number];
  if (height !== width)
    throw new UserError(
      `the model takes ${height}x${width} frames; video input is resized to squares only`,
      "give the clip as a .npy array",
    );
  const rng = new Rng(0); // evaluation sampling draws no random numbers; the rng only satisfies the signature
  let images: RgbFrame[];
  try {
    if (stat.isDirectory()) {
      const files = listFrameFiles(file);
      const indices = segmentIndices(files.length, frames, "eval", rng);
      const decoded = new Map<number, RgbFrame>();
      for (const i of new Set(indices)) decoded.set(i, readImage(files[i]!));
      images = indices.map((i) => decoded.get(i)!);
    } else {
      const info = await probeVideo(file);
      images = await decodeVideoFrames(
        file,
        info,
        segmentIndices(info.frameCount, frames, "eval", rng),
        Math.round((height * 256) / 224),
      );
    }
  } catch (e) {
    if (e instanceof SampleError)
      throw new UserError(
        `cannot read ${e.path}: ${e.reason}`,
        "give a video file, a folder of .jpg/.png frames, or a .npy clip",
      );
    throw e;
  }
  const { width: w, height: h } = images[0]!;
  if (images.some((im) => im.width !== w || im.height !== h)) throw new UserError(`the frames of ${file} differ in size`);
  const clip = new Float32Array(3 * frames * height * width);
  const box = centerSquareBox(w, h);
  images.forEach((image, t) => cropResizeInto(image, box, height, false, UNIT_RANGE, clip, t, frames));
  return { data: clip, batch: 1 };
}

/** One model input from a file: a .npy array, a video file or a frame folder (clip inputs only). */
export async function readInput(file: string, input: InputInfo): Promise<HostInput> {
  let stat: fs.Stats;
  try {
    stat = fs.statSync(file);
  } catch {
    throw new UserError(`input not found: ${file}`, "give a .npy array, a video file or a folder of frames");
  }
  if (stat.isFile() && path.extname(file).toLowerCase() === ".npy") return readArray(file, input);
  return readVideoClip(file, stat, input);
}

/** Concatenates several inputs along B. */
export function concatBatch(parts: readonly HostInput[]): HostInput {
  if (parts.length === 1) return parts[0]!;
  const total = parts.reduce((a, p) => a + p.data.length, 0);
  const out = parts[0]!.data instanceof Float32Array ? new Float32Array(total) : new Int32Array(total);
  let at = 0;
  for (const p of parts) {
    out.set(p.data, at);
    at += p.data.length;
  }
  return { data: out, batch: parts.reduce((a, p) => a + p.batch, 0) };
}
