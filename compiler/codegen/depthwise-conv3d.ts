/**
 * Depthwise conv3d (groups = channels, e.g. the 3x1x1 temporal and 3x3x3 local convolutions of
 * video transformers): forward with bias and epilogue, dX, and dW/dBias as chunked partial sums
 * plus a strided reduction. Taps are unrolled at generation time (at most a few dozen).
 *
 * Layout: NCTHW, or channels-last NTHWC (the token layout), for x, y and their gradients alike.
 * Weights are [C, kT, kH, kW].
 */
import { epilogueFn, NO_EPILOGUE, type Epilogue } from "./epilogue.ts";
import { bindingDecls, ceilDiv, grid1d, kernelHeader, LINEAR_WORKGROUP, storage, type AdapterProfile, type Kernel, type KernelBinding } from "./kernel.ts";
import { stridedReduce } from "./reduce.ts";
import { helpersFor } from "./wgsl-math.ts";

type Triple = readonly [number, number, number];

export interface DepthwiseConv3dParams {
  readonly n: number;
  readonly c: number;
  /** Input spatial size [T, H, W]. */
  readonly size: Triple;
  readonly kernel: Triple;
  readonly stride?: Triple;
  readonly padding?: Triple;
  readonly channelsLast?: boolean;
  /** Adds `bias[c]` before the epilogue. */
  readonly bias?: boolean;
  readonly epilogue?: Epilogue;
  readonly name?: string;
  readonly source?: readonly string[];
}

const WG = 64;

export function convOutputSize(size: Triple, kernel: Triple, stride: Triple, padding: Triple): [number, number, number] {
  return [0, 1, 2].map((i) => Math.floor((size[i] + 2 * padding[i] - kernel[i]) / stride[i]) + 1) as [number, number, number];
}

interface Geometry {
  readonly n: number;
  readonly c: number;
  readonly inSize: Triple;
  readonly outSize: Triple;
  readonly kernel: Triple;
  readonly stride: Triple;
  readonly padding: Triple;
  readonly taps: number;
  readonly channelsLast: boolean;
}

function geometry(p: DepthwiseConv3dParams): Geometry {
  const stride = p.stride ?? [1, 1, 1];
  const padding = p.padding ?? [0, 0, 0];
  return {
    n: p.n,
    c: p.c,
    inSize: p.size,
    outSize: convOutputSize(p.size, p.kernel, stride, padding),
    kernel: p.kernel,
    stride,
    padding,
    taps: p.kernel[0] * p.kernel[1] * p.kernel[2],
    channelsLast: p.channelsLast ?? false,
  };
}

/** WGSL offset of (n, c, t, h, w) in a tensor of spatial size `s` under the geometry's layout. */
function offset(g: Geometry, s: Triple, n: string, c: string, t: string, h: string, w: string): string {
  const S = s[0] * s[1] * s[2];
  return g.channelsLast
    ? `${n} * ${S * g.c}u + ((${t} * ${s[1]}u + ${h}) * ${s[2]}u + ${w}) * ${g.c}u + ${c}`
    : `(${n} * ${g.c}u + ${c}) * ${S}u + (${t} * ${s[1]}u + ${h}) * ${s[2]}u + ${w}`;
}

/** Decomposes flat `e` (memory order of the layout) into n, c, t, h, w over spatial size `s`. */
function decompose(g: Geometry, s: Triple, e: string): string {
  const [T, H, W] = s;
  return g.channelsLast
    ? `  let c = ${e} % ${g.c}u;
  let w = (${e} / ${g.c}u) % ${W}u;
  let h = (${e} / ${g.c * W}u) % ${H}u;
  let t = (${e} / ${g.c * W * H}u) % ${T}u;
  let n = ${e} / ${g.c * W * H * T}u;`
    : `  let w = ${e} % ${W}u;
  let h = (${e} / ${W}u) % ${H}u;
  let t = (${e} / ${W * H}u) % ${T}u;
  let c = (${e} / ${W * H * T}u) % ${g.c}u;
  let n = ${e} / ${W * H * T * g.c}u;`;
}

function taps(g: Geometry): [number, number, number, number][] {
  const out: [number, number, number, number][] = [];
  for (let a = 0; a < g.kernel[0]; a++) for (let b = 0; b < g.kernel[1]; b++) for (let d = 0; d < g.kernel[2]; d++) out.push([a, b, d, out.length]);
  return out;
}

