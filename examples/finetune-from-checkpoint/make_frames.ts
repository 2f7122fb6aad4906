/**
 * Writes a tiny frame-folder dataset: every clip is a folder of PNG frames, listed with its label in
 * train.txt / val.txt (`path label`, Kinetics style, paths relative to the folder). The clips are the
 * synthetic moving shapes of runtime/data, so the labels are learnable from motion; any folder of
 * frames or videos with such a list trains the same way.
 *
 *   npx tsx examples/finetune-from-checkpoint/make_frames.ts OUT_DIR [train_clips] [val_clips]
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import pngjs from "pngjs";
import { SyntheticMotionDataset } from "../../runtime/data/synthetic.ts";

const [out, trainCount = "16", valCount = "8"] = process.argv.slice(2);
if (!out) throw new Error("usage: make_frames.ts OUT_DIR [train_clips] [val_clips]");
const frames = 8;
const size = 32;
const classes = 4;

function writeSplit(split: "train" | "val", count: number): void {
  // A seed of its own, so these clips are not the ones the checkpoint was trained on.
  const data = new SyntheticMotionDataset({ frames, size, classes, split, count, seed: 7 });
  const lines: string[] = [];
  for (let i = 0; i < count; i++) {
    const { clip, label } = data.get(i); // [T, H, W, 3] in [0, 1]
    const dir = `${split}/clip_${String(i).padStart(3, "0")}`;
    mkdirSync(join(out!, dir), { recursive: true });
    for (let t = 0; t < frames; t++) {
      const rgba = new Uint8Array(size * size * 4);
      for (let p = 0; p < size * size; p++) {
        for (let c = 0; c < 3; c++) rgba[p * 4 + c] = Math.round(255 * clip[(t * size * size + p) * 3 + c]!);
        rgba[p * 4 + 3] = 255;
      }
      writeFileSync(join(out!, dir, `frame_${String(t + 1).padStart(4, "0")}.png`), pngjs.PNG.sync.write({ width: size, height: size, data: rgba }));
    }
    lines.push(`${dir} ${label}`);
  }
  writeFileSync(join(out!, `${split}.txt`), `${lines.join("\n")}\n`);
}

writeSplit("train", Number(trainCount));
writeSplit("val", Number(valCount));
console.log(`wrote ${trainCount} train and ${valCount} val clips (${frames} PNG frames of ${size}x${size}, ${classes} classes) to ${out}`);
