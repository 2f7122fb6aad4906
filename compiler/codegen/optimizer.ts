/**
 * Optimizer updates over one packed parameter buffer: every trainable parameter lives at an offset
 * in `param` (and `grad`, and the moment buffers), so one dispatch updates them all. Per-parameter
 * metadata (weight-decay flag, lr scale) is a constant table; each workgroup handles a chunk that lies
 * inside one parameter, so metadata is read once per workgroup, not searched per element.
 *
 * Gradient clipping by global norm: `gradNorm()` writes ||grad|| to a one-element buffer that the
 * update reads, with no readback. The step counter and learning rate come from the dynamic buffer.
 */
import { bindingDecls, f32Lit, grid1d, kernelHeader, LINEAR_WORKGROUP, storage, type AdapterProfile, type Kernel, type KernelBinding } from "./kernel.ts";
import { stridedReduce } from "./reduce.ts";

export interface PackedParam {
  readonly offset: number;
  readonly length: number;
  readonly decay: boolean;
  /** Multiplies the learning rate (layer-wise lr decay, frozen-at-zero, ...). Default 1. */
  readonly lrScale?: number;
}

interface UpdateCommon {
  readonly params: readonly PackedParam[];
  readonly weightDecay: number;
  /** Clip the global gradient norm to this; the update then binds `norm` (from gradNorm). */
  readonly maxGradNorm?: number;
  readonly name?: string;
  readonly source?: readonly string[];
}

export interface AdamWParams extends UpdateCommon {
  readonly beta1: number;
  readonly beta2: number;
  readonly eps: number;
}

export interface SgdParams extends UpdateCommon {
  readonly momentum: number;
  readonly dampening?: number;
  readonly nesterov?: boolean;
}

const WG = 64;
const CHUNK = 1024;

/** [start, end, paramIndex] per workgroup, and [decay, lrScale bits] per parameter. */
function tables(params: readonly PackedParam[]): { chunks: Uint32Array; meta: Uint32Array; count: number } {
  const rows: number[] = [];
  params.forEach((p, i) => {
    for (let s = 0; s < p.length; s += CHUNK) rows.push(p.offset + s, p.offset + Math.min(s + CHUNK, p.length), i);
  });
  const meta = new Uint32Array(params.length * 2);
  const f = new Float32Array(1);
  params.forEach((p, i) => {
    f[0] = p.lrScale ?? 1;
    meta[2 * i] = p.decay ? 1 : 0;
    meta[2 * i + 1] = new Uint32Array(f.buffer)[0];
  });
  return { chunks: Uint32Array.from(rows), meta, count: rows.length / 3 };
}

function updateKernel(kind: string, p: UpdateCommon, stateBuffers: string[], perElement: string, description: string): Kernel {
  const t = tables(p.params);
  const name = p.name ?? `${kind}_update_${p.params.length}params`;
  const source = p.source ?? [];
  const bindings: KernelBinding[] = [
    storage("param", "read_write"),
    storage("grad", "read"),
    ...stateBuffers.map((b) => storage(b, "read_write")),
    ...(p.maxGradNorm !== undefined ? [storage("norm", "read")] : []),
    { kind: "constant", name: "chunks", elem: "u32", data: t.chunks },
    { kind: "constant", name: "paramInfo", elem: "u32", data: t.meta },
    { kind: "dynamic", name: "dyn" },
  ];
  const clip = p.maxGradNorm !== undefined ? `min(1.0, ${f32Lit(p.maxGradNorm)} / (norm[0] + 1e-6))` : "1.0";
  const wgsl = `${kernelHeader(name, `${description}; ${p.params.length} parameters in ${t.count} chunks of <= ${CHUNK}`, source)}
${bindingDecls(bindings)}

@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lane: u32) {
  let chunk = ${LINEAR_WORKGROUP};
  if (chunk >= ${t.count}u) { return; }
  let start = chunks[3u * chunk];
  let end = chunks[3u * chunk + 1u];
  let which = chunks[3u * chunk + 2u];
  let decay = paramInfo[2u * which] != 0u;
  let lr = dyn.lr * bitcast<f32>(paramInfo[2u * which + 1u]);
  let step = f32(dyn.step);
  let clip = ${clip};
  for (var i = start + lane; i < end; i += ${WG}u) {
${perElement}
  }
}
`;
  return { name, wgsl, entryPoint: "main", workgroupSize: [WG, 1, 1], dispatch: (n = t.count) => grid1d(n), bindings, source };
}

