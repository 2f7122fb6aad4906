import { spawnSync } from "node:child_process";
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { createHash } from "node:crypto";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { interpret } from "../../compiler/interp/index.ts";
import { compileModel } from "../../compiler/pipeline.ts";
import { writeSafetensors, type TensorToWrite } from "../../runtime/io/safetensors.ts";
import { randomArray } from "../backend/gpu-helpers.ts";
import { ivc, relError, REPO, runNode, workDir, writeF32 } from "./helpers.ts";

// The Kinetics variant (the tiny preset itself is SSv2-style: LMHRA, temporal stride 2).
const SET = ["width=16", "layers=2", "heads=2", "global_layers=1", "size=16", "patch=8", "frames=4", "lmhra=false", "temporal_downsample=false"];
const setFlags = SET.flatMap((s) => ["--set", s]);

let work: ReturnType<typeof workDir>;
let bundle: string;
let compiled: ReturnType<typeof ivc>;
const params: Record<string, Float32Array> = {};

beforeAll(() => {
  work = workDir("eval");
  const graph = compileModel("models/uniformerv2.ivm", { preset: "tiny", set: SET }).graph!;
  const tensors = new Map<string, TensorToWrite>();
  graph.params.forEach((p, k) => {
    const shape = p.shape as number[];
    params[p.path] = randomArray(
      shape.reduce((a, b) => a * b, 1),
      11 + k,
    );
    tensors.set(p.path, { dtype: "F32", shape, data: params[p.path]! });
  });
  // An extra key that is no parameter: converted weights leave it out, with a warning.
  tensors.set("optimizer.step", { dtype: "F32", shape: [1], data: Float32Array.of(3) });
  writeSafetensors(join(work.dir, "w.safetensors"), tensors);
  bundle = join(work.dir, "uv2");
  compiled = ivc(
    "compile",
    "models/uniformerv2.ivm",
    "--preset",
    "tiny",
    ...setFlags,
    "-o",
    bundle,
    "--weights",
    join(work.dir, "w.safetensors"),
    "--explain",
  );
});
afterAll(() => work?.cleanup());

