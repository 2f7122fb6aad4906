/**
 * The graph IR: the one contract between the front end (grammar, resolve, elaborate) and the back end
 * (autodiff, fusion, codegen, runtime, reference interpreter).
 *
 * A graph is a list of nodes in topological order. Every node produces one tensor. Shapes are fully
 * known after elaboration except for symbolic dims (usually the batch `B`), which the runtime binds.
 * Every node keeps the `.ivm` spans it came from, through every pass, so a kernel can name its source.
 *
 * Adding a primitive means touching four places and nothing else:
 *   shape rule        compiler/ir/shape-rules.ts
 *   CPU reference     compiler/interp/
 *   VJP rule          compiler/autodiff/vjp-rules.ts
 *   WGSL lowering     compiler/codegen/
 */
import type { Span } from "../../diagnostics/span.ts";
import type { Dim, Shape } from "./dims.ts";

export type { Dim, Shape };

export type DType = "f32" | "i32" | "bool";

export type ValueId = number;

export const UNARY_OPS = [
  "neg",
  "abs",
  "exp",
  "log",
  "sqrt",
  "rsqrt",
  "recip",
  "tanh",
  "sigmoid",
  "erf",
  "sin",
  "cos",
  "floor",
  "sign",
  "relu",
] as const;
export type UnaryOp = (typeof UNARY_OPS)[number];

export const BINARY_OPS = ["add", "sub", "mul", "div", "max", "min", "pow"] as const;
export type BinaryOp = (typeof BINARY_OPS)[number];

export const COMPARE_OPS = ["lt", "le", "gt", "ge", "eq", "ne"] as const;
export type CompareOp = (typeof COMPARE_OPS)[number];

export const REDUCE_OPS = ["sum", "max"] as const;
export type ReduceOp = (typeof REDUCE_OPS)[number];

/** Parameter initialisers, as written in `@init(...)`. */
export type Init =
  | { kind: "zeros" }
  | { kind: "ones" }
  | { kind: "constant"; value: number }
  | { kind: "normal"; std: number; mean: number }
  | { kind: "trunc_normal"; std: number; mean: number; a: number; b: number }
  | { kind: "uniform"; low: number; high: number }
  | { kind: "xavier_uniform"; fanIn: number; fanOut: number }
  | { kind: "kaiming_uniform"; fanIn: number; a: number }
  | { kind: "sinusoidal"; positions: number; dim: number };

