/**
 * The optimizers, in TypeScript: what the CPU engine runs, and the reference the GPU optimizer kernel
 * is tested against. Every update follows PyTorch (torch.optim, torch.nn.utils.clip_grad_norm_)
 * exactly in float64 arithmetic; parameters and state are stored as float32 after each update, so a
 * float32 kernel agrees to rounding (a few ulps per step), not bit for bit.
 *
 * AdamW (torch.optim.AdamW, amsgrad off), step t = 1, 2, ...:
 *   p <- p * (1 - lr * wd)                       decoupled decay, skipped where ParamInfo.decay is false
 *   m <- b1 * m + (1 - b1) * g
 *   v <- b2 * v + (1 - b2) * g^2
 *   p <- p - (lr / (1 - b1^t)) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)
 *
 * SGD (torch.optim.SGD):
 *   g <- g + wd * p                              coupled decay (L2), skipped where decay is false
 *   buf <- g at t = 1, else momentum * buf + (1 - dampening) * g
 *   g <- g + momentum * buf (nesterov) or buf
 *   p <- p - lr * g
 *
 * Gradient clipping by global norm (clip_grad_norm_, L2): norm = sqrt(sum of g^2 over every trainable
 * gradient); when norm > max, every gradient is multiplied by max / (norm + 1e-6).
 *
 * Layer-wise LR decay (BEiT / VideoMAE fine-tuning): lr_p = lr * decay^(L + 1 - id(p)), L the number of
 * blocks, id 0 for the embedding (patch/position/class embeddings, ln_pre), id k + 1 for block k, and
 * L + 1 (scale 1) for everything after the blocks (head, final norms). See `layerLrScales`.
 *
 * EMA of weights (timm ModelEmaV2): ema <- d * ema + (1 - d) * p after every update.
 */
import { UserError } from "../../cli/errors.ts";
import type { CallSpec } from "../../compiler/elaborate/stage.ts";

export interface OptimizerSpec {
  readonly kind: "adamw" | "sgd";
  readonly lr: number;
  readonly weightDecay: number;
  readonly betas: readonly [number, number];
  readonly eps: number;
  readonly momentum: number;
  readonly dampening: number;
  readonly nesterov: boolean;
  /** 1 = one LR for all parameters. */
  readonly layerDecay: number;
}

export interface TrainableParam {
  readonly path: string;
  /** False for biases, norms and other 1-D parameters (ParamInfo.decay). */
  readonly decay: boolean;
  /** Layer-wise LR scale; 1 without layer decay. */
  readonly lrScale: number;
}

const OPTIMIZER_ARGS: Readonly<Record<OptimizerSpec["kind"], readonly string[]>> = {
  adamw: ["lr", "weight_decay", "betas", "eps", "layer_decay"],
  sgd: ["lr", "weight_decay", "momentum", "dampening", "nesterov", "layer_decay"],
};

function numberArg(call: CallSpec, key: string, fallback: number): number {
  const v = call.args[key];
  if (v === undefined) return fallback;
  if (typeof v !== "number" || !Number.isFinite(v)) {
    throw new UserError(`optim ${call.name}: \`${key}\` must be a number, got ${JSON.stringify(v)}`, `fix the stage's \`optim\` line in ${call.span.file}:${call.span.line}`);
  }
  return v;
}

/** Reads the stage's `optim` call (adamw or sgd) into a spec; `lr` overrides the spec's LR. */
export function optimizerFromCall(call: CallSpec | undefined, lrOverride?: number): OptimizerSpec {
  if (!call) {
    throw new UserError("this stage has no `optim` line", "add e.g. `optim adamw(lr = 1e-3, weight_decay = 0.05)` to the train stage");
  }
  const kind = call.name === "adamw" || call.name === "sgd" ? call.name : undefined;
  const where = `${call.span.file}:${call.span.line}`;
  if (!kind) throw new UserError(`unknown optimizer \`${call.name}\` (${where})`, "the optimizers are adamw and sgd");
  for (const key of Object.keys(call.args)) {
    if (!OPTIMIZER_ARGS[kind].includes(key)) {
      throw new UserError(`optim ${kind}: unknown argument \`${key}\` (${where})`, `${kind} takes ${OPTIMIZER_ARGS[kind].join(", ")}`);
    }
  }
  const betas = call.args.betas ?? [0.9, 0.999];
  if (!Array.isArray(betas) || betas.length !== 2 || !betas.every((b) => typeof b === "number" && b >= 0 && b < 1)) {
    throw new UserError(`optim ${kind}: \`betas\` must be two numbers in [0, 1), got ${JSON.stringify(betas)} (${where})`);
  }
  const nesterov = call.args.nesterov ?? false;
  if (typeof nesterov !== "boolean") throw new UserError(`optim ${kind}: \`nesterov\` must be true or false (${where})`);
  const lr = lrOverride ?? numberArg(call, "lr", Number.NaN);
  if (!(lr > 0)) throw new UserError(`optim ${kind}: the learning rate must be positive, got ${lr} (${where})`, "set `lr = ...` in the optim line or pass --lr");
  const spec: OptimizerSpec = {
    kind,
    lr,
    weightDecay: numberArg(call, "weight_decay", kind === "adamw" ? 0.01 : 0),
    betas: [betas[0] as number, betas[1] as number],
    eps: numberArg(call, "eps", 1e-8),
    momentum: numberArg(call, "momentum", 0),
    dampening: numberArg(call, "dampening", 0),
    nesterov,
    layerDecay: numberArg(call, "layer_decay", 1),
  };
  if (!(spec.layerDecay > 0 && spec.layerDecay <= 1)) throw new UserError(`optim ${kind}: \`layer_decay\` must be in (0, 1], got ${spec.layerDecay} (${where})`);
  return spec;
}

