import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { UserError } from "../../cli/errors.ts";
import { ffmpegAvailable } from "../../runtime/data/ffmpeg.ts";
import { Rng } from "../../runtime/data/rng.ts";
import { UNIFORMERV2_NORMALIZATION, IMAGENET_NORMALIZATION, type Normalization } from "../../runtime/data/types.ts";
import { VideoFolderDataset, type VideoFolderOptions } from "../../runtime/data/video-folder.ts";
import { frameRgba, writeFrameFolder, FRAME_HEIGHT, FRAME_WIDTH } from "./helpers/dataset-fixtures.ts";

const root = fs.mkdtempSync(path.join(os.tmpdir(), "ivc-videos-"));
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));
const SIZE = 8;
const T = 4;

beforeAll(() => {
  writeFrameFolder(path.join(root, "clips", "twelve"), 12);
  writeFrameFolder(path.join(root, "clips", "jpeg five"), 5, "jpg");
  writeFrameFolder(path.join(root, "clips", "three"), 3);
  fs.mkdirSync(path.join(root, "clips", "empty"));
  fs.mkdirSync(path.join(root, "clips", "corrupt"));
  fs.writeFileSync(path.join(root, "clips", "corrupt", "frame_0.png"), "not really a png");
  fs.writeFileSync(path.join(root, "train.txt"), "clips/twelve 0\nclips/jpeg five 1\n\n# a comment\nclips/three 2\n");
  fs.writeFileSync(path.join(root, "named.csv"), 'label,path\nwalking,clips/twelve\n"running",clips/three\nwalking,"clips/jpeg five"\n');
});

function write(name: string, text: string): string {
  const file = path.join(root, name);
  fs.writeFileSync(file, text);
  return file;
}

function dataset(options: Partial<VideoFolderOptions> = {}): VideoFolderDataset {
  return new VideoFolderDataset({ annotations: path.join(root, "train.txt"), frames: T, size: SIZE, mode: "eval", ...options });
}

/** Undoes the normalisation of channel `c` at (t, y, x) of a [3, T, S, S] clip. */
function pixel(clip: Float32Array, c: number, t: number, y: number, x: number, norm: Normalization = UNIFORMERV2_NORMALIZATION): number {
  const value = clip[((c * T + t) * SIZE + y) * SIZE + x]!;
  return (value * norm.std[c]! + norm.mean[c]!) * 255;
}
const frameIndexAt = (clip: Float32Array, t: number) => Math.round(pixel(clip, 0, t, 4, 4) / 10);

async function userError(action: () => Promise<unknown> | unknown): Promise<UserError> {
  try {
    await action();
  } catch (error) {
    expect(error).toBeInstanceOf(UserError);
    return error as UserError;
  }
  throw new Error("expected a UserError");
}

