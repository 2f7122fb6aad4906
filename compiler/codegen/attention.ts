/**
 * Flash-attention style kernels for q [B*H, Lq, d], k/v [B*H, Lk, d] (layouts configurable):
 * - forward: one lane per query, online softmax over all keys, never materialising the scores;
 *   writes o and the row logsumexp;
 * - backward, two kernels: `dq` (one lane per query; also writes D = rowsum(dO * O)) and `dkdv`
 *   (one lane per key), both recomputing probabilities from the saved logsumexp.
 */
import {
  chooseFetch,
  dot4,
  indent,
  layoutOf,
  loadRowBroadcast,
  loadRowDirect,
  rowOffset,
  scoreExpr,
  SIMD_LANES,
  TILE_LANES,
  TILE_ROWS,
  vec4Layout,
  type AttentionShape,
  type HeadLayout,
  type RowFetch,
} from "./attention-common.ts";
import { bindingDecls, ceilDiv, f32Lit, kernelHeader, storage, type AdapterProfile, type Kernel, type KernelBinding } from "./kernel.ts";

interface RowTensor {
  readonly buffer: string;
  readonly prefix: string;
  readonly layout: HeadLayout;
  readonly vec: boolean;
}

interface PairwiseSpec {
  readonly name: string;
  readonly description: string;
  readonly ownRows: number;
  readonly loopRows: number;
  readonly own: readonly RowTensor[];
  readonly loop: readonly RowTensor[];
  /** Per loop row scalars: `let name = buffer[bh * loopRows + j];` */
  readonly loopScalars: readonly { readonly name: string; readonly buffer: string }[];
  readonly reads: readonly KernelBinding[];
  readonly writes: readonly KernelBinding[];
  readonly init: readonly string[];
  readonly body: readonly string[];
  /** Runs only for lanes whose own row exists. */
  readonly finish: readonly string[];
}

function pairwiseKernel(p: AttentionShape, spec: PairwiseSpec, profile: AdapterProfile): Kernel {
  const fetch: RowFetch = chooseFetch(profile.software, profile.subgroups, profile.subgroupSize, spec.loop.every((t) => t.vec));
  const lanes = fetch === "tile" ? TILE_LANES : SIMD_LANES;
  const d = p.d;
  const d4 = Math.ceil(d / 4);
  const source = p.source ?? [];
  const bindings = [...spec.reads, ...spec.writes];
  // Software lanes own two rows when d is small enough to keep both in registers: every fetched loop
  // row then feeds two rows' worth of arithmetic.
  const perLane = fetch !== "tile" && d <= 64 ? 2 : 1;
  const owns = [...Array(perLane).keys()];
  // Spec strings mark per-own-row names with '@'; each own row gets its own suffix.
  const forOwn = (i: number, lines: readonly string[]) => lines.map((l) => l.replace(/@/g, `_${i}_`));
  const ownLoads = owns.flatMap((i) =>
    forOwn(i, spec.own.flatMap((t) => loadRowDirect(t.buffer, t.prefix, rowOffset(t.layout, p.heads, "bh", "own@", t.vec), d, t.vec))),
  );
  const body = owns.flatMap((i) => ["{", ...forOwn(i, spec.body).map((l) => "  " + l), "}"]);
  const scalarLoads = spec.loopScalars.map((s) => `let ${s.name} = ${s.buffer}[bh * ${spec.loopRows}u + j];`);
  let loop: string;
  if (fetch === "tile") {
    const stage = spec.loop.map((t) => {
      const off = rowOffset(t.layout, p.heads, "bh", `min(t0 + e / ${d4}u, ${spec.loopRows - 1}u)`, t.vec);
      const value = t.vec
        ? `${t.buffer}[${off} + c]`
        : `vec4<f32>(${[0, 1, 2, 3].map((q) => `select(0.0, ${t.buffer}[${off} + min(c * 4u + ${q}u, ${d - 1}u)], c * 4u + ${q}u < ${d}u)`).join(", ")})`;
      return `    for (var e = lane; e < ${TILE_ROWS * d4}u; e += ${TILE_LANES}u) { let c = e % ${d4}u; tile_${t.prefix}[e] = ${value}; }`;
    });
    const fromTile = spec.loop.flatMap((t) => [...Array(d4).keys()].map((c) => `let ${t.prefix}${c} = tile_${t.prefix}[jj * ${d4}u + ${c}u];`));
    loop = `  for (var t0 = 0u; t0 < ${spec.loopRows}u; t0 += ${TILE_ROWS}u) {
${stage.join("\n")}
    workgroupBarrier();
    for (var jj = 0u; jj < min(${TILE_ROWS}u, ${spec.loopRows}u - t0); jj++) {
      let j = t0 + jj;
${indent([...fromTile, ...scalarLoads, ...body], 6)}
    }
    workgroupBarrier();
  }`;
  } else {
    const rowLoads = spec.loop.flatMap((t) => {
      const off = rowOffset(t.layout, p.heads, "bh", "j", t.vec);
      return fetch === "broadcast" ? loadRowBroadcast(t.buffer, t.prefix, off, d) : loadRowDirect(t.buffer, t.prefix, off, d, t.vec);
    });
    loop = `  for (var j = 0u; j < ${spec.loopRows}u; j++) {
${indent([...rowLoads, ...scalarLoads, ...body], 4)}
  }`;
  }
  const tileDecls = fetch === "tile" ? spec.loop.map((t) => `var<workgroup> tile_${t.prefix}: array<vec4<f32>, ${TILE_ROWS * d4}>;`).join("\n") : "";
  const wgsl = `${kernelHeader(spec.name, `${spec.description}; B=${p.batch} H=${p.heads} Lq=${p.lq} Lk=${p.lk} d=${d}; ${perLane} row(s) per lane, loop rows fetched by ${fetch}`, source, fetch === "broadcast" ? ["subgroups"] : [])}
${bindingDecls(bindings)}
${tileDecls}

@compute @workgroup_size(${lanes})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lane: u32) {
  let bh = wid.y;
  // Lanes past the end compute on the last row (keeping subgroup and barrier control flow uniform) and store nothing.
${owns.map((i) => `  let ownRaw_${i}_ = wid.x * ${lanes * perLane}u + ${i * lanes}u + lane;\n  let own_${i}_ = min(ownRaw_${i}_, ${spec.ownRows - 1}u);`).join("\n")}
${indent(ownLoads, 2)}
${indent(owns.flatMap((i) => forOwn(i, spec.init)), 2)}
${loop}
${owns.map((i) => `  if (ownRaw_${i}_ < ${spec.ownRows}u) {\n${indent(forOwn(i, spec.finish), 4)}\n  }`).join("\n")}
}
`;
  return {
    name: spec.name,
    wgsl,
    entryPoint: "main",
    workgroupSize: [lanes, 1, 1],
    dispatch: (bhCount = p.batch * p.heads) => [ceilDiv(spec.ownRows, lanes * perLane), bhCount, 1],
    bindings,
    source,
  };
}

