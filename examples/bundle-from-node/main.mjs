// A plain Node program using a compiled ivc bundle: no ivc import, only the bundle and `webgpu`.
//   node examples/bundle-from-node/main.mjs [bundle-dir]
// The bundle must sit inside a project whose node_modules has `webgpu` (this repository's does).
import { pathToFileURL } from "node:url";
import { resolve } from "node:path";

const dir = resolve(process.argv[2] ?? new URL("./build/video-transformer", import.meta.url).pathname);
const { load, inputShapes } = await import(pathToFileURL(`${dir}/index.js`).href);
const { readFileSync } = await import("node:fs");
const manifest = JSON.parse(readFileSync(`${dir}/manifest.json`, "utf8"));

// A clip of a white square moving left to right on grey: [B, 3, T, H, W], RGB in [0, 1].
const [B, C, T, H, W] = inputShapes.clip;
const clip = new Float32Array(B * C * T * H * W).fill(0.5);
const side = Math.max(2, Math.floor(H / 4));
for (let b = 0; b < B; b++)
  for (let t = 0; t < T; t++) {
    const x0 = Math.round(((W - side) * t) / Math.max(T - 1, 1));
    const y0 = Math.floor((H - side) / 2);
    for (let c = 0; c < C; c++)
      for (let y = y0; y < y0 + side; y++)
        for (let x = x0; x < x0 + side; x++) clip[(((b * C + c) * T + t) * H + y) * W + x] = 1;
  }

const started = performance.now();
const model = await load(); // compiles the kernels, uploads weights.safetensors
const loaded = performance.now();
const { output } = await model.forward({ clip }); // the first call also finishes compiling pipelines
const ran = performance.now();
await model.forward({ clip });
const again = performance.now();

// Softmax over the logits of the first clip.
const classes = output.length / B;
const logits = Array.from(output.subarray(0, classes));
const max = Math.max(...logits);
const exp = logits.map((v) => Math.exp(v - max));
const sum = exp.reduce((a, v) => a + v, 0);
const ranked = exp.map((v, k) => [k, v / sum]).sort((a, b) => b[1] - a[1]);

console.log(`${manifest.model} (${manifest.preset ?? "defaults"}), ${manifest.kernels.length} kernels, batch ${manifest.batch}`);
console.log(`load ${Math.round(loaded - started)} ms, first forward ${Math.round(ran - loaded)} ms, second ${Math.round(again - ran)} ms`);
console.log(`logits [${B}, ${classes}]: ${logits.map((v) => v.toFixed(4)).join(" ")}`);
console.log(`top-3: ${ranked.slice(0, 3).map(([k, p]) => `class ${k} ${(100 * p).toFixed(1)}%`).join(", ")}`);
const bias = await model.parameter("head.bias"); // a Float32Array, as stored in weights.safetensors
console.log(`head.bias (${bias.length} values) read back: ${Array.from(bias.slice(0, 3)).map((v) => v.toFixed(4)).join(" ")} ...`);
model.destroy();
