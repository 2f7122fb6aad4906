import { spawnSync } from "node:child_process";
import { describe, expect, it } from "vitest";
import { modelInfo } from "../../compiler/info/index.ts";
import { compileModel } from "../../compiler/pipeline.ts";

function info(file: string, preset: string, set: string[] = [], model?: string) {
  const c = compileModel(file, { preset, set, model });
  expect(c.diagnostics).toEqual([]);
  return modelInfo(c.graph!, c.elaborated!.graph.params, c.elaborated!.modules);
}

// Published parameter counts (fact sheet section 5 and the UniFormerV2 constructors).
const UNIFORMERV2: [string, number, number][] = [
  ["k400_b16", 114_552_208, 148.1e9],
  ["k400_l14", 354_099_600, 665.6e9],
  ["k400_l14_336", 354_427_280, 1567e9],
  ["ssv2_b16", 162_992_814, 187.2e9],
  ["ssv2_l14", 573_949_966, 858.2e9],
];

describe("ivc info", () => {
  for (const [preset, params, flops] of UNIFORMERV2) {
    it(`uniformerv2 ${preset}: ${params} parameters, ${flops / 1e9} GFLOPs`, () => {
      const i = info("models/uniformerv2.ivm", preset);
      expect(i.params.total).toBe(params);
      expect(i.params.frozen).toBe(0);
      expect(Math.abs(i.flops - flops) / flops).toBeLessThan(0.001);
    });
  }

  for (const [preset, params, flops] of [
    ["vit_b16", 86_534_800, 180.3e9],
    ["vit_l16", 304_270_736, 596.8e9],
    ["vit_h16", 632_119_440, 1191e9],
  ] as const) {
    it(`videomae ${preset}: ${params} parameters, ${flops / 1e9} GFLOPs`, () => {
      const i = info("models/videomae.ivm", preset, [], "VideoMAE");
      expect(i.params.total).toBe(params);
      expect(Math.abs(i.flops - flops) / flops).toBeLessThan(0.002);
    });
  }

  // Every preset of every model elaborates (eval forward) without a diagnostic.
  for (const [file, model, presets] of [
    ["models/uniformerv2.ivm", "UniFormerV2", ["tiny", "k400_l14_336_frozen"]],
    ["models/videomae.ivm", "VideoMAEPretrain", ["tiny", "vit_b16", "vit_l16", "vit_h16"]],
    ["models/videomae.ivm", "VideoMAE", ["tiny"]],
    ["models/internvideo.ivm", "InternVideo", ["tiny", "base", "full"]],
  ] as const) {
    for (const preset of presets) {
      it(`${model} ${preset} compiles`, () => {
        const c = compileModel(file, { preset, model });
        expect(c.diagnostics.filter((d) => d.severity === "error")).toEqual([]);
        expect(c.graph!.nodes.length).toBeGreaterThan(10);
      });
    }
  }

  it("counts frozen parameters and buffers separately", () => {
    const i = info("models/uniformerv2.ivm", "tiny", ["frozen=true", "lmhra=true"]);
    expect(i.params.frozen).toBeGreaterThan(0);
    expect(i.params.trainable).toBe(i.params.total - i.params.frozen);
    expect(i.buffers).toBeGreaterThan(0);
    const backbone = i.modules.find((m) => m.path === "backbone")!;
    expect(backbone.params).toBeLessThanOrEqual(i.params.total);
  });

  it("prints JSON with exactly the documented top-level keys", () => {
    const r = spawnSync(process.execPath, ["bin/ivc.mjs", "info", "models/uniformerv2.ivm", "--preset", "tiny", "--json"], { encoding: "utf8" });
    expect(r.status, r.stderr).toBe(0);
    const json = JSON.parse(r.stdout);
    expect(Object.keys(json).sort()).toEqual(["buffers", "flops", "modules", "ops", "params"]);
    expect(Object.keys(json.params).sort()).toEqual(["frozen", "total", "trainable"]);
  });

  it("exits 1 with located diagnostics for a bad --set, 2 for a missing file", () => {
    const bad = spawnSync(process.execPath, ["bin/ivc.mjs", "info", "models/uniformerv2.ivm", "--preset", "tiny", "--set", "widht=3"], { encoding: "utf8" });
    expect(bad.status).toBe(1);
    expect(bad.stderr).toContain("unknown key `widht`");
    const missing = spawnSync(process.execPath, ["bin/ivc.mjs", "info", "nope.ivm"], { encoding: "utf8" });
    expect(missing.status).toBe(2);
  });
});
