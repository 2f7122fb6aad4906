import { describe, expect, it } from "vitest";
import { interpret } from "../../compiler/interp/index.ts";
import { loadCase, parityCases, relativeError } from "./parity-helpers.ts";

// The reference interpreter against PyTorch on official-format checkpoints (both file formats).
describe("parity with PyTorch (reference interpreter)", () => {
  for (const c of parityCases().filter((x) => x.model_file.includes("uniformerv2"))) {
    for (const format of ["safetensors", "pth"] as const) {
      it(`${c.name} from ${format}`, () => {
        const loaded = loadCase(c, format);
        const out = interpret(loaded.graph, { inputs: loaded.inputs, params: loaded.params, dims: { B: loaded.batch } });
        const got = out[loaded.graph.outputs[0]!.name]!.data;
        expect(got.length).toBe(loaded.expected.length);
        expect(relativeError(got, loaded.expected)).toBeLessThan(1e-4);
      });
    }
  }
});