/** Bindings: param, grad, m, v, [norm] (+ constant tables and the dynamic step/lr). PyTorch AdamW semantics. */
export function adamw(p: AdamWParams): Kernel {
  const [b1, b2] = [f32Lit(p.beta1), f32Lit(p.beta2)];
  const body = `    let g = grad[i] * clip;
    var w = param[i];
    if (decay) { w = w * (1.0 - lr * ${f32Lit(p.weightDecay)}); }
    let mi = ${b1} * m[i] + (1.0 - ${b1}) * g;
    let vi = ${b2} * v[i] + (1.0 - ${b2}) * g * g;
    m[i] = mi;
    v[i] = vi;
    let mhat = mi / (1.0 - pow(${b1}, step));
    let vhat = vi / (1.0 - pow(${b2}, step));
    param[i] = w - lr * mhat / (sqrt(vhat) + ${f32Lit(p.eps)});`;
  return updateKernel("adamw", p, ["m", "v"], body, `AdamW(beta1=${p.beta1}, beta2=${p.beta2}, eps=${p.eps}, wd=${p.weightDecay})`);
}

/** Bindings: param, grad, buf, [norm]. PyTorch SGD semantics (L2 decay in the gradient, first step buf = g). */
export function sgdMomentum(p: SgdParams): Kernel {
  const mom = f32Lit(p.momentum);
  const damp = f32Lit(1 - (p.dampening ?? 0));
  const body = `    var g = grad[i] * clip;
    let w = param[i];
    if (decay) { g = g + ${f32Lit(p.weightDecay)} * w; }
    let b = select(${mom} * buf[i] + ${damp} * g, g, step <= 1.0);
    buf[i] = b;
    let d = ${p.nesterov ? `g + ${mom} * b` : "b"};
    param[i] = w - lr * d;`;
  return updateKernel("sgd", p, ["buf"], body, `SGD(momentum=${p.momentum}, dampening=${p.dampening ?? 0}, nesterov=${!!p.nesterov}, wd=${p.weightDecay})`);
}

export interface GradNormParams {
  readonly total: number;
  readonly name?: string;
  readonly source?: readonly string[];
}

/**
 * Two kernels: `partials` (grad -> normPartials, [lanes]) sums squares over contiguous slices, then
 * `finalize` (normPartials -> norm, one element) adds them in one workgroup and takes the root.
 */
export function gradNorm(p: GradNormParams, profile: AdapterProfile): { partials: Kernel; finalize: Kernel; lanes: number } {
  const lanes = Math.max(1, Math.min(4096, Math.ceil(p.total / 256)));
  const per = Math.ceil(p.total / lanes);
  const name = p.name ?? `grad_norm_${p.total}`;
  const source = p.source ?? [];
  const bindings: KernelBinding[] = [storage("grad", "read"), storage("normPartials", "read_write")];
  const wgsl = `${kernelHeader(`${name}_partials`, `sum of squares of ${p.total} gradient values over ${lanes} slices of ${per}`, source)}
${bindingDecls(bindings)}

@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lane: u32) {
  let s = ${LINEAR_WORKGROUP} * ${WG}u + lane;
  if (s >= ${lanes}u) { return; }
  let end = min((s + 1u) * ${per}u, ${p.total}u);
  var acc = 0.0;
  for (var i = s * ${per}u; i < end; i++) {
    let g = grad[i];
    acc += g * g;
  }
  normPartials[s] = acc;
}
`;
  const partials: Kernel = {
    name: `${name}_partials`,
    wgsl,
    entryPoint: "main",
    workgroupSize: [WG, 1, 1],
    dispatch: (n = lanes) => grid1d(Math.ceil(n / WG)),
    bindings,
    source,
  };
  const finalize = stridedReduce(
    { name: `${name}_finalize`, outer: 1, length: lanes, inner: 1, op: "sum", epilogue: "sqrt(r)", inputName: "normPartials", outputName: "norm", workgroupPerOutput: true, source },
    profile,
  );
  return { partials, finalize, lanes };
}
