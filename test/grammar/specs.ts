/** Valid .ivm sources shared by the grammar tests. */

/** Small specs touching every construct; the property tests mutate them. */
export const VALID_SNIPPETS = [
  `import { LayerNorm, Linear as Dense } from "std/nn"
config C { frames: int = 8, size: int = 224, ids: list[int] = [1, 2] }
preset tiny: C { size = 32 }`,
  `module Block(dim: int, ratio: float = 1.5) {
  let hidden = floor(dim / ratio)
  norm = LayerNorm(dim, eps = 1e-5)
  @init(zeros) up = Linear(hidden, dim)
  param w: f32[dim, dim] @init(trunc_normal(std = 0.02))
  if ratio > 1.0 { buffer b: f32[dim] @init(zeros) } else { let z = 0 }
  for i in 0..4 { blocks[i] = Mlp(dim) }
  forward(x: f32[B, N, dim], m: bool[B, N]) -> (f32[B, N, dim], f32[..., dim]) {
    let (q, k) = split(x, 2, axis = -1)
    x = x + blocks[0](norm(x))[:, 1:, ::2] @ w ** -1
    if not (a and b or c != d) { x = -x } else if e { x = x % 2 }
    for j in 0..2 { x = x * 0.5 }
    return (x, x[..., :dim])
  }
}`,
  `train stage s for Net extends base {
  freeze a, b.c, d.3.e, f.*.g
  unfreeze b.c.1
  data synthetic(frames = 8)
  loss CrossEntropy(smoothing = 0.1)(model(clip), label)
  steps 200; batch 4
  ema 0.9999
}`,
];

/**
 * UniFormerV2 (fact sheet 1.6-1.8): the Local UniBlock with LMHRA, the Global UniBlock, the model with
 * its layer loops, presets and train stages.
 */
