import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { compileModel } from "../../compiler/pipeline.ts";
import type { GpuContext } from "../../runtime/gpu.ts";
import { loadCase, parityCases, relativeError } from "../parity/parity-helpers.ts";
import { maxError, openGpu, randomFeeds, runBoth } from "./gpu-helpers.ts";

let gpu: GpuContext;
beforeAll(async () => {
  gpu = await openGpu();
});
afterAll(() => gpu?.destroy());

describe("whole models on Dawn", () => {
  for (const c of parityCases().filter((x) => x.model_file.includes("uniformerv2"))) {
    it(`${c.name}: logits match PyTorch within 1e-4 of the largest logit`, async () => {
      const loaded = loadCase(c);
      const r = await runBoth(gpu, loaded.graph, { inputs: loaded.inputs, params: loaded.params }, { B: loaded.batch });
      const name = r.program.outputs[0]!.name;
      expect(relativeError(r.gpu[name]!, loaded.expected)).toBeLessThan(1e-4);
      expect(relativeError(r.gpu[name]!, r.reference[name]!)).toBeLessThan(1e-4);
    });
  }

  for (const rowPrologue of ["off", "always"] as const) {
    it(`the UniFormerV2 training graph (loss and every gradient) matches the interpreter (row prologues ${rowPrologue})`, async () => {
      const set = ["width=16", "layers=2", "heads=2", "global_layers=1", "size=16", "patch=8", "frames=4", "lmhra=true"];
      const compiled = compileModel("models/uniformerv2.ivm", { preset: "tiny", set, stage: "finetune", differentiate: true });
      expect(compiled.diagnostics.filter((d) => d.severity === "error")).toEqual([]);
      const graph = compiled.graph!;
      const feeds = randomFeeds(graph, 5, { B: 2 });
      feeds.inputs.label = Int32Array.from([1, 3]);
      for (const p of graph.params) if (p.path.endsWith("running_var")) feeds.params[p.path] = new Float32Array(feeds.params[p.path]!.length).fill(1);
      const r = await runBoth(gpu, graph, feeds, { B: 2 }, { rowPrologue });
      if (rowPrologue === "always") expect(r.program.steps.some((s) => s.kernel.wgsl.includes("row-kernel prologue"))).toBe(true);
      const grads = r.program.outputs.filter((o) => o.name.startsWith("grad:"));
      expect(grads.length).toBeGreaterThan(20);
      for (const o of r.program.outputs) expect(maxError(r.gpu[o.name]!, r.reference[o.name]!), o.name).toBeLessThan(1e-3);
    });
  }
});
