/**
 * Softmax and LayerNorm over the last axis, forward and backward, as row programs; the LayerNorm
 * parameter gradients as per-chunk partial column sums plus a small strided reduction.
 *
 * Buffer names (bindings) are fixed per kernel and listed on each generator.
 */
import { f32Lit, type AdapterProfile, type Kernel } from "./kernel.ts";
import { columnPartials, stridedReduce } from "./reduce.ts";
import { rowProgram } from "./row-program.ts";

export interface RowShape {
  readonly rows: number;
  readonly length: number;
  readonly name?: string;
  readonly source?: readonly string[];
  /** Force a schedule (tests); default follows the profile. */
  readonly workgroupPerRow?: boolean;
}

/** y = softmax(x * scale) over the last axis. Bindings: x -> y. */
export function softmax(p: RowShape & { scale?: number }, profile: AdapterProfile): Kernel {
  const s = f32Lit(p.scale ?? 1);
  return rowProgram(
    {
      name: p.name ?? `softmax_${p.rows}x${p.length}`,
      description: `softmax(x * ${s}) over the last axis`,
      rows: p.rows,
      length: p.length,
      inputs: ["x"],
      outputs: ["y"],
      passes: [
        { reduce: [{ name: "m", op: "max", expr: `v_x * ${s}` }] },
        { reduce: [{ name: "z", op: "sum", expr: `exp(v_x * ${s} - m)` }], then: ["let inv = 1.0 / z;"] },
        { store: [{ buffer: "y", expr: `exp(v_x * ${s} - m) * inv` }] },
      ],
      source: p.source,
    },
    profile,
    p.workgroupPerRow,
  );
}

/** dx = scale * y * (dy - sum(dy * y)). Bindings: y, dy -> dx. */
export function softmaxBackward(p: RowShape & { scale?: number }, profile: AdapterProfile): Kernel {
  const s = f32Lit(p.scale ?? 1);
  return rowProgram(
    {
      name: p.name ?? `softmax_bwd_${p.rows}x${p.length}`,
      description: "softmax backward",
      rows: p.rows,
      length: p.length,
      inputs: ["y", "dy"],
      outputs: ["dx"],
      passes: [{ reduce: [{ name: "d", op: "sum", expr: "v_dy * v_y" }] }, { store: [{ buffer: "dx", expr: `${s} * v_y * (v_dy - d)` }] }],
      source: p.source,
    },
    profile,
    p.workgroupPerRow,
  );
}

export interface LayerNormParams extends RowShape {
  readonly eps: number;
  /** Adds a residual first: h = x + res is normalised and also written out (the residual stream). */
  readonly residual?: boolean;
}

/**
 * y = (h - mean) * rstd * gamma + beta with h = x (+ res). Bindings: x, [res], gamma, beta -> y,
 * [h], mean, rstd (mean/rstd per row, saved for the backward).
 */
export function layerNorm(p: LayerNormParams, profile: AdapterProfile): Kernel {
  const N = f32Lit(p.length);
  const h = p.residual ? "(v_x + v_res)" : "v_x";
  return rowProgram(
    {
      name: p.name ?? `layernorm_${p.rows}x${p.length}${p.residual ? "_residual" : ""}`,
      description: `LayerNorm(eps=${p.eps})${p.residual ? " of x + res" : ""}, two-pass variance`,
      rows: p.rows,
      length: p.length,
      inputs: p.residual ? ["x", "res"] : ["x"],
      vectors: ["gamma", "beta"],
      outputs: p.residual ? ["y", "h"] : ["y"],
      rowOutputs: ["mean", "rstd"],
      passes: [
        { reduce: [{ name: "s", op: "sum", expr: h }], then: [`let mu = s / ${N};`] },
        { lets: [`let c = ${h} - mu;`], reduce: [{ name: "q", op: "sum", expr: "c * c" }], then: [`let rs = inverseSqrt(q / ${N} + ${f32Lit(p.eps)});`] },
        {
          lets: [`let hv = ${h};`],
          store: [{ buffer: "y", expr: "(hv - mu) * rs * gamma[j] + beta[j]" }, ...(p.residual ? [{ buffer: "h", expr: "hv" }] : [])],
          rowStore: [
            { buffer: "mean", expr: "mu" },
            { buffer: "rstd", expr: "rs" },
          ],
        },
      ],
      source: p.source,
    },
    profile,
    p.workgroupPerRow,
  );
}

export interface LayerNormBackwardParams extends RowShape {
  /** Adds an incoming gradient of the LayerNorm input (the residual stream's other branch) into dx. */
  readonly addGrad?: boolean;
  /** Rows per partial sum of dGamma/dBeta. */
  readonly chunkRows?: number;
}

/**
 * Three kernels, in order:
 *   dx:        x, dy, gamma, mean, rstd, [dres] -> dx
 *   partials:  x, dy, mean, rstd -> pgamma, pbeta   ([chunks, length] partial column sums)
 *   finalize:  pgamma -> dgamma, then pbeta -> dbeta (two dispatches of one strided reduction)
 * `chunks` is the row count of the partial buffers.
 */
export function layerNormBackward(p: LayerNormBackwardParams, profile: AdapterProfile): { kernels: Kernel[]; chunks: number } {
  const N = f32Lit(p.length);
  const base = p.name ?? `layernorm_bwd_${p.rows}x${p.length}`;
  const dx = rowProgram(
    {
      name: `${base}_dx`,
      description: "LayerNorm backward, dx = rstd * (g - mean(g) - xhat * mean(g * xhat)), g = dy * gamma",
      rows: p.rows,
      length: p.length,
      inputs: p.addGrad ? ["x", "dy", "dres"] : ["x", "dy"],
      vectors: ["gamma"],
      rowInputs: ["mean", "rstd"],
      outputs: ["dx"],
      passes: [
        {
          lets: ["let xh = (v_x - r_mean) * r_rstd;", "let g = v_dy * gamma[j];"],
          reduce: [
            { name: "sg", op: "sum", expr: "g" },
            { name: "sgx", op: "sum", expr: "g * xh" },
          ],
          then: [`let c1 = sg / ${N};`, `let c2 = sgx / ${N};`],
        },
        {
          lets: ["let xh = (v_x - r_mean) * r_rstd;"],
          store: [{ buffer: "dx", expr: `r_rstd * (v_dy * gamma[j] - c1 - xh * c2)${p.addGrad ? " + v_dres" : ""}` }],
        },
      ],
      source: p.source,
    },
    profile,
    p.workgroupPerRow,
  );
  const chunkRows = p.chunkRows ?? 32;
  const partials = columnPartials({
    name: `${base}_partials`,
    rows: p.rows,
    length: p.length,
    chunkRows,
    inputs: ["x", "dy"],
    rowInputs: ["mean", "rstd"],
    sums: [
      { buffer: "pgamma", expr: "v_dy * (v_x - r_mean) * r_rstd" },
      { buffer: "pbeta", expr: "v_dy" },
    ],
    source: p.source,
  });
  const chunks = Math.ceil(p.rows / chunkRows);
  const finalize = stridedReduce(
    { name: `${base}_param_sum`, outer: 1, length: chunks, inner: p.length, op: "sum", inputName: "partial", outputName: "total", source: p.source },
    profile,
  );
  return { kernels: [dx, partials, finalize], chunks };
}
