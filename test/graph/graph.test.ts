import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { compileBundle } from "../../compiler/bundle/index.ts";
import { LAVAPIPE_PROFILE } from "../../compiler/codegen/kernel.ts";
import { graphSvg, kernelGroups, modulePicture } from "../../compiler/graph/index.ts";
import { compileModel, memoryHost } from "../../compiler/pipeline.ts";
import { xmlProblems } from "./xml.ts";

// Two blocks, the first frozen; a residual add in the model's own forward and a reshape between.
const TOY = `
import { Linear, LayerNorm } from "std/nn"
config C { width: int = 8, classes: int = 3 }
module Block(width: int) {
  norm = LayerNorm(width)
  fc = Linear(width, width)
  forward(x: f32[B, N, width]) -> f32[B, N, width] = x + fc(norm(x))
}
model Toy(cfg: C) {
  @frozen stem = Linear(4, cfg.width)
  block = Block(cfg.width)
  head = Linear(cfg.width, cfg.classes)
  spare = Linear(cfg.width, cfg.width)
  forward(x: f32[B, N, 4]) -> f32[B, cfg.classes] = head(mean(block(stem(x)), axis = 1))
}
`;

function toy() {
  const c = compileModel("main.ivm", {}, memoryHost({ "main.ivm": TOY }));
  expect(c.diagnostics).toEqual([]);
  return c;
}

function ivc(args: string[]) {
  return spawnSync(process.execPath, ["bin/ivc.mjs", ...args], { encoding: "utf8" });
}

describe("module picture", () => {
  it("nests modules by path, marks frozen ones and labels edges with named-dim shapes", () => {
    const c = toy();
    const pic = modulePicture(c.graph!, c.elaborated!.modules, { depth: 1, title: "Toy" });
    const box = (id: string) => pic.boxes.find((b) => b.id === id);
    expect(box("stem")!.frozen).toBe(true);
    expect(box("block")!.frozen).toBe(false);
    expect(box("block")!.subtitle).toBe("Block");
    expect(box("block.norm")).toBeUndefined(); // cut at depth 1
    const flow = (from: string, to: string) => pic.flows.find((f) => f.from === from && f.to === to);
    expect(flow("input:x", "stem")!.label).toBe("B×N×4");
    expect(flow("stem", "block")!.label).toBe("B×N×8");
    expect(flow("head", "output:output")!.label).toBe("B×3");
    // The mean is the model's own op: block -> ops -> head, not block -> head.
    const ops = pic.boxes.filter((b) => b.kind === "ops");
    expect(ops.map((o) => o.parent)).toEqual([""]);
    expect(flow("block", ops[0]!.id)!.label).toBe("B×N×8");
    expect(flow(ops[0]!.id, "head")!.label).toBe("B×8");
    // A module the forward never calls is drawn faded, and only it.
    expect(pic.boxes.filter((b) => b.unused).map((b) => b.id)).toEqual(["spare"]);
  });

  it("at depth 2 the block is a container whose residual add is its own ops box", () => {
    const c = toy();
    const pic = modulePicture(c.graph!, c.elaborated!.modules, { depth: 2, title: "Toy" });
    const inBlock = pic.boxes.filter((b) => b.parent === "block").map((b) => b.id).sort();
    expect(inBlock).toEqual(["block#ops0", "block.fc", "block.norm"]);
    expect(pic.flows.some((f) => f.from === "block.fc" && f.to === "block#ops0")).toBe(true);
    // The residual: the block's input reaches the add without passing through norm or fc.
    expect(pic.flows.some((f) => f.from === "stem" && f.to === "block#ops0")).toBe(true);
  });
});

describe("ivc graph", () => {
  const dir = mkdtempSync(join(tmpdir(), "ivc-graph-"));

  it("writes a well-formed SVG with module names, shapes, and frozen parts marked", () => {
    const out = join(dir, "frozen.svg");
    const r = ivc(["graph", "models/uniformerv2.ivm", "--preset", "tiny", "--stage", "finetune", "--set", "frozen=true", "-o", out]);
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    const svg = readFileSync(out, "utf8");
    expect(xmlProblems(svg)).toEqual([]);
    for (const name of ["resblocks", "conv1", "ln_pre", "4 × UniBlock"]) expect(svg).toContain(`>${name}<`);
    expect(svg).not.toContain("unused"); // every module of UniFormerV2 is computed
    expect(svg).toContain(">backbone  UniFormerV2Backbone<");
    expect(svg).toContain("<title>backbone.transformer: UniFormerV2Transformer</title>");
    expect(svg).toContain(">B×3×8×32×32<");
    // The tiny preset embeds with temporal stride 2: 8 frames become 4 token sets.
    expect(svg).toContain(">4·B×17×64<");
    expect(svg).toMatch(/data-path="backbone.conv1" data-kind="module" data-frozen="true"/);
    expect(svg).toMatch(/data-path="backbone.transformer.resblocks" data-kind="list" data-frozen="true"/);
    expect(svg).toMatch(/data-path="backbone.transformer.dec" data-kind="list" data-frozen="false"/);
    expect(svg).toContain('fill="url(#frozen-hatch)"');
    expect(svg).toContain("frozen (no gradients)");
  });

  it("draws the fused kernels the compiler dispatches, one box each", async () => {
    const c = compileModel("models/uniformerv2.ivm", { preset: "tiny" });
    const bundle = await compileBundle({ file: "models/uniformerv2.ivm", preset: "tiny", adapter: async () => ({ profile: LAVAPIPE_PROFILE, name: "test" }) });
    const groups = kernelGroups(c.graph!);
    expect(groups.map((g) => g.nodes)).toEqual(bundle.stats!.map((s) => s.nodes));
    const svg = graphSvg({ graph: c.graph!, elaborated: c.elaborated!, depth: 3, kernels: true });
    expect(xmlProblems(svg)).toEqual([]);
    expect(svg.match(/data-kind="kernel"/g)!.length).toBe(bundle.stats!.length);
    expect(svg).toContain(`>k000 ${bundle.stats![0]!.kind}<`);
    expect(svg).toContain("fused kernel (one dispatch)");
  });

  it("--depth cuts the nesting", () => {
    const c = compileModel("models/uniformerv2.ivm", { preset: "tiny" });
    const shallow = graphSvg({ graph: c.graph!, elaborated: c.elaborated!, depth: 1 });
    expect(shallow).toContain('data-path="backbone"');
    expect(shallow).not.toContain('data-path="backbone.conv1"');
    const deep = graphSvg({ graph: c.graph!, elaborated: c.elaborated!, depth: 4 });
    expect(deep).toContain('data-path="backbone.transformer.resblocks.3"');
    expect(xmlProblems(deep)).toEqual([]);
  });

  it("usage errors exit 2", () => {
    expect(ivc(["graph", "models/uniformerv2.ivm", "--preset", "tiny"]).status).toBe(2);
    const bad = ivc(["graph", "models/uniformerv2.ivm", "--depth", "0", "-o", join(dir, "x.svg")]);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toContain("--depth must be a positive integer");
  });

  it("the XML check rejects what it should", () => {
    expect(xmlProblems("<svg><g></svg>")).not.toEqual([]);
    expect(xmlProblems('<svg a="1" a="2"/>')).not.toEqual([]);
    expect(xmlProblems("<svg>a & b</svg>")).not.toEqual([]);
    expect(xmlProblems("<svg/><svg/>")).not.toEqual([]);
    expect(xmlProblems('<svg x="&lt;"><t>a &amp; b</t></svg>')).toEqual([]);
  });
});
