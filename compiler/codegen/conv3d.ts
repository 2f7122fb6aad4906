/**
 * General conv3d, x [N, Cin, T, H, W] (x) w [O, Cin/groups, kT, kH, kW] -> y [N, O, T', H', W'].
 *
 * - Patch embedding (stride = kernel, no padding, one group): the patches are a strided view of x, so
 *   the convolution is a matmul whose A operand reads x in place through index maps; no im2col buffer.
 *   Its weight gradient is a matmul of the same views. `tokens` output writes [N, T'H'W', O] directly.
 * - Anything else: a direct kernel, one lane per output, looping over input channels and taps.
 */
import { epilogueFn, NO_EPILOGUE, type Epilogue } from "./epilogue.ts";
import type { IndexMap } from "./index-map.ts";
import { bindingDecls, ceilDiv, grid1d, kernelHeader, LINEAR_WORKGROUP, storage, type AdapterProfile, type Kernel, type KernelBinding } from "./kernel.ts";
import { matmul, type MatmulParams } from "./matmul.ts";
import { convOutputSize } from "./depthwise-conv3d.ts";
import { helpersFor } from "./wgsl-math.ts";

type Triple = readonly [number, number, number];

export interface Conv3dParams {
  readonly n: number;
  readonly cin: number;
  readonly cout: number;
  readonly size: Triple;
  readonly kernel: Triple;
  readonly stride?: Triple;
  readonly padding?: Triple;
  readonly dilation?: Triple;
  readonly groups?: number;
  readonly bias?: boolean;
  readonly epilogue?: Epilogue;
  /** Write y as tokens [N, T'H'W', O] instead of NCTHW (patch-embedding path only). */
  readonly tokens?: boolean;
  readonly name?: string;
  readonly source?: readonly string[];
}

export function isPatchEmbedding(p: Conv3dParams): boolean {
  const stride = p.stride ?? [1, 1, 1];
  const pad = p.padding ?? [0, 0, 0];
  const dil = p.dilation ?? [1, 1, 1];
  return (p.groups ?? 1) === 1 && [0, 1, 2].every((i) => stride[i] === p.kernel[i] && pad[i] === 0 && dil[i] === 1 && p.size[i] % p.kernel[i] === 0);
}

function patchMaps(p: Conv3dParams) {
  const [T, H, W] = p.size;
  const [kT, kH, kW] = p.kernel;
  const [T2, H2, W2] = [T / kT, H / kH, W / kW];
  const S2 = T2 * H2 * W2;
  const K = p.cin * kT * kH * kW;
  const rows = p.n * S2;
  const patchRow: IndexMap = { sizes: [p.n, T2, H2, W2], strides: [p.cin * T * H * W, kT * H * W, kH * W, kW] };
  const patchK: IndexMap = { sizes: [p.cin, kT, kH, kW], strides: [T * H * W, H * W, W, 1] };
  // y viewed as [rows, O]
  const yRow: IndexMap = p.tokens ? { sizes: [rows], strides: [p.cout] } : { sizes: [p.n, S2], strides: [p.cout * S2, 1] };
  const yCol: IndexMap = { sizes: [p.cout], strides: [p.tokens ? 1 : S2] };
  return { rows, K, S2, patchRow, patchK, yRow, yCol };
}

/** Bindings: x, weight, [bias] (per output channel), epilogue inputs -> y. */
export function patchEmbedding(p: Conv3dParams, profile: AdapterProfile): Kernel {
  if (!isPatchEmbedding(p)) throw new Error("patchEmbedding needs stride = kernel, no padding, one group");
  const m = patchMaps(p);
  const epi = p.bias ? { steps: ["v + bias[col]", ...(p.epilogue ?? NO_EPILOGUE).steps], inputs: ["bias", ...(p.epilogue ?? NO_EPILOGUE).inputs] } : p.epilogue;
  const mm: MatmulParams = {
    batch: 1,
    M: m.rows,
    N: p.cout,
    K: m.K,
    a: { batchStride: 0, outer: m.patchRow, inner: m.patchK },
    b: { batchStride: 0, outer: { sizes: [m.K], strides: [1] }, inner: { sizes: [p.cout], strides: [m.K] } },
    c: { batchStride: 0, outer: m.yRow, inner: m.yCol },
    epilogue: epi,
    operandNames: { a: "x", b: "weight", c: "y" },
    name: p.name ?? `patch_embed_${p.cin}to${p.cout}_k${p.kernel.join("x")}`,
    source: p.source,
  };
  return matmul(mm, profile);
}

