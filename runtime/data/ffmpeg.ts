/**
 * Video decoding through the system ffmpeg/ffprobe, spawned per clip (so several clips decode in
 * parallel processes while the loader awaits them). Only the sampled frames leave ffmpeg: a
 * `select` filter picks them by index, `scale` shrinks them, and they arrive on stdout as raw RGB.
 */
import { spawn, spawnSync } from "node:child_process";
import { UserError } from "../../cli/errors.ts";
import type { RgbFrame } from "./images.ts";
import { SampleError } from "./sample-error.ts";

let ffmpegFound: boolean | undefined;

export function ffmpegAvailable(): boolean {
  if (ffmpegFound === undefined) {
    const probe = (tool: string) => spawnSync(tool, ["-version"], { stdio: "ignore" }).status === 0;
    ffmpegFound = probe("ffmpeg") && probe("ffprobe");
  }
  return ffmpegFound;
}

export function missingFfmpegError(video: string): UserError {
  return new UserError(
    `cannot decode ${video}: ffmpeg (with ffprobe) was not found on PATH`,
    "install ffmpeg (apt-get install ffmpeg) or give frame folders (a directory of .jpg/.png frames per video) instead of video files",
  );
}

function run(tool: string, args: string[], file: string, timeoutMs: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const child = spawn(tool, args, { stdio: ["ignore", "pipe", "pipe"] });
    const chunks: Buffer[] = [];
    let stderr = "";
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.stdout.on("data", (chunk: Buffer) => chunks.push(chunk));
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    child.on("error", (error) => {
      clearTimeout(timer);
      reject((error as NodeJS.ErrnoException).code === "ENOENT" ? missingFfmpegError(file) : error);
    });
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      if (signal === "SIGKILL") reject(new SampleError(file, `${tool} did not finish within ${timeoutMs / 1000} s`));
      else if (code !== 0) {
        const lastLine = stderr.trim().split("\n").pop() ?? "";
        reject(new SampleError(file, `${tool} cannot read the video${lastLine ? `: ${lastLine}` : ""}`));
      } else resolve(Buffer.concat(chunks));
    });
  });
}

export interface VideoInfo {
  width: number;
  height: number;
  frameCount: number;
}

export async function probeVideo(file: string, timeoutMs = 60_000): Promise<VideoInfo> {
  if (!ffmpegAvailable()) throw missingFfmpegError(file);
  const output = await run(
    "ffprobe",
    ["-v", "error", "-select_streams", "v:0", "-count_packets", "-show_entries", "stream=width,height,nb_read_packets", "-of", "json", file],
    file,
    timeoutMs,
  );
  let stream: { width?: number; height?: number; nb_read_packets?: string } | undefined;
  try {
    stream = (JSON.parse(output.toString()) as { streams?: (typeof stream)[] }).streams?.[0];
  } catch {
    throw new SampleError(file, "ffprobe returned unreadable output");
  }
  const frameCount = Number(stream?.nb_read_packets);
  if (!stream?.width || !stream.height || !(frameCount > 0)) throw new SampleError(file, "the file has no video stream with frames");
  return { width: stream.width, height: stream.height, frameCount };
}

/** Output size with the short side equal to `shortSide`, both sides even (as the scaler prefers). */
export function scaledSize(width: number, height: number, shortSide: number): { width: number; height: number } {
  const even = (v: number) => Math.max(2, 2 * Math.round(v / 2));
  return width <= height
    ? { width: even(shortSide), height: even((height * shortSide) / width) }
    : { width: even((width * shortSide) / height), height: even(shortSide) };
}

/**
 * Decodes the frames at `indices` (any order, repeats allowed) scaled so the short side is
 * `shortSide`. If the container reported more frames than decode (it happens with damaged files),
 * the missing ones repeat the last frame that did decode.
 */
export async function decodeVideoFrames(file: string, info: VideoInfo, indices: readonly number[], shortSide: number, timeoutMs = 120_000): Promise<RgbFrame[]> {
  const unique = [...new Set(indices)].sort((a, b) => a - b);
  const { width, height } = scaledSize(info.width, info.height, shortSide);
  const select = unique.map((i) => `eq(n,${i})`).join("+");
  const output = await run(
    "ffmpeg",
    ["-v", "error", "-nostdin", "-i", file, "-vf", `select='${select}',scale=${width}:${height}`, "-vsync", "0", "-f", "rawvideo", "-pix_fmt", "rgb24", "pipe:1"],
    file,
    timeoutMs,
  );
  const frameBytes = width * height * 3;
  const decoded = Math.floor(output.byteLength / frameBytes);
  if (decoded === 0) throw new SampleError(file, "ffmpeg decoded no frames");
  const byIndex = new Map<number, RgbFrame>();
  unique.forEach((frameIndex, i) => {
    const at = Math.min(i, decoded - 1) * frameBytes;
    byIndex.set(frameIndex, { width, height, data: new Uint8Array(output.buffer, output.byteOffset + at, frameBytes) });
  });
  return indices.map((i) => byIndex.get(i)!);
}