export const UNIFORMERV2_SPEC = `
import { LayerNorm, Linear, BatchNorm3d, Conv3d, DepthwiseConv3d, CLIPAttention, CrossAttention } from "std/nn"
import { CrossEntropy } from "std/losses"

config UniFormerV2 {
  frames: int = 8
  size: int = 224
  patch: int = 16
  width: int = 768
  layers: int = 12
  heads: int = 12
  return_list: list[int] = [8, 9, 10, 11]
  lmhra: bool = false
  double_lmhra: bool = true
  lmhra_hidden: int = 512
  drop_path: float = 0.0
  classes: int = 400
  frozen: bool = false
}

preset k400_b16: UniFormerV2 { }
preset tiny: UniFormerV2 { size = 32, patch = 8, width = 64, layers = 4, heads = 4, return_list = [2, 3], classes = 10 }

// LMHRA: BN -> 1x1x1 down -> depthwise (3,1,1) temporal conv -> 1x1x1 up (zero-initialised), no nonlinearity.
module LocalTemporalMHRA(dim: int, hidden: int) {
  norm = BatchNorm3d(dim, eps = 1e-5, momentum = 0.1)
  down = Conv3d(dim, hidden, kernel = [1, 1, 1])
  conv = DepthwiseConv3d(hidden, kernel = [3, 1, 1], padding = [1, 0, 0])
  @init(zeros) up = Conv3d(hidden, dim, kernel = [1, 1, 1])
  forward(x: f32[B, dim, T, G, G]) -> f32[B, dim, T, G, G] = up(conv(down(norm(x))))
}

module LocalUniBlock(dim: int, heads: int, frames: int, grid: int, drop: float, lmhra: bool, double_lmhra: bool, hidden: int) {
  if lmhra {
    lmhra1 = LocalTemporalMHRA(dim, hidden)
    if double_lmhra { lmhra2 = LocalTemporalMHRA(dim, hidden) }
  }
  ln_1 = LayerNorm(dim, eps = 1e-5)
  attn = CLIPAttention(dim, heads)
  ln_2 = LayerNorm(dim, eps = 1e-5)
  c_fc = Linear(dim, 4 * dim)
  c_proj = Linear(4 * dim, dim)

  forward(x: f32[N, 1 + grid*grid, dim]) -> f32[N, 1 + grid*grid, dim] {
    if lmhra {
      let cls = x[:, :1]
      let patch = rearrange(x[:, 1:], "(b t) (h w) c -> b c t h w", t = frames, h = grid)
      patch = patch + drop_path(lmhra1(patch), drop)
      x = concat([cls, rearrange(patch, "b c t h w -> (b t) (h w) c")], axis = 1)
    }
    x = x + drop_path(attn(ln_1(x)), drop)
    if lmhra and double_lmhra {
      let cls = x[:, :1]
      let patch = rearrange(x[:, 1:], "(b t) (h w) c -> b c t h w", t = frames, h = grid)
      patch = patch + drop_path(lmhra2(patch), drop)
      x = concat([cls, rearrange(patch, "b c t h w -> (b t) (h w) c")], axis = 1)
    }
    return x + drop_path(c_proj(quick_gelu(c_fc(ln_2(x)))), drop)
  }
}

// Global UniBlock: DPE on the patch tokens, then one query token cross-attends to all frames' tokens.
module GlobalUniBlock(dim: int, heads: int, frames: int, grid: int, drop: float) {
  @init(zeros) dpe = DepthwiseConv3d(dim, kernel = [3, 3, 3], padding = [1, 1, 1])
  ln_1 = LayerNorm(dim)
  ln_3 = LayerNorm(dim)
  attn = CrossAttention(dim, heads)
  ln_2 = LayerNorm(dim)
  c_fc = Linear(dim, 4 * dim, init = "xavier")
  c_proj = Linear(4 * dim, dim, init = "zeros")

  forward(q: f32[B, 1, dim], x: f32[B * frames, 1 + grid*grid, dim]) -> f32[B, 1, dim] {
    let patch = rearrange(x[:, 1:], "(b t) (h w) c -> b c t h w", t = frames, h = grid)
    patch = patch + dpe(patch)
    let tokens = concat([x[:, :1], rearrange(patch, "b c t h w -> (b t) (h w) c")], axis = 1)
    let kv = rearrange(tokens, "(b t) l c -> b (t l) c", t = frames)
    q = q + drop_path(attn(ln_1(q), ln_3(kv)), drop)
    return q + drop_path(c_proj(dropout(quick_gelu(c_fc(ln_2(q))), 0.5)), drop)
  }
}

model UniFormerV2Net(cfg: UniFormerV2) {
  let grid = cfg.size / cfg.patch
  let tokens = grid * grid + 1
  conv1 = Conv3d(3, cfg.width, kernel = [1, cfg.patch, cfg.patch], stride = [1, cfg.patch, cfg.patch], has_bias = false)
  param class_embedding: f32[cfg.width] @init(normal(std = 0.02))
  param positional_embedding: f32[tokens, cfg.width] @init(normal(std = 0.01))
  ln_pre = LayerNorm(cfg.width)
  for i in 0..cfg.layers {
    resblocks[i] = LocalUniBlock(cfg.width, cfg.heads, cfg.frames, grid, cfg.drop_path * i / max(cfg.layers - 1, 1), cfg.lmhra, cfg.double_lmhra, cfg.lmhra_hidden)
  }
  for j in 0..len(cfg.return_list) { dec[j] = GlobalUniBlock(cfg.width, cfg.heads, cfg.frames, grid, 0.0) }
  param temporal_cls_token: f32[1, 1, cfg.width] @init(zeros)
  if not cfg.frozen { @no_decay param balance: f32[cfg.width] @init(zeros) }
  norm = LayerNorm(cfg.width)
  head = Linear(cfg.width, cfg.classes)

  forward(video: f32[B, 3, cfg.frames, cfg.size, cfg.size]) -> f32[B, cfg.classes] {
    let x = rearrange(conv1(video), "b c t h w -> (b t) (h w) c")
    let cls = broadcast(reshape(class_embedding, [1, 1, cfg.width]), [dim(x, 0), 1, cfg.width])
    x = ln_pre(concat([cls, x], axis = 1) + positional_embedding)
    let q = broadcast(temporal_cls_token, [dim(video, 0), 1, cfg.width])
    let j = 0
    for i in 0..cfg.layers {
      x = resblocks[i](x)
      if j < len(cfg.return_list) {
        if i == cfg.return_list[j] {
          q = dec[j](q, x)
          j = j + 1
        }
      }
    }
    let fc = mean(rearrange(x[:, 0], "(b t) c -> b t c", t = cfg.frames), axis = 1)
    let z = reshape(q, [dim(q, 0), cfg.width])
    if not cfg.frozen {
      let w = sigmoid(balance)
      z = (1.0 - w) * z + w * fc
    }
    return head(dropout(norm(z), 0.5))
  }
}

train stage finetune for UniFormerV2Net {
  data synthetic_motion(frames = cfg.frames, size = cfg.size, classes = cfg.classes)
  loss CrossEntropy()(model(clip), label)
  optim adamw(lr = 1e-3, weight_decay = 0.05, betas = [0.9, 0.999])
  schedule cosine(warmup_steps = 50)
  steps 200
  batch 4
}

train stage frozen_backbone for UniFormerV2Net extends finetune {
  freeze conv1, class_embedding, positional_embedding, ln_pre, resblocks
  unfreeze resblocks.11.ln_2
  ema 0.9999
}
`;
