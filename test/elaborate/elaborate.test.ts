import { describe, expect, it } from "vitest";
import { renderDiagnostics } from "../../diagnostics/index.ts";
import { printGraph } from "../../compiler/ir/printer.ts";
import { interpret } from "../../compiler/interp/index.ts";
import { compileModel, memoryHost } from "../../compiler/pipeline.ts";

const MLP = `
import { Linear, LayerNorm } from "std/nn"

config Tiny {
  width: int = 8
  hidden: int = 16
  classes: int = 3
  depth: int = 2
  frozen_first: bool = false
}
preset small: Tiny { width = 4, hidden = 6 }
preset smaller: small { classes = 2 }

module Block(width: int, hidden: int) {
  norm = LayerNorm(width)
  up = Linear(width, hidden)
  @init(zeros) down = Linear(hidden, width)
  forward(x: f32[B, width]) -> f32[B, width] = x + down(gelu(up(norm(x))))
}

model Net(cfg: Tiny) {
  let w = cfg.width
  for i in 0..cfg.depth {
    blocks[i] = Block(w, cfg.hidden)
  }
  @frozen stem = Linear(w, w)
  head = Linear(w, cfg.classes)
  forward(x: f32[B, w]) -> f32[B, cfg.classes] {
    let h = stem(x)
    for i in 0..cfg.depth {
      h = blocks[i](h)
    }
    return head(h)
  }
}

train stage fit for Net {
  freeze blocks.0
  data synthetic_motion(frames = 2, size = 4)
  loss cross_entropy(model(mean(clip, axis = [1, 2, 3])[:, :cfg.width]), label, smoothing = 0.1)
}
`;

function compile(src: string, opts: Parameters<typeof compileModel>[1] = {}) {
  const host = memoryHost({ "main.ivm": src });
  return compileModel("main.ivm", opts, host);
}

function rendered(r: ReturnType<typeof compile>): string {
  return renderDiagnostics(r.diagnostics, r.sources as Map<string, string>, { color: false });
}

