/**
 * Fused elementwise kernels from a small expression tree. Every input carries its own strides over
 * the output shape, so broadcasts, permutes and slices cost index arithmetic, not a pass over memory.
 * Several outputs may share one pass. When the (collapsed) innermost axis is a multiple of 4, each
 * invocation handles 4 consecutive elements with vec4 arithmetic and 16-byte loads and stores.
 */
import type { BinaryOp, CompareOp, DType, UnaryOp } from "../ir/types.ts";
import { numel } from "./index-map.ts";
import { bindingDecls, ceilDiv, f32Lit, grid1d, kernelHeader, LINEAR_WORKGROUP, storage, type ElemType, type Kernel, type KernelBinding } from "./kernel.ts";
import { randomExpr, RNG_WGSL, type RandomDist } from "./rng.ts";
import { helpersFor } from "./wgsl-math.ts";

export type EwExpr =
  | { readonly op: "input"; readonly input: string }
  | { readonly op: "const"; readonly value: number; readonly dtype?: DType }
  /** Position along `axis` of the output shape. */
  | { readonly op: "iota"; readonly axis: number; readonly dtype?: "i32" | "f32" }
  /** Philox value for the element's flat output index, seeded by the step seed. */
  | { readonly op: "random"; readonly dist: RandomDist; readonly p?: number; readonly stream: number }
  | { readonly op: "unary"; readonly fn: UnaryOp; readonly x: EwExpr }
  | { readonly op: "binary"; readonly fn: BinaryOp; readonly a: EwExpr; readonly b: EwExpr }
  | { readonly op: "compare"; readonly fn: CompareOp; readonly a: EwExpr; readonly b: EwExpr }
  | { readonly op: "where"; readonly cond: EwExpr; readonly a: EwExpr; readonly b: EwExpr }
  | { readonly op: "cast"; readonly to: DType; readonly x: EwExpr };

export interface EwInput {
  readonly name: string;
  readonly dtype: DType;
  /** One stride per output axis (0 broadcasts). */
  readonly strides: readonly number[];
  readonly offset?: number;
}

export interface EwOutput {
  readonly name: string;
  readonly dtype: DType;
  readonly expr: EwExpr;
}

export interface ElementwiseParams {
  readonly shape: readonly number[];
  readonly inputs: readonly EwInput[];
  /** Stored contiguously in the output shape. */
  readonly outputs: readonly EwOutput[];
  /** Items (vec4 or scalar) each lane handles; default by size, up to 64. */
  readonly itemsPerLane?: number;
  readonly name?: string;
  readonly source?: readonly string[];
}

const WG = 64;

/**
 * Drops size-1 axes and merges neighbours along which every stride pattern is contiguous, so the
 * shader does as few divisions as the layouts allow. Returns, per original axis, its collapsed axis.
 */
export function collapseAxes(shape: readonly number[], strideSets: readonly (readonly number[])[]) {
  const sizes: number[] = [];
  const strides: number[][] = strideSets.map(() => []);
  const axisOf: number[] = [];
  shape.forEach((size, d) => {
    const last = sizes.length - 1;
    if (size === 1) {
      axisOf.push(Math.max(last, 0));
      return;
    }
    if (last >= 0 && strideSets.every((s, k) => strides[k][last] === s[d] * size)) {
      sizes[last] *= size;
      strideSets.forEach((s, k) => (strides[k][last] = s[d]));
      axisOf.push(last);
    } else {
      sizes.push(size);
      strideSets.forEach((s, k) => strides[k].push(s[d]));
      axisOf.push(sizes.length - 1);
    }
  });
  return { sizes, strides, axisOf };
}

function collectIotaAxes(e: EwExpr, out: Set<number>): void {
  if (e.op === "iota") out.add(e.axis);
  for (const child of children(e)) collectIotaAxes(child, out);
}

function children(e: EwExpr): EwExpr[] {
  switch (e.op) {
    case "unary":
    case "cast":
      return [e.x];
    case "binary":
    case "compare":
      return [e.a, e.b];
    case "where":
      return [e.cond, e.a, e.b];
    default:
      return [];
  }
}

