import { describe, it } from "vitest";
import { gradCheck } from "./gradcheck.ts";
import { attention, batchNormTrain, gelu, layerNorm, multiHeadAttention, quickGelu } from "./nn.ts";

describe("gradients of composite blocks", () => {
  it("LayerNorm", () => {
    gradCheck({
      params: { x: { shape: [2, 3, 5] }, gamma: { shape: [5] }, beta: { shape: [5] } },
      build: (b, p) => layerNorm(b, p.x!, p.gamma!, p.beta!),
    });
  });
  it("multi-head self-attention with softmax as exp / sub-max / sum / div", () => {
    gradCheck({
      params: { x: { shape: [2, 3, 4] }, wqkv: { shape: [4, 12] }, wo: { shape: [4, 4] } },
      build: (b, p) => multiHeadAttention(b, p.x!, p.wqkv!, p.wo!, 2),
    });
  });
  it("BatchNorm in training mode (batch statistics)", () => {
    gradCheck({
      params: { x: { shape: [2, 3, 2, 2, 2] }, gamma: { shape: [3] }, beta: { shape: [3] } },
      build: (b, p) => batchNormTrain(b, p.x!, p.gamma!, p.beta!),
    });
  });
  it("QuickGELU x * sigmoid(1.702 x)", () => {
    gradCheck({ params: { x: { shape: [4, 3], low: -3, high: 3 } }, build: (b, p) => quickGelu(b, p.x!) });
  });
  it("exact GELU through erf", () => {
    gradCheck({ params: { x: { shape: [4, 3], low: -3, high: 3 } }, build: (b, p) => gelu(b, p.x!) });
  });
  it("cross-attention with a single learnable query (broadcast batch in matmul)", () => {
    gradCheck({
      params: { x: { shape: [2, 4, 6] }, query: { shape: [1, 6] }, wk: { shape: [6, 6] }, wv: { shape: [6, 6] } },
      build: (b, p) => attention(b, p.query!, b.matmul(p.x!, p.wk!), b.matmul(p.x!, p.wv!)),
    });
  });
  it("tanh-gated residual x + tanh(g) * f(x)", () => {
    gradCheck({
      params: { x: { shape: [3, 4] }, gate: { shape: [1] }, w: { shape: [4, 4] }, bias: { shape: [4] } },
      build: (b, p) => {
        const f = quickGelu(b, b.binary("add", b.matmul(p.x!, p.w!), p.bias!));
        return b.binary("add", p.x!, b.binary("mul", b.unary("tanh", p.gate!), f));
      },
    });
  });
});
