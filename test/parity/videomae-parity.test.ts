import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { interpret } from "../../compiler/interp/index.ts";
import { compileModel } from "../../compiler/pipeline.ts";
import type { Graph } from "../../compiler/ir/types.ts";
import type { GpuContext } from "../../runtime/gpu.ts";
import { readCheckpoint } from "../../runtime/io/checkpoint.ts";
import { readNpy } from "../../runtime/io/npy.ts";
import { mapCheckpoint } from "../../runtime/weights/index.ts";
import { openGpu, runBoth } from "../backend/gpu-helpers.ts";
import { PARITY_DIR, type ParityCase, parityCases, relativeError } from "./parity-helpers.ts";

// The VideoMAE cases load through mapCheckpoint because VideoMAE checkpoints carry no `pos_embed`:
// the sinusoidal tables must be regenerated, as the official code does.
interface Loaded {
  graph: Graph;
  params: Record<string, Float32Array | Int32Array>;
  inputs: Record<string, Float32Array | Int32Array>;
  expected: Float32Array;
  batch: number;
}

function load(c: ParityCase, format: "pth" | "safetensors"): Loaded {
  const compiled = compileModel(c.model_file, { preset: c.preset, set: c.set, model: c.model });
  expect(compiled.diagnostics).toEqual([]);
  const graph = compiled.graph!;
  const mapped = mapCheckpoint(readCheckpoint(join(PARITY_DIR, c.checkpoint[format])).tensors, graph.params, { model: c.model });
  expect({ missing: mapped.missing, extra: mapped.extra, misshaped: mapped.misshaped }).toEqual({
    missing: [],
    extra: [],
    misshaped: [],
  });
  expect(mapped.regenerated.length).toBeGreaterThan(0);
  // Only the inputs the model's forward declares (the manifest also stores the boolean mask for reference).
  const inputs: Loaded["inputs"] = {};
  for (const input of graph.inputs) {
    const spec = c.inputs[input.name];
    expect(spec, `the manifest gives input ${input.name}`).toBeDefined();
    const array = readNpy(join(PARITY_DIR, spec!.file));
    expect(array.dtype).toBe(input.dtype === "f32" ? "f4" : "i4");
    inputs[input.name] = array.data as Float32Array | Int32Array;
  }
  const out = Object.values(c.outputs)[0]!;
  const expected = readNpy(join(PARITY_DIR, out.file)).data as Float32Array;
  return { graph, params: Object.fromEntries(mapped.weights), inputs, expected, batch: c.inputs.clip!.shape[0]! };
}

const cases = parityCases().filter((c) => c.model_file.includes("videomae"));

describe("VideoMAE parity with PyTorch (reference interpreter)", () => {
  it("the manifest holds the classifier and the pretraining case", () => {
    expect(cases.map((c) => c.name).sort()).toEqual(["videomae_tiny_cls", "videomae_tiny_pretrain"]);
  });
  for (const c of cases) {
    for (const format of ["safetensors", "pth"] as const) {
      it(`${c.name} from ${format}`, () => {
        const l = load(c, format);
        const out = interpret(l.graph, { inputs: l.inputs, params: l.params, dims: { B: l.batch } });
        const got = out[l.graph.outputs[0]!.name]!.data;
        expect(got.length).toBe(l.expected.length);
        expect(relativeError(got, l.expected)).toBeLessThan(1e-4);
      });
    }
  }
});

// A cold pipeline cache compiles every kernel on lavapipe (a minute under load); warm runs take ~1 s.
describe("VideoMAE parity with PyTorch (Dawn)", { timeout: 180_000 }, () => {
  let gpu: GpuContext;
  beforeAll(async () => {
    gpu = await openGpu();
  });
  afterAll(() => gpu?.destroy());
  for (const c of cases) {
    it(`${c.name}: output within 1e-4 of the largest reference value`, async () => {
      const l = load(c, "safetensors");
      const r = await runBoth(gpu, l.graph, { inputs: l.inputs, params: l.params }, { B: l.batch });
      const name = r.program.outputs[0]!.name;
      expect(r.gpu[name]!.length).toBe(l.expected.length);
      expect(relativeError(r.gpu[name]!, l.expected)).toBeLessThan(1e-4);
      expect(relativeError(r.gpu[name]!, r.reference[name]!)).toBeLessThan(1e-4);
    });
  }
});