function tensor(p: AttentionShape, buffer: string, prefix: string, rows: number): RowTensor {
  const layout = layoutOf(p, buffer, rows);
  return { buffer, prefix, layout, vec: vec4Layout(layout, p.d) };
}

function binding(t: RowTensor, access: "read" | "read_write"): KernelBinding {
  return storage(t.buffer, access, t.vec ? "vec4f" : "f32");
}

/** Stores vec4 accumulators `${acc}c` (times `factor`) into row `own` of `t`. */
function storeRow(p: AttentionShape, t: RowTensor, acc: string, factor: string): string[] {
  const d4 = Math.ceil(p.d / 4);
  const out = [`let ${t.prefix}so = ${rowOffset(t.layout, p.heads, "bh", "own@", t.vec)};`];
  for (let c = 0; c < d4; c++) {
    if (t.vec) out.push(`${t.buffer}[${t.prefix}so + ${c}u] = ${acc}${c} * ${factor};`);
    else for (let q = 0; q < 4 && c * 4 + q < p.d; q++) out.push(`${t.buffer}[${t.prefix}so + ${c * 4 + q}u] = ${acc}${c}[${q}] * ${factor};`);
  }
  return out;
}

const accDecls = (name: string, d: number) => [...Array(Math.ceil(d / 4)).keys()].map((c) => `var ${name}${c} = vec4<f32>(0.0);`);
const accUpdate = (name: string, d: number, rhs: (c: number) => string) => [...Array(Math.ceil(d / 4)).keys()].map((c) => `${name}${c} = ${rhs(c)};`);

function biasBinding(p: AttentionShape): KernelBinding[] {
  return p.bias ? [storage("bias", "read")] : [];
}

/** Bindings: q, k, v, [bias] -> o, lse ([B*H, Lq]). */
export function attentionForward(p: AttentionShape, profile: AdapterProfile): Kernel {
  const q = tensor(p, "q", "q@", p.lq);
  const k = tensor(p, "k", "k", p.lk);
  const v = tensor(p, "v", "v", p.lk);
  const o = tensor(p, "o", "o", p.lq);
  return pairwiseKernel(
    p,
    {
      name: p.name ?? `attention_fwd_${p.batch * p.heads}x${p.lq}x${p.lk}x${p.d}`,
      description: "attention forward: softmax(q k^T * scale + bias) v, online softmax, saves logsumexp",
      ownRows: p.lq,
      loopRows: p.lk,
      own: [q],
      loop: [k, v],
      loopScalars: [],
      reads: [binding(q, "read"), binding(k, "read"), binding(v, "read"), ...biasBinding(p)],
      writes: [binding(o, "read_write"), storage("lse", "read_write")],
      init: ["var m@ = -3.4028234663852886e38;", "var l@ = 0.0;", ...accDecls("acc@", p.d)],
      body: [
        `let s = ${scoreExpr(p, dot4("q@", "k", p.d), "bh", "own@", "j")};`,
        "let mNew = max(m@, s);",
        "let corr = exp(m@ - mNew);",
        "let pj = exp(s - mNew);",
        "l@ = l@ * corr + pj;",
        ...accUpdate("acc@", p.d, (c) => `acc@${c} * corr + pj * v${c}`),
        "m@ = mNew;",
      ],
      finish: ["let inv = 1.0 / l@;", ...storeRow(p, o, "acc@", "inv"), `lse[bh * ${p.lq}u + own@] = m@ + log(l@);`],
    },
    profile,
  );
}

