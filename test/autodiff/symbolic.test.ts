import { describe, expect, it } from "vitest";
import { differentiate } from "../../compiler/autodiff/index.ts";
import { GraphBuilder } from "../../compiler/ir/builder.ts";
import type { Dim } from "../../compiler/ir/dims.ts";
import { interpret } from "../../compiler/interp/index.ts";
import { paramInfo, randomData, rng } from "./gradcheck.ts";
import { layerNorm } from "./nn.ts";

/** A conv + attention-pooling block whose batch dim is `batch` (symbolic or concrete). */
function model(batch: Dim) {
  const b = new GraphBuilder();
  const x = b.input("x", [batch, 4, 3, 4, 4]);
  const w = b.param(paramInfo("conv.w", [4, 2, 3, 1, 1]));
  const dw = b.param(paramInfo("dw.w", [4, 1, 1, 3, 3]));
  const g = b.param(paramInfo("ln.g", [4]));
  const beta = b.param(paramInfo("ln.b", [4]));
  const q = b.param(paramInfo("query", [1, 4]));
  let h = b.conv3d(x, w, { padding: [1, 0, 0], groups: 2 });
  h = b.conv3d(h, dw, { padding: [0, 1, 1], groups: 4 });
  const tokens = layerNorm(b, b.reshape(b.permute(h, [0, 2, 3, 4, 1]), [batch, 48, 4]), g, beta);
  const scores = b.matmul(q, b.permute(tokens, [0, 2, 1]));
  const pooled = b.matmul(b.unary("sigmoid", scores), tokens);
  const both = b.concat([pooled, b.unary("tanh", pooled)], 1);
  b.output("loss", b.reduce("sum", b.binary("mul", both, both), [0, 1, 2]));
  return differentiate(b.build(), { loss: "loss", wrt: () => true });
}

describe("autodiff with symbolic dims", () => {
  it("gives the same gradients with a symbolic batch as with the concrete one", () => {
    const symbolic = model("B");
    const concrete = model(3);
    expect([...symbolic.grads.keys()]).toEqual([...concrete.grads.keys()]);
    const next = rng(8);
    const params = Object.fromEntries(
      [["conv.w", [4, 2, 3, 1, 1]], ["dw.w", [4, 1, 1, 3, 3]], ["ln.g", [4]], ["ln.b", [4]], ["query", [1, 4]]].map(([k, s]) => [
        k as string,
        randomData({ shape: s as number[] }, next),
      ]),
    );
    const x = randomData({ shape: [3, 4, 3, 4, 4] }, next);
    const a = interpret(symbolic.graph, { inputs: { x }, params, dims: { B: 3 }, precision: "f64" });
    const c = interpret(concrete.graph, { inputs: { x }, params, precision: "f64" });
    for (const path of concrete.grads.keys()) {
      const want = Array.from(c[`grad:${path}`]!.data);
      Array.from(a[`grad:${path}`]!.data).forEach((v, i) => expect(v).toBeCloseTo(want[i]!, 12));
    }
    const convGrad = symbolic.graph.nodes.find((n) => n.id === symbolic.grads.get("conv.w"))!;
    expect(convGrad.shape).toEqual([4, 2, 3, 1, 1]);
    expect(symbolic.graph.nodes.some((n) => n.shape.includes("2*B"))).toBe(true);
  });
});