const EMBEDDING = /(^|\.)(patch_embed|pos_embed|positional_embedding|class_embedding|cls_token|conv1|ln_pre|embeddings?)(\.|$)/;
const BLOCK = /(^|\.)(blocks|resblocks|layers)\.(\d+)(\.|$)/;

/** Layer ids and LR scales decay^(L + 1 - id) for layer-wise LR decay; all 1 when decay is 1. */
export function layerLrScales(paths: readonly string[], decay: number): Map<string, number> {
  const ids = new Map<string, number | "top">();
  let blocks = 0;
  for (const path of paths) {
    const block = BLOCK.exec(path);
    if (block) {
      const k = Number(block[3]);
      blocks = Math.max(blocks, k + 1);
      ids.set(path, k + 1);
    } else ids.set(path, EMBEDDING.test(path) ? 0 : "top");
  }
  return new Map(paths.map((p) => {
    const id = ids.get(p)!;
    return [p, decay === 1 || id === "top" ? 1 : decay ** (blocks + 1 - id)];
  }));
}

/** Global L2 norm of the gradients; scales them in place when it exceeds `maxNorm` (> 0). */
export function clipGradNorm(grads: readonly Float32Array[], maxNorm: number): { norm: number; scale: number } {
  let sumSquares = 0;
  for (const g of grads) for (let i = 0; i < g.length; i++) sumSquares += g[i]! * g[i]!;
  const norm = Math.sqrt(sumSquares);
  const scale = maxNorm > 0 && norm > maxNorm ? maxNorm / (norm + 1e-6) : 1;
  if (scale !== 1) for (const g of grads) for (let i = 0; i < g.length; i++) g[i] = g[i]! * scale;
  return { norm, scale };
}

/** Optimizer state keys in checkpoints, named after PyTorch's state entries. */
export const STATE_PREFIXES = ["optim.exp_avg:", "optim.exp_avg_sq:", "optim.momentum_buffer:", "ema:"] as const;

export class Optimizer {
  /** Per trainable parameter only: frozen parameters have no state at all. */
  readonly state = new Map<string, Float32Array>();
  private readonly params: ReadonlyMap<string, TrainableParam>;

  constructor(
    readonly spec: OptimizerSpec,
    params: readonly TrainableParam[],
    sizes: ReadonlyMap<string, number>,
  ) {
    this.params = new Map(params.map((p) => [p.path, p]));
    for (const p of params) {
      const n = sizes.get(p.path)!;
      if (spec.kind === "adamw") {
        this.state.set(`optim.exp_avg:${p.path}`, new Float32Array(n));
        this.state.set(`optim.exp_avg_sq:${p.path}`, new Float32Array(n));
      } else if (spec.momentum !== 0) this.state.set(`optim.momentum_buffer:${p.path}`, new Float32Array(n));
    }
  }

  /** One update of every trainable parameter in `values`; `t` counts updates from 1. */
  update(values: ReadonlyMap<string, Float32Array>, grads: ReadonlyMap<string, Float32Array>, lr: number, t: number): void {
    for (const [path, p] of this.params) {
      const w = values.get(path)!;
      const g = grads.get(path);
      if (!g) throw new Error(`no gradient for trainable parameter ${path}`);
      const plr = lr * p.lrScale;
      const wd = p.decay ? this.spec.weightDecay : 0;
      if (this.spec.kind === "adamw") this.adamw(path, w, g, plr, wd, t);
      else this.sgd(path, w, g, plr, wd, t);
    }
  }

  private adamw(path: string, w: Float32Array, g: Float32Array, lr: number, wd: number, t: number): void {
    const m = this.state.get(`optim.exp_avg:${path}`)!;
    const v = this.state.get(`optim.exp_avg_sq:${path}`)!;
    const [b1, b2] = this.spec.betas;
    const eps = this.spec.eps;
    const stepSize = lr / (1 - b1 ** t);
    const bias2Sqrt = Math.sqrt(1 - b2 ** t);
    const decay = 1 - lr * wd;
    for (let i = 0; i < w.length; i++) {
      const gi = g[i]!;
      const mi = b1 * m[i]! + (1 - b1) * gi;
      const vi = b2 * v[i]! + (1 - b2) * gi * gi;
      m[i] = mi;
      v[i] = vi;
      w[i] = w[i]! * decay - (stepSize * mi) / (Math.sqrt(vi) / bias2Sqrt + eps);
    }
  }

  private sgd(path: string, w: Float32Array, g: Float32Array, lr: number, wd: number, t: number): void {
    const { momentum, dampening, nesterov } = this.spec;
    const buf = this.state.get(`optim.momentum_buffer:${path}`);
    for (let i = 0; i < w.length; i++) {
      let d = g[i]! + wd * w[i]!;
      if (buf) {
        const b = t === 1 ? d : momentum * buf[i]! + (1 - dampening) * d;
        buf[i] = b;
        d = nesterov ? d + momentum * b : b;
      }
      w[i] = w[i]! - lr * d;
    }
  }
}

/** Exponential moving average of the trainable weights, kept as `ema:<path>`. */
export class WeightEma {
  readonly state = new Map<string, Float32Array>();

  constructor(
    readonly decay: number,
    initial: ReadonlyMap<string, Float32Array>,
  ) {
    for (const [path, w] of initial) this.state.set(`ema:${path}`, Float32Array.from(w));
  }

  update(values: ReadonlyMap<string, Float32Array>): void {
    const d = this.decay;
    for (const [key, e] of this.state) {
      const w = values.get(key.slice(4))!;
      for (let i = 0; i < e.length; i++) e[i] = d * e[i]! + (1 - d) * w[i]!;
    }
  }
}
