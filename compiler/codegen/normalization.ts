/**
 * Softmax and LayerNorm over the last axis, forward and backward, as row programs; the LayerNorm
 * parameter gradients as per-chunk partial column sums plus a small strided reduction.
 *
 * Buffer names (bindings) are fixed per kernel and listed on each generator.
 */
import { bindingDecls, f32Lit, grid1d, kernelHeader, LINEAR_WORKGROUP, simdLanes, storage, type AdapterProfile, type Kernel, type KernelBinding } from "./kernel.ts";
import { columnPartials, stridedReduce } from "./reduce.ts";
import { rowProgram, type RowSchedule } from "./row-program.ts";

export interface RowShape {
  readonly rows: number;
  readonly length: number;
  readonly name?: string;
  readonly source?: readonly string[];
  /** Force a schedule (tests, benchmarks); default follows the profile. */
  readonly schedule?: RowSchedule;
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
    p.schedule,
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
    p.schedule,
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
  const again = p.residual ? "h[base + j]" : "v_x";
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
      // With a residual, pass 1 writes h and later passes read it back: one load per element
      // instead of two (loads are what lavapipe charges for).
      passes: [
        { reduce: [{ name: "s", op: "sum", expr: h }], store: p.residual ? [{ buffer: "h", expr: h }] : [], then: [`let mu = s / ${N};`] },
        { lets: [`let c = ${again} - mu;`], reduce: [{ name: "q", op: "sum", expr: "c * c" }], then: [`let rs = inverseSqrt(q / ${N} + ${f32Lit(p.eps)});`] },
        {
          lets: [`let hv = ${again};`],
          store: [{ buffer: "y", expr: "(hv - mu) * rs * gamma[j] + beta[j]" }],
          rowStore: [
            { buffer: "mean", expr: "mu" },
            { buffer: "rstd", expr: "rs" },
          ],
        },
      ],
      source: p.source,
    },
    profile,
    p.schedule,
  );
}

export interface LayerNormBackwardParams extends RowShape {
  /** Adds an incoming gradient of the LayerNorm input (the residual stream's other branch) into dx. */
  readonly addGrad?: boolean;
  /** Rows per partial sum of dGamma/dBeta (separate-partials variant; the fused one uses 8). */
  readonly chunkRows?: number;
}

/**
 * The LayerNorm backward as dispatches, in order:
 *   dx:        x, dy, gamma, mean, rstd, [dres] -> dx   (the fused variant also writes pgamma, pbeta)
 *   partials:  x, dy, mean, rstd -> pgamma, pbeta        (absent when fused into dx)
 *   finalize:  partial -> total; run it twice, binding pgamma -> dgamma and pbeta -> dbeta
 * pgamma/pbeta hold `chunks` rows of partial column sums ([chunks, length]).
 */
export interface LayerNormBackwardKernels {
  readonly dx: Kernel;
  readonly partials?: Kernel;
  readonly finalize: Kernel;
  readonly chunks: number;
}

/**
 * On lavapipe with subgroups, dx and the dgamma/dbeta partials come from one pass: the 8 (or 16) lanes
 * of a workgroup own as many rows and `subgroupAdd` sums each column across them, so x and dy are read twice in
 * all instead of four times. Elsewhere the partials are a separate lane-per-column kernel.
 */
export function layerNormBackward(p: LayerNormBackwardParams, profile: AdapterProfile): LayerNormBackwardKernels {
  const base = p.name ?? `layernorm_bwd_${p.rows}x${p.length}`;
  const lanes = simdLanes(profile);
  if (lanes !== undefined && (p.schedule === undefined || p.schedule === "subgroup")) {
    const chunks = Math.ceil(p.rows / lanes);
    return { dx: fusedLayerNormBackward(p, base, chunks, lanes), finalize: paramSum(p, base, chunks, profile), chunks };
  }
  const { kernels, chunks } = separateLayerNormBackward(p, base, profile);
  return { dx: kernels[0], partials: kernels[1], finalize: kernels[2], chunks };
}

function paramSum(p: LayerNormBackwardParams, base: string, chunks: number, profile: AdapterProfile): Kernel {
  return stridedReduce(
    { name: `${base}_param_sum`, outer: 1, length: chunks, inner: p.length, op: "sum", inputName: "partial", outputName: "total", source: p.source },
    profile,
  );
}

function fusedLayerNormBackward(p: LayerNormBackwardParams, base: string, chunks: number, lanes: number): Kernel {
  const [R, N] = [p.rows, p.length];
  const name = `${base}_dx_partials`;
  const source = p.source ?? [];
  const bindings: KernelBinding[] = [
    storage("x", "read"),
    storage("dy", "read"),
    ...(p.addGrad ? [storage("dres", "read")] : []),
    storage("gamma", "read"),
    storage("mean", "read"),
    storage("rstd", "read"),
    storage("dx", "read_write"),
    storage("pgamma", "read_write"),
    storage("pbeta", "read_write"),
  ];
  const wgsl = `${kernelHeader(name, `LayerNorm backward [${R}, ${N}]: dx, plus dgamma/dbeta partial sums over each ${lanes} rows via subgroupAdd`, source, ["subgroups"])}
${bindingDecls(bindings)}

@compute @workgroup_size(${lanes})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lane: u32) {
  let chunk = ${LINEAR_WORKGROUP};
  if (chunk >= ${chunks}u) { return; }
  let rRaw = chunk * ${lanes}u + lane;
  // Lanes past the last row run on a copy of it (subgroupAdd needs all ${lanes}) and contribute zero.
  let valid = rRaw < ${R}u;
  let weight = select(0.0, 1.0, valid);
  let r = min(rRaw, ${R - 1}u);
  let base = r * ${N}u;
  let mu = mean[r];
  let rs = rstd[r];
  var sg = 0.0;
  var sgx = 0.0;
  for (var j = 0u; j < ${N}u; j++) {
    let g = dy[base + j] * gamma[j];
    sg += g;
    sgx += g * (x[base + j] - mu) * rs;
  }
  let c1 = sg / ${f32Lit(N)};
  let c2 = sgx / ${f32Lit(N)};
  for (var j = 0u; j < ${N}u; j++) {
    let dyv = dy[base + j];
    let xh = (x[base + j] - mu) * rs;
    if (valid) { dx[base + j] = rs * (dyv * gamma[j] - c1 - xh * c2)${p.addGrad ? " + dres[base + j]" : ""}; }
    let pg = subgroupAdd(weight * dyv * xh);
    let pb = subgroupAdd(weight * dyv);
    if (lane == 0u) {
      pgamma[chunk * ${N}u + j] = pg;
      pbeta[chunk * ${N}u + j] = pb;
    }
  }
}
`;
  return { name, wgsl, entryPoint: "main", workgroupSize: [lanes, 1, 1], dispatch: (n = chunks) => grid1d(n), bindings, source };
}

function separateLayerNormBackward(p: LayerNormBackwardParams, base: string, profile: AdapterProfile): { kernels: Kernel[]; chunks: number } {
  const N = f32Lit(p.length);
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
    p.schedule,
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
  return { kernels: [dx, partials, paramSum(p, base, chunks, profile)], chunks };
}