/**
 * Two kernels, run in order:
 *   dq:   q, k, v, [bias], o, dout, lse -> dq, dsum   (dsum = rowsum(dout * o), [B*H, Lq])
 *   dkdv: q, k, v, [bias], dout, lse, dsum -> dk, dv
 */
export function attentionBackward(p: AttentionShape, profile: AdapterProfile): Kernel[] {
  const scale = f32Lit(p.scale ?? 1 / Math.sqrt(p.d));
  const base = p.name ?? `attention_bwd_${p.batch * p.heads}x${p.lq}x${p.lk}x${p.d}`;
  // '@' marks names that belong to the lane's own row (see pairwiseKernel).
  const [q, qOwn] = [tensor(p, "q", "q", p.lq), tensor(p, "q", "q@", p.lq)];
  const [k, kOwn] = [tensor(p, "k", "k", p.lk), tensor(p, "k", "k@", p.lk)];
  const [v, vOwn] = [tensor(p, "v", "v", p.lk), tensor(p, "v", "v@", p.lk)];
  const o = tensor(p, "o", "o@", p.lq);
  const [dO, dOOwn] = [tensor(p, "dout", "dO", p.lq), tensor(p, "dout", "dO@", p.lq)];
  const dq = tensor(p, "dq", "dq", p.lq);
  const dk = tensor(p, "dk", "dk", p.lk);
  const dv = tensor(p, "dv", "dv", p.lk);
  const dqKernel = pairwiseKernel(
    p,
    {
      name: `${base}_dq`,
      description: "attention backward, dq = sum_j p_ij (dO_i . v_j - D_i) k_j * scale",
      ownRows: p.lq,
      loopRows: p.lk,
      own: [qOwn, dOOwn, o],
      loop: [k, v],
      loopScalars: [],
      reads: [binding(q, "read"), binding(k, "read"), binding(v, "read"), ...biasBinding(p), binding(o, "read"), binding(dO, "read"), storage("lse", "read")],
      writes: [binding(dq, "read_write"), storage("dsum", "read_write")],
      init: [`let D@ = ${dot4("dO@", "o@", p.d)};`, `let lseI@ = lse[bh * ${p.lq}u + own@];`, ...accDecls("acc@", p.d)],
      body: [
        `let pj = exp(${scoreExpr(p, dot4("q@", "k", p.d), "bh", "own@", "j")} - lseI@);`,
        `let ds = pj * (${dot4("dO@", "v", p.d)} - D@);`,
        ...accUpdate("acc@", p.d, (c) => `acc@${c} + ds * k${c}`),
      ],
      finish: [...storeRow(p, dq, "acc@", scale), `dsum[bh * ${p.lq}u + own@] = D@;`],
    },
    profile,
  );
  const dkdvKernel = pairwiseKernel(
    p,
    {
      name: `${base}_dkdv`,
      description: "attention backward, dv = sum_i p_ij dO_i, dk = sum_i p_ij (dO_i . v_j - D_i) q_i * scale",
      ownRows: p.lk,
      loopRows: p.lq,
      own: [kOwn, vOwn],
      loop: [q, dO],
      loopScalars: [
        { name: "lseJ", buffer: "lse" },
        { name: "DJ", buffer: "dsum" },
      ],
      reads: [binding(q, "read"), binding(k, "read"), binding(v, "read"), ...biasBinding(p), binding(dO, "read"), storage("lse", "read"), storage("dsum", "read")],
      writes: [binding(dk, "read_write"), binding(dv, "read_write")],
      init: [...accDecls("accK@", p.d), ...accDecls("accV@", p.d)],
      body: [
        `let pj = exp(${scoreExpr(p, dot4("q", "k@", p.d), "bh", "j", "own@")} - lseJ);`,
        `let ds = pj * (${dot4("dO", "v@", p.d)} - DJ);`,
        ...accUpdate("accV@", p.d, (c) => `accV@${c} + pj * dO${c}`),
        ...accUpdate("accK@", p.d, (c) => `accK@${c} + ds * q${c}`),
      ],
      finish: [...storeRow(p, dk, "accK@", scale), ...storeRow(p, dv, "accV@", "1.0")],
    },
    profile,
  );
  return [dqKernel, dkdvKernel];
}
