import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { explainTable, programStats } from "../../compiler/bundle/explain.ts";
import { featuresOf, kernelFile } from "../../compiler/bundle/manifest.ts";
import { BUNDLE_FORMAT, BundleRunner } from "../../compiler/bundle/runtime-source.ts";
import { LAVAPIPE_PROFILE } from "../../compiler/codegen/kernel.ts";
import { compileModel } from "../../compiler/pipeline.ts";
import { bindDims } from "../../compiler/schedule/bind.ts";
import { buildProgram } from "../../compiler/schedule/program.ts";
import { writeSafetensors } from "../../runtime/io/safetensors.ts";
import { workDir } from "./helpers.ts";

const VIEWS = new Set(["input", "param", "const", "reshape", "permute", "slice", "broadcast", "iota"]);

describe("--explain statistics", () => {
  const graph = bindDims(compileModel("test/bundle/fixtures/toy.ivm", {}).graph!, { B: 2 });
  const program = buildProgram(graph, LAVAPIPE_PROFILE);
  const stats = programStats(graph, program);

  it("counts a matmul's multiply-adds, its epilogue's ops and the bytes of its operands and result", () => {
    const embed = stats.find((s) => s.kind === "matmul" && s.name.includes("embed"))!;
    // [2, 96] x [96, 8], then bias and relu on the [2, 8] result in the epilogue
    expect(embed.flops).toBe(2 * 96 * 8 + 2 * (2 * 8));
    expect(embed.bytesRead).toBe((2 * 96 + 96 * 8 + 8) * 4);
    expect(embed.bytesWritten).toBe(2 * 8 * 4);
    expect(embed.lines.some((l) => l.endsWith("toy.ivm:21"))).toBe(true);
  });

  it("counts attention's two products, and q, k and v read from one qkv buffer once", () => {
    // examples/explain/block.ivm: 16 tokens, width 64, 4 heads of 16.
    const block = bindDims(compileModel("examples/explain/block.ivm", { preset: "tiny" }).graph!, { B: 1 });
    const attention = programStats(block, buildProgram(block, LAVAPIPE_PROFILE)).find((s) => s.kind === "attention")!;
    expect(attention.flops).toBe(4 * 16 * 16 * (16 + 16));
    expect(attention.bytesRead).toBe(16 * 3 * 64 * 4);
    expect(attention.bytesWritten).toBe(16 * 64 * 4);
  });

  it("every arithmetic node of the graph is computed by some kernel, fused ops included", () => {
    const computed = new Set(stats.flatMap((s) => s.nodes));
    const arithmetic = graph.nodes.filter((n) => !VIEWS.has(n.op.kind));
    for (const n of arithmetic) expect(computed.has(n.id), `${n.op.kind} ${n.name}`).toBe(true);
    expect(stats.reduce((a, s) => a + s.ops, 0)).toBeGreaterThanOrEqual(arithmetic.length);
    expect(stats.some((s) => s.ops > 1)).toBe(true);
  });

  it("prints one row per dispatch, totals, dispatch counts by kind and peak bytes", () => {
    const table = explainTable(stats, { peakBytes: program.peakBytes, dispatches: program.steps.length }).split("\n");
    expect(table[0]).toMatch(/^kernel\s+kind\s+pass\s+ops\s+source\s+read\s+written\s+FLOPs$/);
    expect(table.filter((l) => /^k\d{3}_/.test(l)).length).toBe(program.steps.length);
    expect(table).toContain(`dispatches ${program.steps.length} (matmul 2, reduce 1)`);
    expect(table.find((l) => l.startsWith("peak bytes"))).toContain(program.peakBytes.toLocaleString("en-US"));
  });

  it("maps enable directives to device features and kernel names to portable file names", () => {
    const first = program.steps[0]!.kernel;
    const k = { ...first, wgsl: first.wgsl.replace(/^enable [^;]*;\n/gm, "") };
    expect(featuresOf([k])).toEqual([]);
    expect(featuresOf([k, { ...k, wgsl: `enable subgroups;\n${k.wgsl}` }, { ...k, wgsl: `enable f16;\n${k.wgsl}` }])).toEqual([
      "shader-f16",
      "subgroups",
    ]);
    expect(kernelFile("k001_reduce_a.b/c d")).toBe("kernels/k001_reduce_a.b_c_d.wgsl");
  });
});

describe("the bundle runtime rejects bad bundles and weights before touching the GPU", () => {
  let work: ReturnType<typeof workDir>;
  const manifest = (format = BUNDLE_FORMAT) =>
    JSON.stringify({
      format,
      mode: "eval",
      features: [],
      inputs: [],
      outputs: [],
      parameters: [],
      buffers: { plan: [] },
      kernels: [],
      schedule: [],
      constants: [],
    });
  beforeAll(() => {
    work = workDir("runtime");
    mkdirSync(join(work.dir, "old"));
    writeFileSync(join(work.dir, "old", "manifest.json"), manifest("ivc-bundle/0"));
    mkdirSync(join(work.dir, "ok"));
    writeFileSync(join(work.dir, "ok", "manifest.json"), manifest());
    writeSafetensors(join(work.dir, "half.safetensors"), { w: { dtype: "F16", shape: [2], data: new Uint16Array(2) } });
  });
  afterAll(() => work?.cleanup());

  it("names the format it reads", async () => {
    await expect(BundleRunner.load(join(work.dir, "old"), { weights: {} })).rejects.toThrow(
      /format 'ivc-bundle\/0'; this runtime reads 'ivc-bundle\/1' \(recompile the bundle\)/,
    );
  });
  it("explains missing and non-F32 weights", async () => {
    await expect(BundleRunner.load(join(work.dir, "ok"))).rejects.toThrow(/no weights\.safetensors: pass load\(\{ weights/);
    await expect(BundleRunner.load(join(work.dir, "ok"), { weights: join(work.dir, "nope.safetensors") })).rejects.toThrow(
      /does not exist/,
    );
    await expect(BundleRunner.load(join(work.dir, "ok"), { weights: join(work.dir, "half.safetensors") })).rejects.toThrow(
      /tensor 'w' is F16; bundles load F32/,
    );
  });
});
