import { describe, expect, it } from "vitest";
import { interpret } from "../../compiler/interp/index.ts";
import { compileModel } from "../../compiler/pipeline.ts";
import type { LoadedTensor } from "../../runtime/io/dtype.ts";
import { readNpy } from "../../runtime/io/npy.ts";
import { combine, mapCheckpoint } from "../../runtime/weights/index.ts";
import { PARITY_DIR, relativeError } from "../parity/parity-helpers.ts";
import { caseTensors, parityCase, rekey } from "./helpers.ts";

// Fact sheet 1.4: a centre-inflated 3-tap patch embedding with temporal stride 2 is the 2-D
// embedding of frames 0, 2, 4, ... So UniFormerV2 with temporal downsampling on 8 frames, loaded
// from a CLIP tower, must equal the 1-tap model on the 4 even frames with the same weights.
const BASE = ["size=16", "patch=4", "width=16", "layers=3", "heads=2", "global_layers=2", "lmhra=false", "temporal_downsample=false"];

function clipTower(): Map<string, LoadedTensor> {
  const clip = rekey(caseTensors("uniformerv2_k400_tiny"), (k) =>
    /^backbone\.(conv1|class_embedding|positional_embedding|ln_pre|transformer\.resblocks)/.test(k)
      ? k.replace("backbone.", "visual.")
      : undefined,
  );
  const conv = clip.get("visual.conv1.weight")!;
  clip.set("visual.conv1.weight", { ...conv, shape: [16, 3, 4, 4] });
  return clip;
}

function logits(set: string[], clip: Float32Array, batch: number): Float32Array {
  const compiled = compileModel("models/uniformerv2.ivm", { preset: "tiny", set: [...BASE, ...set] });
  expect(compiled.diagnostics).toEqual([]);
  const graph = compiled.graph!;
  const file = "clip.pth";
  // The parts CLIP lacks (global blocks, head) get the same @init values in both models: same paths, same seed.
  const loaded = combine([{ file, result: mapCheckpoint(clipTower(), graph.params) }], graph.params, {
    initMissing: true,
    seed: 3,
  });
  expect(loaded.initialised.some((p) => p.startsWith("backbone.transformer.dec."))).toBe(true);
  const out = interpret(graph, { inputs: { clip }, params: loaded.weights, dims: { B: batch } });
  return out[graph.outputs[0]!.name]!.data as Float32Array;
}

describe("centre inflation", () => {
  it("3 taps with temporal stride 2 equal the 2-D embedding of the even frames", () => {
    const input = readNpy(`${PARITY_DIR}/${parityCase("uniformerv2_k400_tiny").inputs.clip!.file}`).data as Float32Array;
    const [B, C, T, S] = [2, 3, 8, 16 * 16];
    const even = new Float32Array(B * C * (T / 2) * S);
    for (let bc = 0; bc < B * C; bc++) {
      for (let t = 0; t < T / 2; t++)
        even.set(input.subarray((bc * T + 2 * t) * S, (bc * T + 2 * t + 1) * S), (bc * (T / 2) + t) * S);
    }
    const inflated = logits(["frames=8", "temporal_downsample=true"], input, B);
    const flat = logits(["frames=4"], even, B);
    expect(relativeError(inflated, flat)).toBeLessThan(1e-5);
    // A control: the odd frames give other logits, so the comparison above can fail.
    const odd = new Float32Array(even.length);
    for (let bc = 0; bc < B * C; bc++) {
      for (let t = 0; t < T / 2; t++)
        odd.set(input.subarray((bc * T + 2 * t + 1) * S, (bc * T + 2 * t + 2) * S), (bc * (T / 2) + t) * S);
    }
    expect(relativeError(logits(["frames=4"], odd, B), flat)).toBeGreaterThan(1e-3);
  });
});