describe("elaborate", () => {
  it("instantiates modules with dotted parameter paths, inits and frozen flags", () => {
    const r = compile(MLP);
    expect(rendered(r)).toBe("");
    const params = r.elaborated!.graph.params;
    expect(params.map((p) => p.path)).toContain("blocks.1.up.weight");
    const down = params.find((p) => p.path === "blocks.0.down.weight")!;
    expect(down.init).toEqual({ kind: "zeros" });
    expect(down.shape).toEqual([8, 16]);
    expect(params.find((p) => p.path === "stem.weight")!.frozen).toBe(true);
    expect(params.find((p) => p.path === "head.weight")!.frozen).toBe(false);
    expect(r.graph!.inputs).toEqual([{ name: "x", shape: ["B", 8], dtype: "f32" }]);
    expect(r.graph!.outputs.map((o) => o.name)).toEqual(["output"]);
  });

  it("applies presets (chained) and typed --set overrides", () => {
    const r = compile(MLP, { preset: "smaller", set: ["depth=3"] });
    expect(rendered(r)).toBe("");
    expect(r.elaborated!.config).toMatchObject({ width: 4, hidden: 6, classes: 2, depth: 3 });
    expect(r.graph!.params.some((p) => p.path === "blocks.2.norm.weight")).toBe(true);
  });

  it("reports unknown --set keys with the valid keys, and wrong types", () => {
    const r = compile(MLP, { set: ["widht=3", "depth=true"] });
    const text = rendered(r);
    expect(text).toContain("unknown key `widht` for config `Tiny`");
    expect(text).toContain("did you mean `width`?");
    expect(text).toContain("`depth` expects int, found bool true");
  });

  it("runs the elaborated graph on the reference interpreter", () => {
    const r = compile(MLP, { preset: "small" });
    const g = r.graph!;
    const params: Record<string, Float32Array> = {};
    for (const p of g.params) {
      const n = (p.shape as number[]).reduce((a, b) => a * b, 1);
      params[p.path] = Float32Array.from({ length: n }, (_, i) => Math.sin(i + p.path.length));
    }
    const out = interpret(g, { inputs: { x: new Float32Array([1, 2, 3, 4, -1, 0, 1, 0]) }, params, dims: { B: 2 } });
    expect(out.output!.shape).toEqual([2, 3]);
    expect([...out.output!.data].every(Number.isFinite)).toBe(true);
  });

  it("builds a train stage: loss output, stage freezes, gradients only for trainable parameters", () => {
    const r = compile(MLP, { stage: "fit", preset: "small", differentiate: true });
    expect(rendered(r)).toBe("");
    const outs = r.graph!.outputs.map((o) => o.name);
    expect(outs).toContain("loss");
    expect(outs).toContain("grad:blocks.1.up.weight");
    expect(outs).toContain("grad:head.weight");
    expect(outs.some((o) => o.startsWith("grad:blocks.0."))).toBe(false);
    expect(outs).not.toContain("grad:stem.weight");
    expect(r.freeze!.frozen).toContain("blocks.0.up.weight");
    expect(r.graph!.inputs.map((i) => i.name).sort()).toEqual(["clip", "label"]);
  });

  it("reports a freeze entry that names nothing, with a suggestion", () => {
    const r = compile(MLP.replace("freeze blocks.0", "freeze blocks.0, blcks.1"), { stage: "fit", preset: "small" });
    expect(rendered(r)).toMatch(/`blcks.1` in the freeze list names nothing[\s\S]*did you mean `blocks.1`/);
  });

  it("locates shape mismatches and names where each dim was bound", () => {
    const bad = MLP.replace("return head(h)", "return head(h) + x");
    const text = rendered(compile(bad));
    expect(text).toContain("main.ivm:33:12: error[IV3005]");
    expect(text).toMatch(/\[B, 3\].*\[B, 8\]|\[B, 8\].*\[B, 3\]/);
  });

  it("reports every error, not only the first, and no cascades", () => {
    const bad = MLP.replace("let h = stem(x)", "let h = stem(x, 3)\n    let q = nope(h)\n    let z = q + 1");
    const r = compile(bad);
    const codes = r.diagnostics.map((d) => d.code);
    expect(codes).toEqual(["IV2008", "IV2001"]);
    expect(rendered(r)).toContain("unknown name `nope`");
  });

  it("checks a call's tensor type against the signature and notes the binding", () => {
    const bad = MLP.replace("h = blocks[i](h)", "h = blocks[i](concat([h, h], axis = 1))");
    const text = rendered(compile(bad));
    expect(text).toContain("error[IV3001]");
    expect(text).toMatch(/shapes do not match: f32\[B, 16\] vs f32\[B, width\]/);
  });

  it("lowers attention(q, k, v) to one op: default scale width^-0.5, causal flag, located shape errors", () => {
    const model = (body: string, x = "f32[B, 5, 16]") => `
config None {}
model Att(cfg: None) {
  forward(x: ${x}, y: f32[B, 7, 16]) -> f32[B, 5, 16] = ${body}
}
`;
    const ops = (r: ReturnType<typeof compile>) => r.graph!.nodes.map((n) => n.op).filter((op) => op.kind === "attention");
    expect(ops(compile(model("attention(x, y, y)")))).toEqual([{ kind: "attention", scale: 0.25, causal: false }]);
    expect(ops(compile(model("attention(x, y, y, scale = 0.5, causal = true)")))).toEqual([{ kind: "attention", scale: 0.5, causal: true }]);
    const mismatch = rendered(compile(model("attention(x, y, x)")));
    expect(mismatch).toMatch(/main.ivm:4:\d+: error\[IV3005\][\s\S]*k \[B, 7, 16\] and v \[B, 5, 16\] differ in rows/);
    const symbolic = rendered(compile(model("attention(x, x, x)", "f32[B, 5, C]").replace("y: f32[B, 7, 16]) -> f32[B, 5, 16]", "y: f32[B, 7, 16]) -> f32[B, 5, C]")));
    expect(symbolic).toMatch(/error\[IV3008\][\s\S]*query width C is not a number[\s\S]*pass `scale`/);
  });

  it("prints a stable IR", () => {
    const r = compile(MLP, { preset: "small", set: ["depth=1"] });
    const text = printGraph(r.graph!);
    expect(text).toMatch(/matmul/);
    expect(text).toContain("main.ivm:");
  });
});
