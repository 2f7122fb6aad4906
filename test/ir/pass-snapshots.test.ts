import { describe, expect, it } from "vitest";
import { differentiate } from "../../compiler/autodiff/index.ts";
import { elaborate } from "../../compiler/elaborate/index.ts";
import { printGraph } from "../../compiler/ir/printer.ts";
import { memoryHost } from "../../compiler/pipeline.ts";
import { resolveProgram } from "../../compiler/resolve/index.ts";
import { bindDims } from "../../compiler/schedule/bind.ts";
import { planFusion } from "../../compiler/schedule/plan.ts";
import { simplify } from "../../compiler/simplify/index.ts";

// A pre-LN residual MLP block with a classifier: small enough to read, large enough to exercise every pass.
const SOURCE = `
import { LayerNorm, Linear } from "std/nn"
config Small { width: int = 4, classes: int = 3 }
model Net(cfg: Small) {
  norm = LayerNorm(cfg.width)
  fc = Linear(cfg.width, cfg.width)
  @frozen head = Linear(cfg.width, cfg.classes)
  forward(x: f32[B, cfg.width]) -> f32[B, cfg.classes] {
    let h = x + gelu(fc(norm(x)))
    return head(h)
  }
}
train stage fit for Net {
  data synthetic_motion(frames = 1, size = 2)
  loss cross_entropy(model(mean(clip, axis = [2, 3, 4]) @ ones([3, cfg.width])), label)
  optim adamw(lr = 1e-3)
}
`;

function stages() {
  const resolved = resolveProgram("net.ivm", memoryHost({ "net.ivm": SOURCE }));
  const elaborated = elaborate(resolved, { stage: "fit" });
  expect(elaborated.diagnostics).toEqual([]);
  const simplified = simplify(elaborated.graph);
  const trainable = new Set(elaborated.graph.params.filter((p) => p.kind === "param" && !p.frozen).map((p) => p.path));
  const backward = simplify(differentiate(simplified, { loss: "loss", wrt: (p) => trainable.has(p.path) }).graph);
  return { elaborated: elaborated.graph, simplified, backward };
}

describe("IR after each pass (snapshots; update with `npx vitest run test/ir -u` after an intended change)", () => {
  const s = stages();
  it("elaborate", async () => {
    await expect(printGraph(s.elaborated)).toMatchFileSnapshot("__snapshots__/net.elaborate.ir");
  });
  it("simplify", async () => {
    await expect(printGraph(s.simplified)).toMatchFileSnapshot("__snapshots__/net.simplify.ir");
  });
  it("autodiff (frozen head: no gradient, no backward matmul for its weight)", async () => {
    const text = printGraph(s.backward);
    expect(text).not.toContain("grad:head.");
    expect(text).toContain("grad:fc.weight");
    await expect(text).toMatchFileSnapshot("__snapshots__/net.autodiff.ir");
  });
  it("fusion plan", async () => {
    const plan = planFusion(bindDims(s.backward, { B: 2 }));
    // Each kernel: its kind, the node it is built around (matmul, first reduction), what it stores.
    const lines = plan.kernels.map((k) => `${k.kind}${"node" in k ? ` %${k.node}` : ""} -> %${k.outputs.join(", %")}`);
    await expect(lines.join("\n") + "\n").toMatchFileSnapshot("__snapshots__/net.fusion.txt");
  });
});
