/**
 * WGSL port of compiler/ir/philox.ts (the contract shared with the interpreter): Philox4x32-10 with
 * key (seed, stream) and counter (index, 0, 0, 0). Uniform and bernoulli are bit-exact with the CPU;
 * normal goes through log/cos and matches within their precision.
 */
import { bindingDecls, ceilDiv, f32Lit, grid1d, kernelHeader, LINEAR_WORKGROUP, storage, type Kernel, type KernelBinding } from "./kernel.ts";

export const RNG_WGSL = `fn ivc_mulhi(a: u32, b: u32) -> u32 {
  let aLo = a & 0xffffu;
  let aHi = a >> 16u;
  let bLo = b & 0xffffu;
  let bHi = b >> 16u;
  let lolo = aLo * bLo;
  let lohi = aLo * bHi;
  let hilo = aHi * bLo;
  let mid = (lolo >> 16u) + (lohi & 0xffffu) + (hilo & 0xffffu);
  return aHi * bHi + (lohi >> 16u) + (hilo >> 16u) + (mid >> 16u);
}

fn ivc_philox(counter: vec4<u32>, key: vec2<u32>) -> vec4<u32> {
  var c = counter;
  var k = key;
  for (var round = 0u; round < 10u; round++) {
    if (round > 0u) { k += vec2<u32>(0x9e3779b9u, 0xbb67ae85u); }
    let hi0 = ivc_mulhi(0xd2511f53u, c.x);
    let lo0 = 0xd2511f53u * c.x;
    let hi1 = ivc_mulhi(0xcd9e8d57u, c.z);
    let lo1 = 0xcd9e8d57u * c.z;
    c = vec4<u32>(hi1 ^ c.y ^ k.x, lo1, hi0 ^ c.w ^ k.y, lo0);
  }
  return c;
}

fn ivc_random_uniform(seed: u32, stream: u32, index: u32) -> f32 {
  let r = ivc_philox(vec4<u32>(index, 0u, 0u, 0u), vec2<u32>(seed, stream));
  return f32(r.x >> 8u) * 5.9604644775390625e-8;
}

fn ivc_random_bernoulli(seed: u32, stream: u32, index: u32, p: f32) -> f32 {
  return select(0.0, 1.0, ivc_random_uniform(seed, stream, index) < p);
}

fn ivc_random_normal(seed: u32, stream: u32, index: u32) -> f32 {
  let r = ivc_philox(vec4<u32>(index, 0u, 0u, 0u), vec2<u32>(seed, stream));
  let u1 = f32((r.x >> 8u) + 1u) * 5.9604644775390625e-8;
  let u2 = f32(r.y >> 8u) * 5.9604644775390625e-8;
  return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}`;

export type RandomDist = "uniform" | "normal" | "bernoulli";

/** WGSL f32 expression for one random value; `seed`, `index` are u32 expressions. */
export function randomExpr(dist: RandomDist, p: number, stream: number, seed: string, index: string): string {
  const s = `${stream >>> 0}u`;
  if (dist === "uniform") return `ivc_random_uniform(${seed}, ${s}, ${index})`;
  if (dist === "normal") return `ivc_random_normal(${seed}, ${s}, ${index})`;
  return `ivc_random_bernoulli(${seed}, ${s}, ${index}, ${f32Lit(p)})`;
}

export interface RandomFillParams {
  readonly count: number;
  readonly dist: RandomDist;
  readonly stream: number;
  /** Bernoulli probability of 1. */
  readonly p?: number;
  readonly name?: string;
  readonly source?: readonly string[];
}

/** Fills `out[i]` with the `random` node's value for element i, seeded from the per-step seed. */
export function randomFill(params: RandomFillParams): Kernel {
  const { count, dist, stream } = params;
  const name = params.name ?? `random_${dist}_${count}`;
  const source = params.source ?? [];
  const bindings: KernelBinding[] = [storage("out", "read_write"), { kind: "dynamic", name: "dyn" }];
  const wg = 64;
  const wgsl = `${kernelHeader(name, `Philox4x32-10 ${dist} numbers, stream ${stream}, seed from the step`, source)}
${bindingDecls(bindings)}

${RNG_WGSL}

@compute @workgroup_size(${wg})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lane: u32) {
  let i = ${LINEAR_WORKGROUP} * ${wg}u + lane;
  if (i >= ${count}u) { return; }
  out[i] = ${randomExpr(dist, params.p ?? 0.5, stream, "dyn.seed", "i")};
}
`;
  return {
    name,
    wgsl,
    entryPoint: "main",
    workgroupSize: [wg, 1, 1],
    dispatch: (n = count) => grid1d(ceilDiv(n, wg)),
    bindings,
    source,
  };
}