describe("ivc compile (eval bundle)", () => {
  it("writes manifest.json with sources, config, slots, parameters, buffers and schedule", () => {
    expect(compiled.status, compiled.stderr).toBe(0);
    expect(compiled.stderr).toMatch(/1 checkpoint tensor\(s\) are not model parameters/);
    const m = JSON.parse(readFileSync(join(bundle, "manifest.json"), "utf8"));
    expect(m.format).toBe("ivc-bundle/1");
    expect(m.model).toBe("UniFormerV2");
    expect(m.preset).toBe("tiny");
    expect(m.mode).toBe("eval");
    expect(m.batch).toBe(1);
    expect(m.config.width).toBe(16);
    expect(m.source.file).toBe("models/uniformerv2.ivm");
    const text = readFileSync("models/uniformerv2.ivm", "utf8");
    expect(m.source.files["models/uniformerv2.ivm"].sha256).toBe(createHash("sha256").update(text).digest("hex"));
    // Paths inside the working directory are relative: two checkouts give the same manifest.
    expect(Object.keys(m.source.files)).toContain("stdlib/nn.ivm");
    expect(JSON.stringify(m)).not.toContain(process.cwd());
    expect(m.inputs).toEqual([{ name: "clip", buffer: expect.any(String), shape: [1, 3, 4, 16, 16], dtype: "f32" }]);
    expect(m.outputs.map((o: { name: string; shape: number[] }) => [o.name, o.shape])).toEqual([
      ["output", [1, expect.any(Number)]],
    ]);
    expect(m.parameters.length).toBe(Object.keys(params).length);
    const conv = m.parameters.find((p: { path: string }) => p.path === "backbone.conv1.weight");
    expect(conv).toMatchObject({ kind: "param", frozen: false, dtype: "f32", shape: [16, 3, 1, 8, 8] });
    expect(conv.init.kind).toBeTypeOf("string");
    expect(m.buffers.peakBytes).toBe(m.buffers.plan.reduce((a: number, b: { bytes: number }) => a + b.bytes, 0));
    expect(m.schedule.length).toBe(m.kernels.length);
    for (const step of m.schedule)
      for (const id of Object.values(step.buffers)) expect(m.buffers.plan.some((b: { id: string }) => b.id === id)).toBe(true);
    expect(m.weights).toBe("weights.safetensors");
  });

  it("writes one .wgsl per kernel, with entry point, grid, bindings, source spans and pass", () => {
    const m = JSON.parse(readFileSync(join(bundle, "manifest.json"), "utf8"));
    const files = readdirSync(join(bundle, "kernels"));
    expect(files.length).toBe(m.kernels.length);
    for (const k of m.kernels) {
      const wgsl = readFileSync(join(bundle, k.file), "utf8");
      expect(wgsl).toContain(`fn ${k.entryPoint}(`);
      expect(wgsl).not.toContain(process.cwd());
      expect(k.grid.every((g: number) => Number.isInteger(g) && g >= 1)).toBe(true);
      expect(k.pass).toBe("forward");
      expect(k.bindings.length).toBeGreaterThan(0);
    }
    const withSpans = m.kernels.filter((k: { source: string[] }) => k.source.some((s) => /uniformerv2\.ivm:\d+:\d+/.test(s)));
    expect(withSpans.length).toBeGreaterThan(0);
    expect(new Set(m.kernels.map((k: { kind: string }) => k.kind))).toEqual(new Set(["conv3d", "reduce", "pointwise", "matmul", "attention"]));
  });

  it("--explain prints the kernel table with totals", () => {
    const out = compiled.stdout;
    expect(out).toMatch(/^kernel\s+kind\s+pass\s+ops\s+source\s+read\s+written\s+FLOPs/m);
    expect(out).toMatch(/k\d{3}_matmul_\S+\s+matmul\s+forward\s+\d+\s+nn\.ivm:\d+/);
    expect(out).toMatch(/^total\s+\d+/m);
    expect(out).toMatch(/^dispatches \d+ \(.*matmul \d+/m);
    expect(out).toMatch(/^peak bytes [\d,]+/m);
  });

  it("emits typed index.ts and plain index.js/runtime.js that import no ivc code", () => {
    const ts = readFileSync(join(bundle, "index.ts"), "utf8");
    expect(ts).toMatch(/export interface Inputs \{\s*\/\*\* f32 \[1, 3, 4, 16, 16\] \*\/\s*readonly clip: Float32Array/);
    expect(ts).toContain("export async function load(options: LoadOptions = {}): Promise<Model>");
    for (const f of ["index.js", "runtime.js", "runtime-support.js"]) {
      const js = readFileSync(join(bundle, f), "utf8");
      const imports = [...js.matchAll(/(?:from|import\()\s*"([^"]+)"/g)].map((x) => x[1]);
      expect(
        imports.every((i) => i === "webgpu" || i === "./runtime.js" || i === "./runtime-support.js" || i!.startsWith("node:")),
        `${f}: ${imports.join(", ")}`,
      ).toBe(true);
      expect(js).not.toMatch(/: (string|number|Float32Array)[,)]/);
    }
    expect(JSON.parse(readFileSync(join(bundle, "package.json"), "utf8")).type).toBe("module");
  });

  it("loads in a plain Node process and matches the reference interpreter within 1e-4", () => {
    const clip = randomArray(3 * 4 * 16 * 16, 5);
    writeF32(join(work.dir, "clip.bin"), clip);
    const got = runNode<{
      output: number[];
      shapes: Record<string, number[]>;
      again: number[];
      errors: string[];
      pipelines: number;
      loadMs: number;
      forwardMs: number;
    }>(
      work.dir,
      "run-eval.mjs",
      `import { readFileSync } from "node:fs";
import { load, inputShapes } from "./uv2/index.js";
const t0 = performance.now();
const m = await load();
const t1 = performance.now();
const clip = new Float32Array(readFileSync(new URL("./clip.bin", import.meta.url)).buffer.slice(0));
const { output } = await m.forward({ clip });
const t2 = performance.now();
const again = (await m.forward({ clip })).output;
const errors = [];
for (const bad of [{ clip: new Float32Array(3) }, {}, { clip, extra: clip }]) await m.forward(bad).catch((e) => errors.push(e.message));
m.destroy();
console.log(JSON.stringify({ output: [...output], again: [...again], errors, pipelines: m.runner.pipelines, shapes: inputShapes, loadMs: t1 - t0, forwardMs: t2 - t1 }));
`,
    );
    const ref = interpret(compileModel("models/uniformerv2.ivm", { preset: "tiny", set: SET }).graph!, {
      inputs: { clip },
      params,
      dims: { B: 1 },
    });
    expect(got.shapes).toEqual({ clip: [1, 3, 4, 16, 16] });
    expect(relError(got.output, ref.output!.data)).toBeLessThan(1e-4);
    expect(got.again).toEqual(got.output);
    // The two blocks' kernels share code: fewer pipelines than kernels.
    const kernels = JSON.parse(readFileSync(join(bundle, "manifest.json"), "utf8")).kernels.length;
    expect(got.pipelines).toBeGreaterThan(0);
    expect(got.pipelines).toBeLessThan(kernels);
    expect(got.errors).toEqual([
      "'clip' has 3 values; its shape [1, 3, 4, 16, 16] needs 3072",
      "missing input 'clip' (shape [1, 3, 4, 16, 16], f32)",
      "unknown input(s): extra (the bundle takes clip)",
    ]);
  });

  it("--precision f16: the bundle stores activations as f16, needs shader-f16 and stays within f16 precision", (t) => {
    const half = join(work.dir, "uv2-f16");
    const r = ivc("compile", "models/uniformerv2.ivm", "--preset", "tiny", ...setFlags, "-o", half, "--weights", join(work.dir, "w.safetensors"), "--precision", "f16");
    expect(r.status, r.stderr).toBe(0);
    const manifest = JSON.parse(readFileSync(join(half, "manifest.json"), "utf8"));
    const full = JSON.parse(readFileSync(join(bundle, "manifest.json"), "utf8"));
    expect(manifest.precision).toBe("f16");
    expect(full.precision).toBe("f32");
    expect(manifest.features).toContain("shader-f16");
    expect(manifest.buffers.peakBytes).toBeLessThan(full.buffers.peakBytes);
    expect(manifest.kernels.length).toBe(full.kernels.length);
    const wgsl = readdirSync(join(half, "kernels")).map((f) => readFileSync(join(half, "kernels", f), "utf8"));
    expect(wgsl.filter((w) => /array<(vec4<)?f16>/.test(w)).length).toBeGreaterThan(5);
    const clip = randomArray(3 * 4 * 16 * 16, 5);
    writeF32(join(work.dir, "clip16.bin"), clip);
    let got: { output: number[] };
    try {
      got = runNode(
        work.dir,
        "run-f16.mjs",
        `import { readFileSync } from "node:fs";
import { load } from "./uv2-f16/index.js";
const m = await load();
const clip = new Float32Array(readFileSync(new URL("./clip16.bin", import.meta.url)).buffer.slice(0));
const { output } = await m.forward({ clip });
m.destroy();
console.log(JSON.stringify({ output: [...output] }));
`,
      );
    } catch (e) {
      if (/shader-f16/.test((e as Error).message)) t.skip();
      throw e;
    }
    const ref = interpret(compileModel("models/uniformerv2.ivm", { preset: "tiny", set: SET }).graph!, { inputs: { clip }, params, dims: { B: 1 } });
    const err = relError(got.output, ref.output!.data);
    expect(err).toBeGreaterThan(0);
    expect(err).toBeLessThan(1e-2);
  });

  it("--autotune compiles the fastest tile widths here, caches them, and computes the same numbers", () => {
    const cache = join(work.dir, "cache");
    const saved = process.env.IVC_CACHE_DIR;
    process.env.IVC_CACHE_DIR = cache;
    try {
      const tuned = join(work.dir, "uv2-tuned");
      const args = ["compile", "models/uniformerv2.ivm", "--preset", "tiny", ...setFlags, "--weights", join(work.dir, "w.safetensors"), "--autotune"];
      const first = ivc(...args, "-o", tuned);
      expect(first.status, first.stderr).toBe(0);
      expect(first.stderr).toMatch(/autotune: [1-9]\d* tunable kernels, [1-9]\d* timed now/);
      expect(first.stdout).toMatch(/autotune \d+ ms/);
      const again = ivc(...args, "-o", join(work.dir, "uv2-tuned-again"));
      expect(again.stderr).toMatch(/ 0 timed now/);
      expect(JSON.parse(readFileSync(join(cache, "autotune.json"), "utf8")).format).toBe("ivc-autotune/1");
      const clip = randomArray(3 * 4 * 16 * 16, 5);
      writeF32(join(work.dir, "clip-tuned.bin"), clip);
      const got = runNode<{ tuned: number[]; plain: number[] }>(
        work.dir,
        "run-tuned.mjs",
        `import { readFileSync } from "node:fs";
import { load as loadTuned } from "./uv2-tuned/index.js";
import { load as loadPlain } from "./uv2/index.js";
const clip = new Float32Array(readFileSync(new URL("./clip-tuned.bin", import.meta.url)).buffer.slice(0));
const out = {};
for (const [name, load] of [["tuned", loadTuned], ["plain", loadPlain]]) {
  const m = await load();
  out[name] = [...(await m.forward({ clip })).output];
  m.destroy();
}
console.log(JSON.stringify(out));
`,
      );
      expect(got.tuned).toEqual(got.plain);
    } finally {
      if (saved === undefined) delete process.env.IVC_CACHE_DIR;
      else process.env.IVC_CACHE_DIR = saved;
    }
  });

  it("index.ts types a consumer: strict NodeNext accepts the right inputs and rejects a misspelt one", () => {
    const tsc = (file: string, source: string) => {
      writeFileSync(join(work.dir, file), source);
      const args = [
        "--ignoreConfig",
        "--noEmit",
        "--strict",
        "--module",
        "nodenext",
        "--moduleResolution",
        "nodenext",
        "--target",
        "es2022",
      ];
      return spawnSync(
        join(REPO, "node_modules/.bin/tsc"),
        [...args, "--types", "node,@webgpu/types", "--skipLibCheck", join(work.dir, file)],
        { cwd: REPO, encoding: "utf8" },
      );
    };
    const use = (input: string) => `import { load } from "./uv2/index.js";
const m = await load({ weights: "w.safetensors" });
const out: Float32Array = (await m.forward({ ${input}: new Float32Array(3072) })).output;
m.destroy();
export { out };
`;
    const good = tsc("use-good.mts", use("clip"));
    expect(good.status, good.stdout).toBe(0);
    const bad = tsc("use-bad.mts", use("clp"));
    expect(bad.status).not.toBe(0);
    expect(bad.stdout).toMatch(/clp/);
  });
});
