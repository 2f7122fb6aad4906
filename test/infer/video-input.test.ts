import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pngjs from "pngjs";
import { afterAll, describe, expect, it } from "vitest";
import { ffmpegAvailable } from "../../runtime/data/ffmpeg.ts";
import { readNpy, writeNpy } from "../../runtime/io/npy.ts";
import { fixturePath, ivc, modelArgs, parityCase } from "./cli-helpers.ts";

// Frames of one flat grey (51 = 0.2 * 255): after sampling, cropping and resizing the clip must be
// exactly 0.2 everywhere, unnormalised, because the models normalise inside.
const GREY = 51;
const dir = mkdtempSync(join(tmpdir(), "ivc-video-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const cls = parityCase("videomae_tiny_cls");
const weights = fixturePath(cls.checkpoint.safetensors);

async function logitsOf(input: string, name: string): Promise<Float32Array> {
  const out = join(dir, `${name}.npy`);
  const r = await ivc("run", ...modelArgs(cls), "--weights", weights, "--input", input, "--output", out, "--engine", "cpu");
  expect(r.code, r.stderr).toBe(0);
  const array = readNpy(out);
  expect(array.shape).toEqual([1, 10]);
  return array.data as Float32Array;
}

async function flatClipLogits(): Promise<Float32Array> {
  const npy = join(dir, "flat.npy");
  writeNpy(npy, { dtype: "f4", shape: [1, 3, 8, 16, 16], data: new Float32Array(3 * 8 * 256).fill(GREY / 255) });
  return logitsOf(npy, "flat");
}

describe("ivc run on videos and frame folders", () => {
  it("a frame folder is sampled to the model's frames and size, in [0, 1]", async () => {
    const frames = join(dir, "frames");
    mkdirSync(frames);
    for (let i = 1; i <= 11; i++) {
      const data = new Uint8Array(30 * 20 * 4);
      for (let p = 0; p < 30 * 20; p++) data.set([GREY, GREY, GREY, 255], p * 4);
      writeFileSync(join(frames, `img_${i}.png`), pngjs.PNG.sync.write({ width: 30, height: 20, data }));
    }
    const fromFolder = await logitsOf(frames, "folder");
    const reference = await flatClipLogits();
    for (let k = 0; k < 10; k++) expect(fromFolder[k]).toBeCloseTo(reference[k]!, 5);
  });

  it("an empty folder and a file that is not a video are clear errors", async () => {
    const empty = join(dir, "empty");
    mkdirSync(empty);
    const r = await ivc("run", ...modelArgs(cls), "--weights", weights, "--input", empty, "--engine", "cpu");
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/cannot read .*empty: the frame folder holds no/);
    if (!ffmpegAvailable()) return;
    const junk = join(dir, "junk.mp4");
    writeFileSync(junk, "not a video");
    const v = await ivc("run", ...modelArgs(cls), "--weights", weights, "--input", junk, "--engine", "cpu");
    expect(v.code).toBe(1);
    expect(v.stderr).toMatch(/cannot read .*junk\.mp4: ffprobe cannot read the video/);
  });

  it.runIf(ffmpegAvailable())("a video file is decoded through ffmpeg", async () => {
    const video = join(dir, "grey.mp4");
    const made = spawnSync("ffmpeg", [
      "-v",
      "error",
      "-f",
      "lavfi",
      "-i",
      `color=c=0x333333:s=32x24:d=1:r=12`,
      "-pix_fmt",
      "yuv444p",
      "-c:v",
      "libx264",
      "-qp",
      "0",
      video,
    ]);
    expect(made.status, made.stderr?.toString()).toBe(0);
    const fromVideo = await logitsOf(video, "video");
    const reference = await flatClipLogits();
    // The YUV round trip may move the grey by a level or two.
    for (let k = 0; k < 10; k++) expect(Math.abs(fromVideo[k]! - reference[k]!)).toBeLessThan(0.05);
  });
});