/** dW [O, Cin*kT*kH*kW] = dY^T * patches. Bindings: dy, x -> dweight. */
export function patchEmbeddingWeightGrad(p: Conv3dParams, profile: AdapterProfile): Kernel {
  const m = patchMaps(p);
  return matmul(
    {
      batch: 1,
      M: p.cout,
      N: m.K,
      K: m.rows,
      a: { batchStride: 0, outer: m.yCol, inner: m.yRow },
      b: { batchStride: 0, outer: m.patchRow, inner: m.patchK },
      c: { batchStride: 0, outer: { sizes: [p.cout], strides: [m.K] }, inner: { sizes: [m.K], strides: [1] } },
      operandNames: { a: "dy", b: "x", c: "dweight" },
      name: (p.name ?? `patch_embed_${p.cin}to${p.cout}_k${p.kernel.join("x")}`) + "_dw",
      source: p.source,
    },
    profile,
  );
}

const WG = 64;

/** Direct convolution for any stride/padding/dilation/groups. Bindings: x, weight, [bias], epilogue inputs -> y. */
export function conv3dDirect(p: Conv3dParams, _profile: AdapterProfile): Kernel {
  const stride = p.stride ?? [1, 1, 1];
  const pad = p.padding ?? [0, 0, 0];
  const dil = p.dilation ?? [1, 1, 1];
  const groups = p.groups ?? 1;
  const [T, H, W] = p.size;
  const [kT, kH, kW] = p.kernel;
  const [T2, H2, W2] = convOutputSize(p.size, [(kT - 1) * dil[0] + 1, (kH - 1) * dil[1] + 1, (kW - 1) * dil[2] + 1], stride, pad);
  const cinG = p.cin / groups;
  const coutG = p.cout / groups;
  const count = p.n * p.cout * T2 * H2 * W2;
  const epi = p.epilogue ?? NO_EPILOGUE;
  const name = p.name ?? `conv3d_${p.cin}to${p.cout}_k${p.kernel.join("x")}_s${stride.join("")}_g${groups}`;
  const source = p.source ?? [];
  const bindings: KernelBinding[] = [storage("x", "read"), storage("weight", "read"), ...(p.bias ? [storage("bias", "read")] : []), ...epi.inputs.map((i) => storage(i, "read")), storage("y", "read_write")];
  const epiCode = epilogueFn(epi);
  const wgsl = `${kernelHeader(name, `conv3d ${p.cin}->${p.cout} groups ${groups}, ${T}x${H}x${W} -> ${T2}x${H2}x${W2}, kernel ${p.kernel.join("x")}, stride ${stride.join(",")}, pad ${pad.join(",")}, dilation ${dil.join(",")}; direct`, source)}
${bindingDecls(bindings)}

${helpersFor(epiCode)}
${epiCode}

@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lane: u32) {
  let e = ${LINEAR_WORKGROUP} * ${WG}u + lane;
  if (e >= ${count}u) { return; }
  let w = e % ${W2}u;
  let h = (e / ${W2}u) % ${H2}u;
  let t = (e / ${W2 * H2}u) % ${T2}u;
  let o = (e / ${W2 * H2 * T2}u) % ${p.cout}u;
  let n = e / ${W2 * H2 * T2 * p.cout}u;
  let c0 = (o / ${coutG}u) * ${cinG}u;
  var acc = 0.0;
  for (var ci = 0u; ci < ${cinG}u; ci++) {
    let xBase = (n * ${p.cin}u + c0 + ci) * ${T * H * W}u;
    let wBase = (o * ${cinG}u + ci) * ${kT * kH * kW}u;
    for (var a = 0u; a < ${kT}u; a++) {
      let ti = i32(t * ${stride[0]}u + a * ${dil[0]}u) - ${pad[0]};
      if (ti < 0 || ti >= ${T}) { continue; }
      for (var b = 0u; b < ${kH}u; b++) {
        let hi = i32(h * ${stride[1]}u + b * ${dil[1]}u) - ${pad[1]};
        if (hi < 0 || hi >= ${H}) { continue; }
        for (var d = 0u; d < ${kW}u; d++) {
          let wi = i32(w * ${stride[2]}u + d * ${dil[2]}u) - ${pad[2]};
          if (wi < 0 || wi >= ${W}) { continue; }
          acc += weight[wBase + (a * ${kH}u + b) * ${kW}u + d] * x[xBase + (u32(ti) * ${H}u + u32(hi)) * ${W}u + u32(wi)];
        }
      }
    }
  }
  y[e] = epilogue(acc${p.bias ? " + bias[o]" : ""}, n, o, (t * ${H2}u + h) * ${W2}u + w, e);
}
`;
  return { name, wgsl, entryPoint: "main", workgroupSize: [WG, 1, 1], dispatch: (c = count) => grid1d(ceilDiv(c, WG)), bindings, source };
}

/** Picks the matmul path when the convolution is a patch embedding, else the direct kernel. */
export function conv3d(p: Conv3dParams, profile: AdapterProfile): Kernel {
  return isPatchEmbedding(p) ? patchEmbedding(p, profile) : conv3dDirect(p, profile);
}
