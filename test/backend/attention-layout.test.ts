/**
 * Attention layouts in the plan, without a GPU: the heads-last rewrite (compiler/schedule/
 * attention-layout.ts) keeps every output bit-identical on the interpreter and removes the head-merge
 * copies; the attention backward writes dq, dk and dv into the qkv gradient in place
 * (concat-in-place.ts) only when the concatenation is exactly theirs. (On Dawn: test/backend/ops.test.ts.)
 */
import { describe, expect, it } from "vitest";
import type { GraphBuilder } from "../../compiler/ir/builder.ts";
import { interpret } from "../../compiler/interp/index.ts";
import type { Graph, ValueId } from "../../compiler/ir/types.ts";
import { verifyGraph } from "../../compiler/ir/verify.ts";
import { headsLastAttention } from "../../compiler/schedule/attention-layout.ts";
import { planFusion } from "../../compiler/schedule/plan.ts";
import { param, randomFeeds, withGrads } from "./gpu-helpers.ts";

const [B, N, H, D, C] = [2, 5, 3, 4, 7];

/** Multi-head self-attention as stdlib's MultiheadAttention: fused qkv, heads split, merged, projected. */
function selfAttention(b: GraphBuilder, merge = true): ValueId {
  const x = param(b, "x", [B, N, C]);
  const qkv = b.binary("add", b.matmul(x, b.permute(param(b, "w_qkv", [3 * H * D, C]), [1, 0])), param(b, "b_qkv", [3 * H * D]));
  const heads = (i: number) => b.permute(b.reshape(b.slice(qkv, [0, 0, i * H * D], [B, N, (i + 1) * H * D]), [B, N, H, D]), [0, 2, 1, 3]);
  const o = b.attention(heads(0), heads(1), heads(2), { scale: 0.4 });
  if (!merge) return o;
  const merged = b.reshape(b.permute(o, [0, 2, 1, 3]), [B, N, H * D]);
  return b.matmul(merged, b.permute(param(b, "w_out", [C, H * D]), [1, 0]));
}

function run(graph: Graph) {
  const feeds = randomFeeds(graph, 5);
  return interpret(graph, { inputs: feeds.inputs, params: feeds.params });
}

describe("heads-last attention results", () => {
  it("rewrite the attention the heads merge reads, keep every output bit-identical", () => {
    const graph = withGrads((b) => selfAttention(b));
    const rewritten = headsLastAttention(graph);
    expect(verifyGraph(rewritten)).toEqual([]);
    const attention = rewritten.nodes.filter((n) => n.op.kind === "attention");
    expect(attention.map((n) => [n.shape, n.op.kind === "attention" && n.op.heads_last])).toEqual([[[B, N, H, D], true]]);
    const [want, got] = [run(graph), run(rewritten)];
    for (const o of graph.outputs) expect(Array.from(got[o.name]!.data), o.name).toEqual(Array.from(want[o.name]!.data));
  });

  it("leave an attention nobody merges (or that is a graph output) alone", () => {
    const graph = withGrads((b) => selfAttention(b, false));
    expect(headsLastAttention(graph)).toBe(graph);
  });

  it("remove the head-merge copies forward and in the output projection's weight gradient", () => {
    const graph = withGrads((b) => selfAttention(b));
    const plan = planFusion(graph, { maxStorageBuffers: 16 });
    // The merged value is read in place by the projection and its weight gradient: no kernel stores it.
    const mergeReaders = plan.graph.nodes.filter((n) => n.op.kind === "reshape" && n.shape.join() === [B, N, H * D].join());
    for (const n of mergeReaders) expect(plan.materialized.has(n.id), `%${n.id}`).toBe(false);
    expect(plan.kernels.filter((k) => k.kind === "attention")).toHaveLength(1);
    const stats = plan.kernels.find((k) => k.kind === "attention_stats")!;
    const statsNode = plan.graph.nodes.find((n) => n.id === (stats as { node: ValueId }).node)!;
    // attention_stats reads o through the inverse permutation of the heads-last result.
    const o = plan.graph.nodes.find((n) => n.id === statsNode.inputs[2])!;
    expect(o.op.kind).toBe("permute");
  });
});

describe("the qkv gradient written in place by the attention backward", () => {
  it("places dq, dk and dv at their columns of [B, N, 3 * H * D], with no copy kernel", () => {
    const plan = planFusion(withGrads((b) => selfAttention(b)), { maxStorageBuffers: 16 });
    const writers = plan.kernels.filter((k) => k.kind === "attention_grad_q" || k.kind === "attention_grad_kv");
    expect(writers).toHaveLength(2);
    const [q, kv] = writers.map((k) => ("into" in k ? k.into : undefined));
    expect(q!.value).toBe(kv!.value);
    const row = 3 * H * D;
    expect(q!.layouts).toEqual({ dq: { batch: N * row, head: D, row, offset: 0 } });
    expect(kv!.layouts).toEqual({ dk: { batch: N * row, head: D, row, offset: H * D }, dv: { batch: N * row, head: D, row, offset: 2 * H * D } });
    expect(plan.kernels.filter((k) => k.kind === "pointwise" && k.outputs.includes(q!.value))).toEqual([]);
  });

  it("leaves a concatenation that holds only some of a result's parts as a copy", () => {
    // q and k from one projection, v from another: [dq | dk] is the first gradient, dv the second.
    const graph = withGrads((b) => {
      const qk = param(b, "qk", [B, N, 2 * H * D]);
      const heads = (x: ValueId, i: number) => b.permute(b.reshape(b.slice(x, [0, 0, i * H * D], [B, N, (i + 1) * H * D]), [B, N, H, D]), [0, 2, 1, 3]);
      return b.attention(heads(qk, 0), heads(qk, 1), heads(param(b, "v", [B, N, H * D]), 0));
    });
    const plan = planFusion(graph, { maxStorageBuffers: 16 });
    expect(plan.kernels.filter((k) => "into" in k && k.into)).toEqual([]);
  });
});
