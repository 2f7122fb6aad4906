import { describe, expect, it } from "vitest";
import { differentiate } from "../../compiler/autodiff/index.ts";
import { GraphBuilder } from "../../compiler/ir/builder.ts";
import { interpret } from "../../compiler/interp/index.ts";
import { paramInfo, rng } from "./gradcheck.ts";
import { mean } from "./nn.ts";

describe("training with the interpreter", () => {
  it("plain SGD on a 2-layer MLP fits a toy regression and the loss falls", () => {
    const N = 32, H = 16;
    const b = new GraphBuilder();
    const x = b.input("x", [N, 2]);
    const y = b.input("y", [N, 1]);
    const w1 = b.param(paramInfo("fc1.w", [2, H]));
    const b1 = b.param(paramInfo("fc1.b", [H]));
    const w2 = b.param(paramInfo("fc2.w", [H, 1]));
    const b2 = b.param(paramInfo("fc2.b", [1]));
    const h = b.unary("tanh", b.binary("add", b.matmul(x, w1), b1));
    const err = b.binary("sub", b.binary("add", b.matmul(h, w2), b2), y);
    b.output("loss", b.reshape(mean(b, b.binary("mul", err, err), [0, 1]), []));
    const { graph, grads } = differentiate(b.build(), { loss: "loss", wrt: () => true });

    const next = rng(3);
    const xs = Float32Array.from({ length: N * 2 }, () => next() * 4 - 2);
    const ys = Float32Array.from({ length: N }, (_, i) => Math.sin(xs[2 * i]!) * Math.cos(xs[2 * i + 1]!));
    const params: Record<string, Float32Array> = {
      "fc1.w": Float32Array.from({ length: 2 * H }, () => (next() - 0.5) * 1.4),
      "fc1.b": new Float32Array(H),
      "fc2.w": Float32Array.from({ length: H }, () => (next() - 0.5) * 0.5),
      "fc2.b": new Float32Array(1),
    };
    const losses: number[] = [];
    for (let step = 0; step < 300; step++) {
      const out = interpret(graph, { inputs: { x: xs, y: ys }, params, precision: "f32" });
      losses.push(out["loss"]!.data[0]!);
      for (const path of grads.keys()) {
        const g = out[`grad:${path}`]!.data;
        const p = params[path]!;
        for (let i = 0; i < p.length; i++) p[i]! -= 0.1 * g[i]!;
      }
    }
    expect(losses.at(-1)!).toBeLessThan(losses[0]! * 0.3);
    expect(losses.at(-1)!).toBeLessThan(losses[150]!);
  });
});
