import { describe, expect, it } from "vitest";
import { differentiate } from "../../compiler/autodiff/index.ts";
import { GraphBuilder } from "../../compiler/ir/builder.ts";
import { shapeEq } from "../../compiler/ir/dims.ts";
import type { Graph, Node } from "../../compiler/ir/types.ts";
import { paramInfo } from "./gradcheck.ts";

const IN = 5;
const HIDDEN = 7;
const OUT = 3;

/** x -> relu(x W1 + b1) -> W2 + b2 -> squared error against y. */
function mlp(frozen: { fc1: boolean; fc2: boolean }): Graph {
  const b = new GraphBuilder();
  const x = b.input("x", ["N", IN]);
  const y = b.input("y", ["N", OUT]);
  const w1 = b.param(paramInfo("fc1.w", [IN, HIDDEN], frozen.fc1));
  const b1 = b.param(paramInfo("fc1.b", [HIDDEN], frozen.fc1));
  const w2 = b.param(paramInfo("fc2.w", [HIDDEN, OUT], frozen.fc2));
  const b2 = b.param(paramInfo("fc2.b", [OUT], frozen.fc2));
  const h = b.unary("relu", b.binary("add", b.matmul(x, w1), b1), { name: "fc1" });
  const pred = b.binary("add", b.matmul(h, w2), b2, { name: "fc2" });
  const err = b.binary("sub", pred, y);
  b.output("loss", b.reduce("sum", b.binary("mul", err, err), [0, 1]));
  b.output("pred", pred);
  return b.build();
}

const trainable = (p: { frozen: boolean }) => !p.frozen;

function backwardNodes(forward: Graph, full: Graph): Node[] {
  const ids = new Set(forward.nodes.map((n) => n.id));
  return full.nodes.filter((n) => !ids.has(n.id));
}

describe("freeze-aware autodiff", () => {
  it("a frozen first layer gets no backward ops: no dW1, no dx, no dh", () => {
    const g = mlp({ fc1: true, fc2: false });
    const { graph, unreachable, grads } = differentiate(g, { loss: "loss", wrt: trainable });
    expect(unreachable).toEqual([]);
    expect([...grads.keys()]).toEqual(["fc2.w", "fc2.b"]);
    const bwd = backwardNodes(g, graph);
    const matmuls = bwd.filter((n) => n.op.kind === "matmul");
    expect(matmuls).toHaveLength(1);
    expect(shapeEq(matmuls[0]!.shape, [HIDDEN, OUT])).toBe(true);
    expect(bwd.some((n) => shapeEq(n.shape, [IN, HIDDEN]))).toBe(false);
    expect(bwd.some((n) => shapeEq(n.shape, ["N", HIDDEN]))).toBe(false);
    expect(bwd.some((n) => n.op.kind === "compare")).toBe(false);
    expect(graph.outputs.map((o) => o.name)).toEqual(["loss", "pred", "grad:fc2.w", "grad:fc2.b"]);
  });
  it("a frozen second layer still propagates through it, but never forms dW2", () => {
    const g = mlp({ fc1: false, fc2: true });
    const { graph, grads } = differentiate(g, { loss: "loss", wrt: trainable });
    expect([...grads.keys()]).toEqual(["fc1.w", "fc1.b"]);
    const matmuls = backwardNodes(g, graph).filter((n) => n.op.kind === "matmul");
    expect(matmuls.map((n) => n.shape)).toEqual([["N", HIDDEN], [IN, HIDDEN]]);
  });
  it("a fully frozen model produces an empty backward", () => {
    const g = mlp({ fc1: true, fc2: true });
    const { graph, grads, unreachable } = differentiate(g, { loss: "loss", wrt: trainable });
    expect(graph.nodes).toHaveLength(g.nodes.length);
    expect(graph.outputs).toEqual(g.outputs);
    expect(grads.size).toBe(0);
    expect(unreachable).toEqual([]);
  });
  it("reports trainable parameters that do not reach the loss, and gives them no gradient", () => {
    const b = GraphBuilder.from(mlp({ fc1: false, fc2: false }));
    const x = b.input("x", ["N", IN]);
    const aux = b.param(paramInfo("aux.w", [IN, 2]));
    b.output("aux", b.matmul(x, aux));
    const { graph, unreachable } = differentiate(b.build(), { loss: "loss", wrt: trainable });
    expect(unreachable).toEqual(["aux.w"]);
    expect(graph.outputs.some((o) => o.name === "grad:aux.w")).toBe(false);
  });
  it("parameters reaching the loss only through a condition or an index get no gradient", () => {
    const b = new GraphBuilder();
    const w = b.param(paramInfo("w", [4]));
    const t = b.param(paramInfo("thresh", [4]));
    const masked = b.where(b.compare("gt", w, t), w, b.constant(0));
    b.output("loss", b.reduce("sum", b.unary("floor", t), [0]));
    b.output("l2", b.reduce("sum", masked, [0]));
    const r = differentiate(b.build(), { loss: "l2", wrt: () => true });
    expect([...r.grads.keys()]).toEqual(["w"]);
    expect(r.unreachable).toEqual(["thresh"]);
    expect(differentiate(b.build(), { loss: "loss", wrt: () => true }).unreachable).toEqual(["w", "thresh"]);
  });
  it("backward nodes keep the spans of the forward node they differentiate", () => {
    const span = { file: "m.ivm", offset: 0, endOffset: 4, line: 3, col: 1, endLine: 3, endCol: 5 };
    const b = new GraphBuilder();
    const w = b.param(paramInfo("w", [3]));
    b.output("loss", b.reduce("sum", b.unary("exp", w, { spans: [span], name: "act" }), [0]));
    const { graph } = differentiate(b.build(), { loss: "loss", wrt: () => true });
    const mul = graph.nodes.find((n) => n.op.kind === "binary" && n.name === "grad.act")!;
    expect(mul.spans).toEqual([span]);
  });
});
