/**
 * Reductions over one axis of a tensor viewed as [outer, length, inner] through strides (so the
 * last axis, a middle axis, or a permuted view all use one kernel), with a prologue on each element
 * and an epilogue on the result; and column partial sums for parameter gradients.
 */
import { bindingDecls, ceilDiv, f32Lit, grid1d, kernelHeader, LINEAR_WORKGROUP, storage, type AdapterProfile, type Kernel, type KernelBinding } from "./kernel.ts";
import { helpersFor } from "./wgsl-math.ts";

export interface StridedReduceParams {
  readonly outer: number;
  readonly length: number;
  readonly inner: number;
  readonly op: "sum" | "max" | "mean";
  /** Element strides of the input's [outer, length, inner] view; default contiguous. */
  readonly strides?: { readonly outer: number; readonly length: number; readonly inner: number; readonly offset?: number };
  /** WGSL expression of `x` applied to each element (e.g. `x * x`). */
  readonly prologue?: string;
  /** WGSL expression of `r` applied to the result (e.g. `sqrt(r)`). */
  readonly epilogue?: string;
  readonly inputName?: string;
  readonly outputName?: string;
  readonly name?: string;
  readonly source?: readonly string[];
  /** Force one workgroup per output (tests); default: when outputs are few and rows long. */
  readonly workgroupPerOutput?: boolean;
}

const LANE_WG = 64;
const TREE_WG = 64;

export function stridedReduce(p: StridedReduceParams, profile: AdapterProfile): Kernel {
  const inName = p.inputName ?? "x";
  const outName = p.outputName ?? "y";
  const outputs = p.outer * p.inner;
  const st = p.strides ?? { outer: p.length * p.inner, length: p.inner, inner: 1, offset: 0 };
  const name = p.name ?? `reduce_${p.op}_${p.outer}x${p.length}x${p.inner}`;
  const source = p.source ?? [];
  const perOutput = p.workgroupPerOutput ?? (p.length >= 256 && outputs < (profile.software ? 64 : 4096));
  const bindings: KernelBinding[] = [storage(inName, "read"), storage(outName, "read_write")];
  const combineOp = p.op === "max" ? "max" : "sum";
  const ident = combineOp === "max" ? "-3.4028234663852886e38" : "0.0";
  const comb = (a: string, b: string) => (combineOp === "max" ? `max(${a}, ${b})` : `${a} + ${b}`);
  const pro = p.prologue ?? "x";
  const finish = p.op === "mean" ? `acc / ${f32Lit(p.length)}` : "acc";
  const epi = p.epilogue ?? "r";
  const addressing = `  let o = out / ${p.inner}u;
  let i = out % ${p.inner}u;
  let base = o * ${st.outer}u + i * ${st.inner}u + ${st.offset ?? 0}u;`;
  const accumulate = (from: string, step: string) => `  var acc = ${ident};
  for (var l = ${from}; l < ${p.length}u; l += ${step}) {
    let x = ${inName}[base + l * ${st.length}u];
    acc = ${comb("acc", `(${pro})`)};
  }`;
  const store = `  let r = ${finish};\n  ${outName}[out] = ${epi};`;
  const body = perOutput
    ? `  let out = ${LINEAR_WORKGROUP};
  if (out >= ${outputs}u) { return; }
${addressing}
${accumulate("lane", `${TREE_WG}u`)}
  red[lane] = acc;
  workgroupBarrier();
  for (var s = ${TREE_WG / 2}u; s > 0u; s >>= 1u) {
    if (lane < s) { red[lane] = ${comb("red[lane]", "red[lane + s]")}; }
    workgroupBarrier();
  }
  if (lane == 0u) {
    let acc = red[0];
${store.replace(/^/gm, "  ")}
  }`
    : `  let out = ${LINEAR_WORKGROUP} * ${LANE_WG}u + lane;
  if (out >= ${outputs}u) { return; }
${addressing}
${accumulate("0u", "1u")}
${store}`;
  const wgsl = `${kernelHeader(name, `${p.op} over axis of length ${p.length} ([${p.outer}, ${p.length}, ${p.inner}] view, strides ${st.outer}/${st.length}/${st.inner}), ${perOutput ? "workgroup" : "lane"} per output`, source)}
${bindingDecls(bindings)}
${perOutput ? `\nvar<workgroup> red: array<f32, ${TREE_WG}>;\n` : ""}
${helpersFor(pro + epi)}

@compute @workgroup_size(${perOutput ? TREE_WG : LANE_WG})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lane: u32) {
${body}
}
`;
  return {
    name,
    wgsl,
    entryPoint: "main",
    workgroupSize: [perOutput ? TREE_WG : LANE_WG, 1, 1],
    dispatch: (n = outputs) => grid1d(perOutput ? n : ceilDiv(n, LANE_WG)),
    bindings,
    source,
  };
}

export interface ColumnPartialsParams {
  readonly name: string;
  readonly rows: number;
  readonly length: number;
  readonly chunkRows: number;
  /** [rows, length] inputs, available as `v_<name>`. */
  readonly inputs: readonly string[];
  /** [rows] inputs, available as `r_<name>`. */
  readonly rowInputs?: readonly string[];
  /** Each writes [chunks, length]: the sum of `expr` over the chunk's rows, per column. */
  readonly sums: readonly { readonly buffer: string; readonly expr: string }[];
  readonly source?: readonly string[];
}

/**
 * One lane per (chunk of rows, column): neighbouring lanes read neighbouring columns, and each lane
 * accumulates down its chunk, so no lane waits on another.
 */
export function columnPartials(p: ColumnPartialsParams): Kernel {
  const chunks = Math.ceil(p.rows / p.chunkRows);
  const lanes = chunks * p.length;
  const source = p.source ?? [];
  const bindings: KernelBinding[] = [
    ...p.inputs.map((n) => storage(n, "read")),
    ...(p.rowInputs ?? []).map((n) => storage(n, "read")),
    ...p.sums.map((s) => storage(s.buffer, "read_write")),
  ];
  const body = `  let chunk = g / ${p.length}u;
  let j = g % ${p.length}u;
  let r0 = chunk * ${p.chunkRows}u;
  let r1 = min(r0 + ${p.chunkRows}u, ${p.rows}u);
${p.sums.map((_, k) => `  var acc${k} = 0.0;`).join("\n")}
  for (var r = r0; r < r1; r++) {
${p.inputs.map((n) => `    let v_${n} = ${n}[r * ${p.length}u + j];`).join("\n")}
${(p.rowInputs ?? []).map((n) => `    let r_${n} = ${n}[r];`).join("\n")}
${p.sums.map((s, k) => `    acc${k} += ${s.expr};`).join("\n")}
  }
${p.sums.map((s, k) => `  ${s.buffer}[g] = acc${k};`).join("\n")}`;
  const wgsl = `${kernelHeader(p.name, `column partial sums over chunks of ${p.chunkRows} rows of [${p.rows}, ${p.length}]`, source)}
${bindingDecls(bindings)}

@compute @workgroup_size(${LANE_WG})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lane: u32) {
  let g = ${LINEAR_WORKGROUP} * ${LANE_WG}u + lane;
  if (g >= ${lanes}u) { return; }
${body}
}
`;
  return {
    name: p.name,
    wgsl,
    entryPoint: "main",
    workgroupSize: [LANE_WG, 1, 1],
    dispatch: (n = lanes) => grid1d(ceilDiv(n, LANE_WG)),
    bindings,
    source,
  };
}