describe("video folder dataset (frame folders)", () => {
  it("parses Kinetics-style and CSV annotations", () => {
    const kinetics = dataset();
    expect(kinetics.samples.map((s) => [path.basename(s.path), s.label, s.line])).toEqual([["twelve", 0, 1], ["jpeg five", 1, 2], ["three", 2, 5]]);
    expect(kinetics.classNames).toEqual(["class 0", "class 1", "class 2"]);
    const csv = dataset({ annotations: path.join(root, "named.csv") });
    expect(csv.classNames).toEqual(["running", "walking"]);
    expect(csv.samples.map((s) => [path.basename(s.path), s.label])).toEqual([["twelve", 1], ["three", 0], ["jpeg five", 1]]);
  });

  it("takes the centre frame of each segment in evaluation, in natural file order", async () => {
    const { clip, label } = await dataset().load(0, Rng.fromKey(1));
    expect(label).toBe(0);
    expect(clip.length).toBe(3 * T * SIZE * SIZE);
    expect([0, 1, 2, 3].map((t) => frameIndexAt(clip, t))).toEqual([1, 4, 7, 10]);
    // Centre square crop of 40x30 is x in [5, 35): green rises left to right, blue is constant.
    expect(pixel(clip, 1, 0, 0, 0)).toBeLessThan(pixel(clip, 1, 0, 0, SIZE - 1));
    expect(pixel(clip, 2, 0, 3, 3)).toBeCloseTo(100, 3);
    const { clip: second } = await dataset({ view: { index: 1, count: 2 } }).load(0, Rng.fromKey(1));
    expect([0, 1, 2, 3].map((t) => frameIndexAt(second, t))).toEqual([2, 5, 8, 11]);
  });

  it("repeats frames of clips shorter than T and decodes JPEG frames", async () => {
    const short = await dataset().load(2, Rng.fromKey(0));
    expect([0, 1, 2, 3].map((t) => frameIndexAt(short.clip, t))).toEqual([0, 1, 1, 2]);
    const jpegClip = await dataset().load(1, Rng.fromKey(0));
    expect(Math.abs(pixel(jpegClip.clip, 0, 0, 4, 4) - 0)).toBeLessThan(6);
    expect(Math.abs(pixel(jpegClip.clip, 2, 0, 4, 4) - 100)).toBeLessThan(6);
  });

  it("samples a random frame per segment in training, reproducibly from the rng", async () => {
    const train = dataset({ mode: "train" });
    const seen = new Set<string>();
    for (let seed = 0; seed < 12; seed++) {
      const { clip } = await train.load(0, Rng.fromKey(seed));
      const indices = [0, 1, 2, 3].map((t) => frameIndexAt(clip, t));
      indices.forEach((index, segment) => {
        expect(index).toBeGreaterThanOrEqual(3 * segment);
        expect(index).toBeLessThan(3 * segment + 3);
      });
      seen.add(indices.join());
      const again = await train.load(0, Rng.fromKey(seed));
      expect(again.clip).toEqual(clip);
    }
    expect(seen.size).toBeGreaterThan(3);
  });

  it("flips horizontally at random in training, never with flip off", async () => {
    const direction = (clip: Float32Array) => Math.sign(pixel(clip, 1, 0, 4, SIZE - 1) - pixel(clip, 1, 0, 4, 0));
    const flipping = new Set<number>();
    const fixed = new Set<number>();
    for (let seed = 0; seed < 16; seed++) {
      flipping.add(direction((await dataset({ mode: "train", scale: [0.5, 1] }).load(0, Rng.fromKey(seed))).clip));
      fixed.add(direction((await dataset({ mode: "train", scale: [0.5, 1], flip: false }).load(0, Rng.fromKey(seed))).clip));
    }
    expect([...flipping].sort()).toEqual([-1, 1]);
    expect([...fixed]).toEqual([1]);
  });

  it("applies the requested normalisation", async () => {
    const { clip } = await dataset({ normalization: IMAGENET_NORMALIZATION }).load(0, Rng.fromKey(0));
    expect(pixel(clip, 2, 1, 2, 2, IMAGENET_NORMALIZATION)).toBeCloseTo(100, 3);
    expect(clip[2 * T * SIZE * SIZE]).toBeCloseTo((100 / 255 - 0.406) / 0.225, 5);
  });

  it("names the missing, empty or corrupt sample and its annotation line, or skips it on request", async () => {
    const annotations = write("bad.txt", "clips/missing 0\nclips/empty 1\nclips/corrupt 0\nclips/three 1\n");
    const strict = dataset({ annotations });
    const missing = await userError(() => strict.load(0, Rng.fromKey(0)));
    expect(missing.message).toBe(`cannot load ${path.join(root, "clips", "missing")} (listed at ${annotations}:1): file not found`);
    expect((await userError(() => strict.load(1, Rng.fromKey(0)))).message).toMatch(/empty.*holds no \.jpg\/\.jpeg\/\.png images/);
    expect((await userError(() => strict.load(2, Rng.fromKey(0)))).message).toMatch(/frame_0\.png.*not a PNG or JPEG image/);

    const warnings: string[] = [];
    const lenient = dataset({ annotations, onBadSample: "skip", onWarning: (m) => warnings.push(m) });
    const replaced = await lenient.load(0, Rng.fromKey(0));
    expect(replaced.label).toBe(1);
    expect(frameIndexAt(replaced.clip, 3)).toBe(2);
    await lenient.load(1, Rng.fromKey(0));
    expect(warnings).toHaveLength(3);
    expect(warnings[0]).toMatch(/^skipping .*missing \(listed at .*bad\.txt:1\): file not found$/);
    expect(lenient.skipped.size).toBe(3);
  });

  it("gives up with a clear message when every sample is bad in skip mode", async () => {
    const annotations = write("all-bad.txt", "nowhere/a 0\nnowhere/b 0\n");
    const error = await userError(() => dataset({ annotations, onBadSample: "skip", onWarning: () => {} }).load(0, Rng.fromKey(0)));
    expect(error.message).toMatch(/consecutive samples from .*all-bad\.txt could not be loaded/);
  });

  it("reports annotation problems with file and line", async () => {
    expect((await userError(() => dataset({ annotations: path.join(root, "nope.txt") }))).message).toMatch(/annotation file not found: .*nope\.txt/);
    expect((await userError(() => dataset({ annotations: write("one-field.txt", "clips/three 0\njustapath\n") }))).message).toMatch(/one-field\.txt:2: expected "path label"/);
    expect((await userError(() => dataset({ annotations: write("range.txt", "clips/three 5\n"), classNames: ["a", "b"] }))).message).toMatch(/range\.txt:1: label 5 is outside the 2 classes/);
    expect((await userError(() => dataset({ annotations: write("names.csv", "path,label\nclips/three,jumping\n"), classNames: ["walking"] }))).message).toMatch(/names\.csv:2: unknown class "jumping"/);
    expect((await userError(() => dataset({ annotations: write("empty.txt", "\n# nothing\n") }))).message).toMatch(/lists no samples/);
  });
});

