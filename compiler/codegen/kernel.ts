/**
 * The contract between WGSL generators and the runtime executor.
 *
 * A generator is a function `(params, profile) -> Kernel`. Problem sizes are baked into the WGSL as
 * constants (lavapipe compiles them into immediate operands, and every index computation saved is a
 * measurable win there); only what changes per step (step counter, lr, seed) is read at run time from
 * the executor's dynamic buffer.
 */
import { DYNAMIC_WGSL } from "./dynamic.ts";

/** What a generator needs to know about the adapter to pick a kernel shape. */
export interface AdapterProfile {
  /** A CPU rasterizer (lavapipe, SwiftShader): loads are the cost, shared-memory tiles do not pay. */
  readonly software: boolean;
  /** `subgroupBroadcast`/`subgroupAdd` are available (the device was created with "subgroups"). */
  readonly subgroups: boolean;
  readonly subgroupSize: number;
  /**
   * Storage buffers one kernel may bind (the device's maxStorageBuffersPerShaderStage): how far
   * kernels may be merged. Absent: 8, the WebGPU minimum.
   */
  readonly maxStorageBuffers?: number;
}

export const LAVAPIPE_PROFILE: AdapterProfile = { software: true, subgroups: true, subgroupSize: 8, maxStorageBuffers: 16 };
export const DISCRETE_PROFILE: AdapterProfile = { software: false, subgroups: false, subgroupSize: 32 };

/**
 * Lanes of the software SIMD kernels, where the adapter runs a workgroup's invocations as one vector:
 * lavapipe's subgroup is its LLVM vector width, 8 lanes with AVX2 and 16 where llvmpipe is given
 * 512-bit vectors (LP_NATIVE_VECTOR_WIDTH=512; runtime/software-vectors.ts). Undefined for other adapters, and
 * where subgroups are off or of another size: those kernels then take their lane-independent forms.
 */
export function simdLanes(profile: AdapterProfile): 8 | 16 | undefined {
  if (!profile.software || !profile.subgroups) return undefined;
  return profile.subgroupSize === 8 || profile.subgroupSize === 16 ? profile.subgroupSize : undefined;
}

/** The WebGPU minimum of maxStorageBuffersPerShaderStage: what every adapter allows. */
export const MIN_STORAGE_BUFFERS = 8;

/** Builds a profile from the features the device was actually created with. */
export function profileFor(
  info: { isSoftware: boolean; subgroupMinSize: number; subgroupMaxSize?: number; limits?: Readonly<Record<string, number>> },
  deviceFeatures: ReadonlySet<string>,
): AdapterProfile {
  const subgroups = deviceFeatures.has("subgroups") && info.subgroupMinSize > 0;
  // A size that varies between pipelines (AMD: 32 or 64) is not one a generator may assume: 0.
  const fixed = info.subgroupMaxSize === undefined || info.subgroupMaxSize === info.subgroupMinSize;
  // requestGpu asks the device for the adapter's own limit, so the adapter's figure holds.
  const storage = info.limits?.maxStorageBuffersPerShaderStage;
  return {
    software: info.isSoftware,
    subgroups,
    subgroupSize: subgroups && fixed ? info.subgroupMinSize : 0,
    ...(storage !== undefined && Number.isFinite(storage) && storage >= MIN_STORAGE_BUFFERS ? { maxStorageBuffers: storage } : {}),
  };
}

/** `vec4*` bind a tensor as `array<vec4<...>>` for 16-byte loads; `f16`/`vec4h` are f16 storage (half-storage.ts). */
export type ElemType = "f32" | "i32" | "u32" | "vec4f" | "vec4i" | "vec4u" | "f16" | "vec4h";

const WGSL_ELEM: Record<ElemType, string> = {
  f32: "f32",
  i32: "i32",
  u32: "u32",
  vec4f: "vec4<f32>",
  vec4i: "vec4<i32>",
  vec4u: "vec4<u32>",
  f16: "f16",
  vec4h: "vec4<f16>",
};

export type KernelBinding =
  /** A tensor in the executor's arena; the dispatch names which buffer. */
  | { readonly kind: "storage"; readonly name: string; readonly elem: ElemType; readonly access: "read" | "read_write" }
  /** A small table owned by the kernel (e.g. optimizer metadata), uploaded once at load. */
  | { readonly kind: "constant"; readonly name: string; readonly elem: ElemType; readonly data: Uint32Array | Int32Array | Float32Array }
  /** The executor's per-step values (see dynamic.ts), written once before each submit. */
  | { readonly kind: "dynamic"; readonly name: string };