export type Op =
  /** A graph input, fed by the caller (video clip, labels, ...). */
  | { kind: "input"; name: string }
  /** A learnable parameter or a buffer (running stats, fixed tables), named by its dotted path. */
  | { kind: "param"; path: string }
  /** A scalar or small literal tensor; `value` is row-major and has numel(shape) entries (or 1, splat). */
  | { kind: "const"; value: readonly number[] }
  /** Counter-based random numbers (Philox-style hash of seed, stream and element index). */
  | { kind: "random"; dist: "uniform" | "normal" | "bernoulli"; p: number; stream: number }
  /** `arange` along one axis, broadcast over the rest; used for index maths and masks. */
  | { kind: "iota"; axis: number }
  | { kind: "unary"; op: UnaryOp }
  | { kind: "binary"; op: BinaryOp }
  | { kind: "compare"; op: CompareOp }
  /** where(cond, a, b) */
  | { kind: "where" }
  | { kind: "cast"; to: DType }
  /** Reduces `axes`; with keepdims the reduced axes stay as size 1. */
  | { kind: "reduce"; op: ReduceOp; axes: readonly number[]; keepdims: boolean }
  /** [..., M, K] x [..., K, N] -> [..., M, N]; leading batch dims broadcast. */
  | { kind: "matmul" }
  /**
   * x [N, C, T, H, W] (x) w [O, C/groups, kT, kH, kW] -> [N, O, T', H', W'], no bias (add it after).
   */
  | {
      kind: "conv3d";
      stride: readonly [number, number, number];
      padding: readonly [number, number, number];
      dilation: readonly [number, number, number];
      groups: number;
    }
  | { kind: "reshape"; shape: Shape }
  | { kind: "permute"; perm: readonly number[] }
  /** Half-open [start, end) per axis with a positive step. */
  | { kind: "slice"; starts: readonly number[]; ends: readonly Dim[]; steps: readonly number[] }
  | { kind: "concat"; axis: number }
  /** Constant padding: before/after counts per axis. */
  | { kind: "pad"; before: readonly number[]; after: readonly number[]; value: number }
  /** Expands size-1 axes (and prepends axes) to `shape`. */
  | { kind: "broadcast"; shape: Shape }
  /** out[..., i, ...] = table[..., index[i], ...] along `axis`; index is i32 of any rank, spliced in. */
  | { kind: "gather"; axis: number }
  /** The adjoint of gather: zeros of `shape` with `src` rows added at `index` along `axis`. */
  | { kind: "scatter_add"; axis: number; shape: Shape }
  /**
   * Scaled dot-product attention over the last two axes, softmax(q k^T * scale) v, never storing the
   * [..., M, N] scores: q [..., M, D], k [..., N, D], v [..., N, Dv] -> [..., M, Dv], leading dims
   * equal. `causal` masks key j for query i when j > i (PyTorch's `is_causal`, aligned top-left).
   * `heads_last` lays the result out [..., M, H, Dv] (H the last leading axis): the head merge before
   * an output projection then reads it as a plain reshape (the scheduler sets it, see
   * compiler/schedule/attention-layout.ts).
   */
  | ({ kind: "attention"; readonly heads_last?: boolean } & AttentionAttrs)
  /**
   * The two numbers per query the attention backward recomputes probabilities and their gradient
   * from: (q, k, o, dO) -> [..., M, 2] holding logsumexp_j(q k_j^T * scale) and rowsum(dO * o).
   */
  | ({ kind: "attention_stats" } & AttentionAttrs)
  /** The attention backward for q: (q, k, v, dO, stats) -> dq [..., M, D]. */
  | ({ kind: "attention_grad_q" } & AttentionAttrs)
  /** The attention backward for k and v, side by side: (q, k, v, dO, stats) -> [..., N, D + Dv]. */
  | ({ kind: "attention_grad_kv" } & AttentionAttrs);

/** What every op of the attention family carries. */
export interface AttentionAttrs {
  readonly scale: number;
  readonly causal: boolean;
}

export const ATTENTION_OPS = ["attention", "attention_stats", "attention_grad_q", "attention_grad_kv"] as const;
export type AttentionOp = (typeof ATTENTION_OPS)[number];

export type OpKind = Op["kind"];

export interface Node {
  readonly id: ValueId;
  readonly op: Op;
  readonly inputs: readonly ValueId[];
  readonly shape: Shape;
  readonly dtype: DType;
  /** The `.ivm` spans this node came from (several after CSE or fusion). */
  readonly spans: readonly Span[];
  /** A readable name for printers and kernel comments, e.g. `blocks.3.attn.softmax`. */
  readonly name?: string;
}

export interface ParamInfo {
  readonly path: string;
  readonly shape: Shape;
  readonly dtype: DType;
  readonly init: Init;
  /** Buffers (BatchNorm running stats, fixed tables) are state, never trained. */
  readonly kind: "param" | "buffer";
  readonly frozen: boolean;
  /** True when weight decay applies (AdamW skips biases and 1-D parameters). */
  readonly decay: boolean;
  readonly span?: Span;
}

export interface InputInfo {
  readonly name: string;
  readonly shape: Shape;
  readonly dtype: DType;
}

export interface Graph {
  readonly nodes: readonly Node[];
  readonly params: readonly ParamInfo[];
  readonly inputs: readonly InputInfo[];
  /** Named results (logits, loss, updated running stats as `state:<path>`, gradients as `grad:<path>`). */
  readonly outputs: readonly { readonly name: string; readonly id: ValueId }[];
}