describe("video folder dataset (videos through ffmpeg)", () => {
  const haveFfmpeg = ffmpegAvailable();
  if (!haveFfmpeg) console.log("skipping the video-file tests: ffmpeg/ffprobe are not installed (apt-get install ffmpeg)");

  it.skipIf(!haveFfmpeg)("decodes the sampled frames of a video file", async () => {
    const frames = path.join(root, "video-frames");
    fs.mkdirSync(frames);
    for (let i = 0; i < 12; i++) {
      const rgba = frameRgba(i);
      const pngjs = (await import("pngjs")).default;
      fs.writeFileSync(path.join(frames, `f${String(i).padStart(3, "0")}.png`), pngjs.PNG.sync.write({ width: FRAME_WIDTH, height: FRAME_HEIGHT, data: rgba }));
    }
    const video = path.join(root, "clip.mkv");
    const made = spawnSync("ffmpeg", ["-v", "error", "-y", "-framerate", "10", "-i", path.join(frames, "f%03d.png"), "-c:v", "ffv1", "-pix_fmt", "bgr0", video]);
    expect(made.status, made.stderr?.toString()).toBe(0);
    const annotations = write("videos.txt", "clip.mkv 0\n");
    const { clip } = await dataset({ annotations }).load(0, Rng.fromKey(0));
    expect([0, 1, 2, 3].map((t) => frameIndexAt(clip, t))).toEqual([1, 4, 7, 10]);
    expect(pixel(clip, 2, 0, 4, 4)).toBeCloseTo(100, 0);

    fs.writeFileSync(path.join(root, "broken.mp4"), Buffer.alloc(2000, 7));
    const broken = await userError(() => dataset({ annotations: write("broken.txt", "broken.mp4 0\n") }).load(0, Rng.fromKey(0)));
    expect(broken.message).toMatch(/cannot load .*broken\.mp4 \(listed at .*broken\.txt:1\): ffprobe cannot read the video/);
  });

  it("explains how to get ffmpeg when it is missing", () => {
    fs.writeFileSync(path.join(root, "some.mp4"), Buffer.alloc(100));
    const annotations = write("needs-ffmpeg.txt", "some.mp4 0\n");
    const child = spawnSync(process.execPath, ["--import", "tsx", path.join(import.meta.dirname, "helpers", "load-first-sample.ts"), annotations], {
      env: { ...process.env, PATH: "/nonexistent" },
      encoding: "utf8",
    });
    const outcome = JSON.parse(child.stdout.trim().split("\n").pop()!);
    expect(outcome).toMatchObject({ ok: false, userError: true });
    expect(outcome.message).toMatch(/cannot decode .*some\.mp4: ffmpeg \(with ffprobe\) was not found/);
    expect(outcome.help).toMatch(/install ffmpeg \(apt-get install ffmpeg\) or give frame folders/);
  });
});