export type Grid = readonly [number, number, number];

export interface Kernel {
  /** A readable, unique-ish name, e.g. `matmul_784x1024x256_bias_gelu`. */
  readonly name: string;
  readonly wgsl: string;
  readonly entryPoint: string;
  readonly workgroupSize: Grid;
  /**
   * Workgroup counts for `units` of the kernel's outermost, runtime-variable extent (a symbolic batch
   * bound late), defaulting to the baked size: e.g. the batch for matmul, batch*heads for attention,
   * rows for row programs, outputs for reductions, items for elementwise (vec4s when vectorised).
   * Inner sizes are baked into the WGSL; a different inner size needs a new kernel.
   */
  readonly dispatch: (units?: number) => Grid;
  /** In `@binding(i)` order, all in `@group(0)`. */
  readonly bindings: readonly KernelBinding[];
  /** The `.ivm` spans (as `file:line:col  text` strings) the kernel was generated from. */
  readonly source: readonly string[];
}

export function storage(name: string, access: "read" | "read_write", elem: ElemType = "f32"): KernelBinding {
  return { kind: "storage", name, elem, access };
}

// WGSL keywords and reserved words a tensor might plausibly be named after (the full list is longer).
const WGSL_RESERVED = new Set(
  ("alias array atomic bitcast bool break case const continue default diagnostic discard do else enable false fn for if let loop " +
    "meta mat2x2 mat3x3 mat4x4 override ptr requires return sampler self struct switch texture true type u32 i32 f32 f16 var vec2 vec3 vec4 while " +
    "as async auto await become cast catch class const_cast delete enum export extends final finally friend from function goto import " +
    "in inline instanceof interface layout match mod module move mut namespace new nil null of package private protected public " +
    "static super template this throw try typedef typename typeof union unsafe using virtual void with yield").split(" "),
);

/** Declarations for `bindings`, in order; constant tables are read-only storage. */
export function bindingDecls(bindings: readonly KernelBinding[]): string {
  for (const b of bindings) {
    if (WGSL_RESERVED.has(b.name) || !/^[A-Za-z][A-Za-z0-9_]*$/.test(b.name)) throw new Error(`'${b.name}' cannot name a WGSL binding (reserved word or invalid identifier)`);
  }
  const struct = bindings.some((b) => b.kind === "dynamic") ? DYNAMIC_WGSL + "\n" : "";
  return struct + bindings
    .map((b, i) => {
      if (b.kind === "dynamic") return `@group(0) @binding(${i}) var<uniform> ${b.name}: IvcDynamic;`;
      const access = b.kind === "storage" ? b.access : "read";
      return `@group(0) @binding(${i}) var<storage, ${access}> ${b.name}: array<${WGSL_ELEM[b.elem]}>;`;
    })
    .join("\n");
}

/** The header every generated shader starts with: what it is, and which model lines it implements. */
export function kernelHeader(name: string, description: string, source: readonly string[], enables: string[] = []): string {
  const lines = [`// ivc kernel: ${name}`, `// ${description}`];
  if (source.length) {
    lines.push("// source:");
    for (const s of source) lines.push(`//   ${s.replace(/\n/g, " ")}`);
  }
  for (const e of enables) lines.push(`enable ${e};`);
  return lines.join("\n") + "\n";
}

export const MAX_WORKGROUPS_PER_DIM = 65535;

/**
 * Spreads `groups` workgroups over x and y when they exceed one dimension's limit; the shader
 * linearises them back with `linearWorkgroup()` and guards the overshoot.
 */
export function grid1d(groups: number): Grid {
  const g = Math.max(1, groups);
  if (g <= MAX_WORKGROUPS_PER_DIM) return [g, 1, 1];
  const y = Math.ceil(g / MAX_WORKGROUPS_PER_DIM);
  return [Math.ceil(g / y), y, 1];
}

/** WGSL expression for the flat workgroup index under `grid1d`. */
export const LINEAR_WORKGROUP = "(wid.x + wid.y * nwg.x)";

export const ceilDiv = (a: number, b: number) => Math.ceil(a / b);

/** A float literal WGSL accepts for every finite number (and the extremes for infinities). */
export function f32Lit(v: number): string {
  if (v === Infinity) return "3.4028234663852886e38";
  if (v === -Infinity) return "-3.4028234663852886e38";
  if (Number.isNaN(v)) throw new Error("NaN literal in generated WGSL");
  const s = String(Math.fround(v));
  return /[.eE]/.test(s) ? s : `${s}.0`;
}