function describe(g: Geometry): string {
  return `depthwise conv3d C=${g.c} ${g.inSize.join("x")} -> ${g.outSize.join("x")}, kernel ${g.kernel.join("x")}, stride ${g.stride.join(",")}, pad ${g.padding.join(",")}, ${g.channelsLast ? "NTHWC" : "NCTHW"}`;
}

function finishKernel(name: string, wgsl: string, count: number, bindings: KernelBinding[], source: readonly string[]): Kernel {
  return { name, wgsl, entryPoint: "main", workgroupSize: [WG, 1, 1], dispatch: (n = count) => grid1d(ceilDiv(n, WG)), bindings, source };
}

const ENTRY = `@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lane: u32) {
  let e = ${LINEAR_WORKGROUP} * ${WG}u + lane;`;

/** Bindings: x, weight, [bias], epilogue inputs -> y. */
export function depthwiseConv3d(p: DepthwiseConv3dParams, _profile: AdapterProfile): Kernel {
  const g = geometry(p);
  const epi = p.epilogue ?? NO_EPILOGUE;
  const name = p.name ?? `dwconv3d_${g.c}x${g.inSize.join("x")}_k${g.kernel.join("")}`;
  const source = p.source ?? [];
  const count = g.n * g.c * g.outSize[0] * g.outSize[1] * g.outSize[2];
  const bindings: KernelBinding[] = [storage("x", "read"), storage("weight", "read"), ...(p.bias ? [storage("bias", "read")] : []), ...epi.inputs.map((i) => storage(i, "read")), storage("y", "read_write")];
  const body = taps(g).map(([a, b, d, k]) => {
    const [ti, hi, wi] = [`i32(t * ${g.stride[0]}u) + ${a - g.padding[0]}`, `i32(h * ${g.stride[1]}u) + ${b - g.padding[1]}`, `i32(w * ${g.stride[2]}u) + ${d - g.padding[2]}`];
    return `  {
    let ti = ${ti}; let hi = ${hi}; let wi = ${wi};
    if (ti >= 0 && ti < ${g.inSize[0]} && hi >= 0 && hi < ${g.inSize[1]} && wi >= 0 && wi < ${g.inSize[2]}) {
      acc += weight[c * ${g.taps}u + ${k}u] * x[${offset(g, g.inSize, "n", "c", "u32(ti)", "u32(hi)", "u32(wi)")}];
    }
  }`;
  });
  const epiCode = epilogueFn(epi);
  const wgsl = `${kernelHeader(name, describe(g), source)}
${bindingDecls(bindings)}

${helpersFor(epiCode)}
${epiCode}

${ENTRY}
  if (e >= ${count}u) { return; }
${decompose(g, g.outSize, "e")}
  var acc = 0.0;
${body.join("\n")}
  let spatial = (t * ${g.outSize[1]}u + h) * ${g.outSize[2]}u + w;
  y[e] = epilogue(acc${p.bias ? " + bias[c]" : ""}, n, c, spatial, e);
}
`;
  return finishKernel(name, wgsl, count, bindings, source);
}

/** Bindings: dy, weight -> dx. */
export function depthwiseConv3dBackwardInput(p: DepthwiseConv3dParams, _profile: AdapterProfile): Kernel {
  const g = geometry(p);
  const name = (p.name ?? `dwconv3d_${g.c}x${g.inSize.join("x")}_k${g.kernel.join("")}`) + "_dx";
  const source = p.source ?? [];
  const count = g.n * g.c * g.inSize[0] * g.inSize[1] * g.inSize[2];
  const bindings: KernelBinding[] = [storage("dy", "read"), storage("weight", "read"), storage("dx", "read_write")];
  // Output position o feeds input i through tap k when o * stride - pad + k = i.
  const body = taps(g).map(([a, b, d, k]) => {
    const num = (v: string, axis: number, tap: number) => `i32(${v}) + ${g.padding[axis] - tap}`;
    const ok = (nv: string, axis: number) => `${nv} >= 0 && ${nv} % ${g.stride[axis]} == 0 && ${nv} / ${g.stride[axis]} < ${g.outSize[axis]}`;
    return `  {
    let nt = ${num("t", 0, a)}; let nh = ${num("h", 1, b)}; let nw = ${num("w", 2, d)};
    if (${ok("nt", 0)} && ${ok("nh", 1)} && ${ok("nw", 2)}) {
      acc += weight[c * ${g.taps}u + ${k}u] * dy[${offset(g, g.outSize, "n", "c", `u32(nt / ${g.stride[0]})`, `u32(nh / ${g.stride[1]})`, `u32(nw / ${g.stride[2]})`)}];
    }
  }`;
  });
  const wgsl = `${kernelHeader(name, `${describe(g)}; gradient of the input`, source)}
${bindingDecls(bindings)}

${ENTRY}
  if (e >= ${count}u) { return; }
${decompose(g, g.inSize, "e")}
  var acc = 0.0;
${body.join("\n")}
  dx[e] = acc;
}
`;
  return finishKernel(name, wgsl, count, bindings, source);
}

