/**
 * A tiny UniFormerV2-shaped model written directly with the builder (patch-embedding conv3d,
 * local temporal MHRA with BatchNorm and a depthwise temporal conv, per-frame attention, QuickGELU
 * MLPs, global cross-attention from a learnable query with tanh gates, cross-entropy loss). It is
 * the interpreter's performance yardstick and a large end-to-end autodiff workload.
 */
import { GraphBuilder } from "../../compiler/ir/builder.ts";
import type { Graph, ParamInfo, ValueId } from "../../compiler/ir/types.ts";
import { attention, batchNormTrain, layerNorm, multiHeadAttention, quickGelu, softmax } from "../autodiff/nn.ts";

export interface TinyConfig {
  batch: number;
  frames: number;
  size: number;
  patch: number;
  width: number;
  layers: number;
  heads: number;
  globalLayers: number;
  classes: number;
}

export const TINY: TinyConfig = { batch: 2, frames: 8, size: 32, patch: 8, width: 64, layers: 4, heads: 4, globalLayers: 2, classes: 10 };

export function buildUniformerTiny(cfg: TinyConfig = TINY): { graph: Graph; params: ParamInfo[] } {
  const b = new GraphBuilder();
  const params: ParamInfo[] = [];
  const P = (path: string, shape: number[], std = 0.02): ValueId => {
    const info: ParamInfo = { path, shape, dtype: "f32", init: { kind: "normal", std, mean: 0 }, kind: "param", frozen: false, decay: shape.length > 1 };
    params.push(info);
    return b.param(info);
  };
  const linear = (x: ValueId, name: string, i: number, o: number) => b.binary("add", b.matmul(x, P(`${name}.w`, [i, o])), P(`${name}.b`, [o], 0));
  const ln = (x: ValueId, name: string) => layerNorm(b, x, P(`${name}.g`, [cfg.width], 1), P(`${name}.b`, [cfg.width], 0));

  const { batch: B, frames: T, width: D, heads: H } = cfg;
  const side = cfg.size / cfg.patch;
  const L = side * side;
  const video = b.input("video", [B, 3, T, cfg.size, cfg.size]);
  const label = b.input("label", [B, cfg.classes]);
  const patches = b.conv3d(video, P("patch.w", [D, 3, 1, cfg.patch, cfg.patch]), { stride: [1, cfg.patch, cfg.patch] }, { name: "patch" });
  let tokens = b.reshape(b.permute(patches, [0, 2, 3, 4, 1]), [B * T, L, D]);
  const cls = b.broadcast(P("cls", [1, 1, D]), [B * T, 1, D]);
  let x = b.binary("add", b.concat([cls, tokens], 1), P("pos", [L + 1, D]));
  x = ln(x, "ln_pre");
  const hidden = Math.floor(D / 1.5);
  const layerOutputs: ValueId[] = [];
  for (let l = 0; l < cfg.layers; l++) {
    const name = `blocks.${l}`;
    b.provenance = { name };
    tokens = b.slice(x, [0, 1, 0], [B * T, L + 1, D]);
    let v = b.permute(b.reshape(tokens, [B, T, side, side, D]), [0, 4, 1, 2, 3]);
    v = batchNormTrain(b, v, P(`${name}.lmhra.bn.g`, [D], 1), P(`${name}.lmhra.bn.b`, [D], 0));
    v = b.conv3d(v, P(`${name}.lmhra.down`, [hidden, D, 1, 1, 1]));
    v = b.conv3d(v, P(`${name}.lmhra.dw`, [hidden, 1, 3, 1, 1]), { padding: [1, 0, 0], groups: hidden });
    v = b.conv3d(v, P(`${name}.lmhra.up`, [D, hidden, 1, 1, 1]));
    const local = b.reshape(b.permute(v, [0, 2, 3, 4, 1]), [B * T, L, D]);
    x = b.binary("add", x, b.concat([b.constant(0, [B * T, 1, D]), local], 1));
    x = b.binary("add", x, multiHeadAttention(b, ln(x, `${name}.ln1`), P(`${name}.attn.qkv`, [D, 3 * D]), P(`${name}.attn.out`, [D, D]), H));
    const mlp = linear(quickGelu(b, linear(ln(x, `${name}.ln2`), `${name}.fc1`, D, 4 * D)), `${name}.fc2`, 4 * D, D);
    x = b.binary("add", x, mlp);
    layerOutputs.push(x);
  }
  let query = P("global.query", [1, D]);
  for (let g = 0; g < cfg.globalLayers; g++) {
    const name = `global.${g}`;
    b.provenance = { name };
    const feats = b.reshape(layerOutputs[cfg.layers - cfg.globalLayers + g]!, [B, T * (L + 1), D]);
    const kv = ln(feats, `${name}.ln_kv`);
    const q = b.reshape(ln(query, `${name}.ln_q`), [b.shapeOf(query)[0]!, 1, D]);
    const att = attention(b, q, b.matmul(kv, P(`${name}.wk`, [D, D])), b.matmul(kv, P(`${name}.wv`, [D, D])));
    const gate = b.unary("tanh", P(`${name}.gate`, [1], 0.5));
    let qb = b.binary("add", q, b.binary("mul", gate, att));
    qb = b.binary("add", qb, linear(quickGelu(b, linear(ln(qb, `${name}.ln_mlp`), `${name}.fc1`, D, 2 * D)), `${name}.fc2`, 2 * D, D));
    query = b.reshape(qb, [B, D]);
  }
  b.provenance = { name: "head" };
  const clsFinal = b.reshape(b.slice(x, [0, 0, 0], [B * T, 1, D]), [B, T, D]);
  const pooled = b.binary("add", b.binary("div", b.reduce("sum", clsFinal, [1]), b.constant(T)), query);
  const logits = linear(ln(pooled, "head.ln"), "head.fc", D, cfg.classes);
  const logp = b.unary("log", softmax(b, logits));
  const loss = b.binary("div", b.unary("neg", b.reduce("sum", b.binary("mul", logp, label), [0, 1])), b.constant(B));
  b.output("logits", logits);
  b.output("loss", loss);
  return { graph: b.build(), params };
}