function hasRandom(e: EwExpr): boolean {
  return e.op === "random" || children(e).some(hasRandom);
}

const vecElem: Record<DType, ElemType> = { f32: "vec4f", i32: "vec4i", bool: "vec4u" };
const scalarElem: Record<DType, ElemType> = { f32: "f32", i32: "i32", bool: "u32" };

export function elementwise(p: ElementwiseParams): Kernel {
  const total = numel(p.shape);
  const name = p.name ?? `elementwise_${p.outputs.map((o) => o.name).join("_")}_${p.shape.join("x")}`;
  const source = p.source ?? [];
  const iotaAxes = new Set<number>();
  for (const o of p.outputs) collectIotaAxes(o.expr, iotaAxes);
  const iotaList = [...iotaAxes];
  const strideSets = [
    ...p.inputs.map((i) => i.strides),
    ...iotaList.map((axis) => p.shape.map((_, d) => (d === axis ? 1 : 0))),
    // The contiguous output layout must survive collapsing too.
    p.shape.map((_, d) => numel(p.shape.slice(d + 1))),
  ];
  const col = collapseAxes(p.shape, strideSets);
  const rank = col.sizes.length;
  const innermost = rank ? col.sizes[rank - 1] : 1;
  const vec = total % 4 === 0 && innermost % 4 === 0;
  const W = vec ? 4 : 1;

  const inputMode = p.inputs.map((inp, k) => {
    const s = col.strides[k];
    const off = inp.offset ?? 0;
    if (!vec) return "scalar" as const;
    const last = rank ? s[rank - 1] : 0;
    if (last === 0) return "splat" as const;
    if (last === 1 && off % 4 === 0 && s.slice(0, -1).every((x) => x % 4 === 0)) return "vector" as const;
    return "gather" as const;
  });

  const bindings: KernelBinding[] = [
    ...p.inputs.map((inp, k) => storage(inp.name, "read", inputMode[k] === "vector" ? vecElem[inp.dtype] : scalarElem[inp.dtype])),
    ...p.outputs.map((o) => storage(o.name, "read_write", vec ? vecElem[o.dtype] : scalarElem[o.dtype])),
  ];
  const random = p.outputs.some((o) => hasRandom(o.expr));
  if (random) bindings.push({ kind: "dynamic", name: "dyn" });

  const ty = (d: DType) => {
    const s = d === "bool" ? "bool" : d;
    return vec ? `vec4<${s}>` : s;
  };
  const splat = (d: DType, x: string) => (vec ? `${ty(d)}(${x})` : x);

  // Element coordinates along the collapsed axes, for the first of the W elements.
  const coordLines: string[] = [];
  let inner = 1;
  const coords: string[] = new Array(rank);
  for (let d = rank - 1; d >= 0; d--) {
    const q = inner === 1 ? "ivc_e" : `(ivc_e / ${inner}u)`;
    coords[d] = `ivc_c${d}`;
    coordLines.push(`  let ivc_c${d} = ${d > 0 ? `${q} % ${col.sizes[d]}u` : q};`);
    inner *= col.sizes[d];
  }
  const offsetOf = (strides: readonly number[], base: number) => {
    const terms = strides.flatMap((s, d) => (s === 0 ? [] : [s === 1 ? coords[d] : `${coords[d]} * ${s}u`]));
    if (base) terms.push(`${base}u`);
    return terms.length ? terms.join(" + ") : "0u";
  };

  // Bool tensors live in memory as u32 0/1.
  const rawTy = (d: DType) => {
    const t = d === "bool" ? "u32" : d;
    return vec ? `vec4<${t}>` : t;
  };
  const loadLines = p.inputs.map((inp, k) => {
    const off = offsetOf(col.strides[k], inp.offset ?? 0);
    const conv = (x: string) => (inp.dtype === "bool" ? `(${x} != ${rawTy("bool")}(0u))` : x);
    const last = rank ? col.strides[k][rank - 1] : 0;
    switch (inputMode[k]) {
      case "scalar":
        return `  let in_${inp.name} = ${conv(`${inp.name}[${off}]`)};`;
      case "vector":
        return `  let in_${inp.name} = ${conv(`${inp.name}[(${off}) / 4u]`)};`;
      case "splat":
        return `  let in_${inp.name} = ${conv(`${rawTy(inp.dtype)}(${inp.name}[${off}])`)};`;
      case "gather": {
        const lanes = [0, 1, 2, 3].map((j) => `${inp.name}[o_${inp.name}${j ? ` + ${j * last}u` : ""}]`);
        return `  let o_${inp.name} = ${off};\n  let in_${inp.name} = ${conv(`${rawTy(inp.dtype)}(${lanes.join(", ")})`)};`;
      }
    }
  });

  const dtypeOf = (e: EwExpr): DType => {
    switch (e.op) {
      case "input":
        return p.inputs.find((i) => i.name === e.input)!.dtype;
      case "const":
        return e.dtype ?? "f32";
      case "iota":
        return e.dtype ?? "i32";
      case "random":
        return "f32";
      case "unary":
        return dtypeOf(e.x);
      case "binary":
        return dtypeOf(e.a);
      case "compare":
        return "bool";
      case "where":
        return dtypeOf(e.a);
      case "cast":
        return e.to;
    }
  };

  const h = vec ? "4" : "";
  const emit = (e: EwExpr): string => {
    switch (e.op) {
      case "input":
        if (!p.inputs.some((i) => i.name === e.input)) throw new Error(`elementwise '${name}': unknown input '${e.input}'`);
        return `in_${e.input}`;
      case "const": {
        const d = e.dtype ?? "f32";
        const lit = d === "f32" ? f32Lit(e.value) : d === "i32" ? `${e.value | 0}i` : e.value ? "true" : "false";
        return splat(d, lit);
      }
      case "iota": {
        const c = iotaCoord(e.axis);
        const v = vec ? (isLastAxis(e.axis) ? `vec4<u32>(${c}) + vec4<u32>(0u, 1u, 2u, 3u)` : `vec4<u32>(${c})`) : c;
        return `${ty(e.dtype ?? "i32")}(${v})`;
      }
      case "random": {
        const exprs = [...Array(W).keys()].map((j) => randomExpr(e.dist, e.p ?? 0.5, e.stream, "dyn.seed", j ? `ivc_e + ${j}u` : "ivc_e"));
        return vec ? `vec4<f32>(${exprs.join(", ")})` : exprs[0];
      }
      case "unary":
        return emitUnary(e.fn, emit(e.x), dtypeOf(e.x), h, ty);
      case "binary": {
        const [a, b] = [emit(e.a), emit(e.b)];
        const d = dtypeOf(e.a);
        switch (e.fn) {
          case "add":
            return `(${a} + ${b})`;
          case "sub":
            return `(${a} - ${b})`;
          case "mul":
            return `(${a} * ${b})`;
          case "div":
            return `(${a} / ${b})`;
          case "max":
            return `max(${a}, ${b})`;
          case "min":
            return `min(${a}, ${b})`;
          case "pow":
            return d === "f32" ? `ivc_pow${h}(${a}, ${b})` : `${ty("i32")}(ivc_pow${h}(${ty("f32")}(${a}), ${ty("f32")}(${b})))`;
        }
        break;
      }
      case "compare": {
        const ops: Record<CompareOp, string> = { lt: "<", le: "<=", gt: ">", ge: ">=", eq: "==", ne: "!=" };
        return `(${emit(e.a)} ${ops[e.fn]} ${emit(e.b)})`;
      }
      case "where":
        return `select(${emit(e.b)}, ${emit(e.a)}, ${emit(e.cond)})`;
      case "cast": {
        const from = dtypeOf(e.x);
        const x = emit(e.x);
        if (from === e.to) return x;
        if (e.to === "bool") return `(${x} != ${splat(from, from === "f32" ? "0.0" : "0i")})`;
        if (from === "bool") return `select(${splat(e.to, e.to === "f32" ? "0.0" : "0i")}, ${splat(e.to, e.to === "f32" ? "1.0" : "1i")}, ${x})`;
        return `${ty(e.to)}(${x})`;
      }
    }
    throw new Error(`unreachable`);
  };

  function isLastAxis(axis: number): boolean {
    return col.axisOf[axis] === rank - 1 && p.shape[axis] !== 1;
  }
  function iotaCoord(axis: number): string {
    if (p.shape[axis] === 1) return "0u";
    return coords[col.axisOf[axis]];
  }

  const storeLines = p.outputs.map((o) => {
    const v = emit(o.expr);
    const d = dtypeOf(o.expr);
    if (d !== o.dtype) throw new Error(`elementwise '${name}': output '${o.name}' is ${o.dtype} but its expression is ${d}`);
    const stored = o.dtype === "bool" ? `select(${vec ? "vec4<u32>(0u)" : "0u"}, ${vec ? "vec4<u32>(1u)" : "1u"}, ${v})` : v;
    return `  ${o.name}[ivc_i] = ${stored};`;
  });
  const body = [...loadLines, ...storeLines].join("\n");
  const invocations = total / W;
  // lavapipe pays a fixed cost per workgroup; large tensors get up to 64 items per lane (measured
  // 4: ~5.5, 16: ~5.4, 64: ~7.5 GB/s on x+y over 4M floats), small ones keep >= 32 workgroups.
  const U = p.itemsPerLane ?? Math.max(1, Math.min(64, Math.floor(invocations / (WG * 32))));
  const describeInputs = p.inputs.map((i) => `${i.name}(strides ${i.strides.join(",")})`).join(" ");
  const wgsl = `${kernelHeader(name, `elementwise over [${p.shape.join(", ")}]${vec ? ", vec4" : ""}; inputs ${describeInputs}`, source)}
${bindingDecls(bindings)}

${random ? RNG_WGSL : ""}
${helpersFor(body)}

@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lane: u32) {
  // Each workgroup covers ${U} blocks of ${WG} consecutive items, so one load instruction across the
  // SIMD lanes reads one contiguous span while per-invocation overhead is amortised.
  for (var ivc_k = 0u; ivc_k < ${U}u; ivc_k++) {
  let ivc_i = (${LINEAR_WORKGROUP} * ${U}u + ivc_k) * ${WG}u + lane;
  if (ivc_i >= ${invocations}u) { break; }
  let ivc_e = ivc_i * ${W}u;
${coordLines.join("\n")}
${body}
  }
}
`;
  return {
    name,
    wgsl,
    entryPoint: "main",
    workgroupSize: [WG, 1, 1],
    dispatch: (n = invocations) => grid1d(ceilDiv(n, WG * U)),
    bindings,
    source,
  };
}

function emitUnary(fn: UnaryOp, x: string, d: DType, h: string, ty: (d: DType) => string): string {
  if (d !== "f32" && !["neg", "abs", "sign", "relu"].includes(fn)) {
    throw new Error(`elementwise: '${fn}' needs an f32 operand (cast first), got ${d}`);
  }
  switch (fn) {
    case "neg":
      return `(-(${x}))`;
    case "abs":
    case "exp":
    case "log":
    case "sqrt":
    case "sin":
    case "cos":
    case "floor":
    case "sign":
      return `${fn}(${x})`;
    case "rsqrt":
      return `inverseSqrt(${x})`;
    case "recip":
      return `(1.0 / ${x})`;
    case "tanh":
      return `ivc_tanh${h}(${x})`;
    case "sigmoid":
      return `ivc_sigmoid${h}(${x})`;
    case "erf":
      return `ivc_erf${h}(${x})`;
    case "relu":
      return `max(${x}, ${ty(d)}(${d === "f32" ? "0.0" : "0i"}))`;
  }
}