/**
 * dW [C, taps] and dBias [C] in three dispatches:
 *   partials: x, dy -> pw ([chunks, C, taps]), pb ([chunks, C])
 *   then the returned `finalizeWeight` (pw -> dweight) and `finalizeBias` (pb -> dbias).
 * One lane per (chunk of output positions, channel) keeps all taps' sums in registers, so each dy
 * value is loaded once for all taps.
 */
export function depthwiseConv3dBackwardWeight(
  p: DepthwiseConv3dParams & { chunk?: number },
  profile: AdapterProfile,
): { partials: Kernel; finalizeWeight: Kernel; finalizeBias: Kernel; chunks: number } {
  const g = geometry(p);
  const base = (p.name ?? `dwconv3d_${g.c}x${g.inSize.join("x")}_k${g.kernel.join("")}`) + "_dw";
  const source = p.source ?? [];
  const positions = g.n * g.outSize[0] * g.outSize[1] * g.outSize[2];
  const chunk = p.chunk ?? 256;
  const chunks = Math.ceil(positions / chunk);
  const lanes = chunks * g.c;
  const bindings: KernelBinding[] = [storage("x", "read"), storage("dy", "read"), storage("pw", "read_write"), storage("pb", "read_write")];
  const [T2, H2, W2] = g.outSize;
  const tapList = taps(g);
  const accumulate = tapList.map(([a, b, d, k]) => {
    const [ti, hi, wi] = [`i32(t * ${g.stride[0]}u) + ${a - g.padding[0]}`, `i32(h * ${g.stride[1]}u) + ${b - g.padding[1]}`, `i32(w * ${g.stride[2]}u) + ${d - g.padding[2]}`];
    return `    {
      let ti = ${ti}; let hi = ${hi}; let wi = ${wi};
      if (ti >= 0 && ti < ${g.inSize[0]} && hi >= 0 && hi < ${g.inSize[1]} && wi >= 0 && wi < ${g.inSize[2]}) {
        acc${k} += g * x[${offset(g, g.inSize, "n", "c", "u32(ti)", "u32(hi)", "u32(wi)")}];
      }
    }`;
  });
  const wgsl = `${kernelHeader(`${base}_partials`, `${describe(g)}; weight and bias gradient partial sums over chunks of ${chunk} positions`, source)}
${bindingDecls(bindings)}

${ENTRY}
  if (e >= ${lanes}u) { return; }
  let c = e % ${g.c}u;
  let chunk = e / ${g.c}u;
  let p0 = chunk * ${chunk}u;
  let p1 = min(p0 + ${chunk}u, ${positions}u);
${tapList.map(([, , , k]) => `  var acc${k} = 0.0;`).join("\n")}
  var accB = 0.0;
  for (var pos = p0; pos < p1; pos++) {
    let w = pos % ${W2}u;
    let h = (pos / ${W2}u) % ${H2}u;
    let t = (pos / ${W2 * H2}u) % ${T2}u;
    let n = pos / ${W2 * H2 * T2}u;
    let g = dy[${offset(g, g.outSize, "n", "c", "t", "h", "w")}];
    accB += g;
${accumulate.join("\n")}
  }
${tapList.map(([, , , k]) => `  pw[(chunk * ${g.c}u + c) * ${g.taps}u + ${k}u] = acc${k};`).join("\n")}
  pb[chunk * ${g.c}u + c] = accB;
}
`;
  const partials = finishKernel(`${base}_partials`, wgsl, lanes, bindings, source);
  const finalizeWeight = stridedReduce(
    { name: `${base}_weight_sum`, outer: 1, length: chunks, inner: g.c * g.taps, op: "sum", inputName: "pw", outputName: "dweight", source },
    profile,
  );
  const finalizeBias = stridedReduce({ name: `${base}_bias_sum`, outer: 1, length: chunks, inner: g.c, op: "sum", inputName: "pb", outputName: "dbias", source }, profile);
  return { partials, finalizeWeight, finalizeBias, chunks };
}
