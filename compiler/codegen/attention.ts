/**
 * Flash-attention style kernels for q [B*H, Lq, d], k [B*H, Lk, d], v [B*H, Lk, dv] (layouts
 * configurable), each one lane per row looping over the rows of another tensor, so the [Lq, Lk]
 * scores are never stored:
 * - forward: one lane per query, online softmax over all keys -> o;
 * - stats: one lane per query -> [logsumexp of the scores, rowsum(dO * O)] per query, the two numbers
 *   the backward recomputes probabilities and their gradient from;
 * - backward, two kernels: `dq` (one lane per query) and `dkdv` (one lane per key), both recomputing
 *   the probabilities from the stats.
 */
import {
  type AttentionShape,
  type AttentionTensor,
  chooseFetch,
  contiguousLayout,
  dot4,
  type HeadLayout,
  indent,
  loadRowBroadcast,
  loadRowDirect,
  MAX_GRID,
  rowOffset,
  type RowFetch,
  scoreExpr,
  SIMD_LANES,
  TILE_LANES,
  TILE_ROWS,
  valueWidth,
  vec4Layout,
} from "./attention-common.ts";
import { bindingDecls, ceilDiv, f32Lit, kernelHeader, simdLanes, storage, type AdapterProfile, type Kernel, type KernelBinding } from "./kernel.ts";

interface RowTensor {
  readonly binding: string;
  readonly prefix: string;
  readonly layout: HeadLayout;
  readonly vec: boolean;
  readonly width: number;
}

interface PairwiseSpec {
  readonly name: string;
  readonly description: string;
  readonly ownRows: number;
  readonly loopRows: number;
  readonly own: readonly RowTensor[];
  readonly loop: readonly RowTensor[];
  /** Per loop row scalars: `let name = expr;` (expr may use `bh` and `j`). */
  readonly loopScalars?: readonly { readonly name: string; readonly expr: string }[];
  readonly bindings: readonly KernelBinding[];
  readonly init: readonly string[];
  readonly body: readonly string[];
  /** Runs only for lanes whose own row exists. */
  readonly finish: readonly string[];
}

function pairwiseKernel(p: AttentionShape, spec: PairwiseSpec, profile: AdapterProfile): Kernel {
  const fetch: RowFetch = chooseFetch(profile, spec.loop.every((t) => t.vec));
  const lanes = fetch === "tile" ? TILE_LANES : (simdLanes(profile) ?? SIMD_LANES);
  const source = p.source ?? [];
  const heads = p.batch * p.heads;
  // Software lanes own several rows when the rows are short (at most 64 wide): every fetched loop row
  // then feeds that many rows' arithmetic. Four rows per lane where there are at least 256 of them
  // (the ViT block's 392-token attention: 46 -> 42 ms for its four kernels; six or eight rows spill
  // and lose), else two (a 17-token sequence would leave most of a 32-row workgroup idle).
  const perLane = fetch !== "tile" && Math.max(p.d, valueWidth(p)) <= 64 ? (spec.ownRows >= 256 ? 4 : 2) : 1;
  const owns = [...Array(perLane).keys()];
  // Spec strings mark per-own-row names with '@'; each own row gets its own suffix.
  const forOwn = (i: number, lines: readonly string[]) => lines.map((l) => l.replace(/@/g, `_${i}_`));
  const ownLoads = owns.flatMap((i) =>
    forOwn(i, spec.own.flatMap((t) => loadRowDirect(t.binding, t.prefix, rowOffset(t.layout, p.heads, "bh", "own@", t.vec), t.width, t.vec))),
  );
  const body = owns.flatMap((i) => ["{", ...forOwn(i, spec.body).map((l) => "  " + l), "}"]);
  const scalarLoads = (spec.loopScalars ?? []).map((s) => `let ${s.name} = ${s.expr};`);
  let loop: string;
  if (fetch === "tile") {
    const stage = spec.loop.map((t) => {
      const w4 = Math.ceil(t.width / 4);
      const off = rowOffset(t.layout, p.heads, "bh", `min(t0 + e / ${w4}u, ${spec.loopRows - 1}u)`, t.vec);
      const value = t.vec
        ? `${t.binding}[${off} + c]`
        : `vec4<f32>(${[0, 1, 2, 3].map((q) => `select(0.0, ${t.binding}[${off} + min(c * 4u + ${q}u, ${t.width - 1}u)], c * 4u + ${q}u < ${t.width}u)`).join(", ")})`;
      return `    for (var e = lane; e < ${TILE_ROWS * w4}u; e += ${TILE_LANES}u) { let c = e % ${w4}u; tile_${t.prefix}[e] = ${value}; }`;
    });
    const fromTile = spec.loop.flatMap((t) => {
      const w4 = Math.ceil(t.width / 4);
      return [...Array(w4).keys()].map((c) => `let ${t.prefix}${c} = tile_${t.prefix}[jj * ${w4}u + ${c}u];`);
    });
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
      return fetch === "broadcast" ? loadRowBroadcast(t.binding, t.prefix, off, t.width, lanes) : loadRowDirect(t.binding, t.prefix, off, t.width, t.vec);
    });
    loop = `  for (var j = 0u; j < ${spec.loopRows}u; j++) {
${indent([...rowLoads, ...scalarLoads, ...body], 4)}
  }`;
  }
  const tileDecls = fetch === "tile" ? spec.loop.map((t) => `var<workgroup> tile_${t.prefix}: array<vec4<f32>, ${TILE_ROWS * Math.ceil(t.width / 4)}>;`).join("\n") : "";
  // Past MAX_GRID heads the grid spills into z; the overshoot returns as a whole workgroup (uniformly).
  const spill = heads > MAX_GRID;
  const headIndex = spill ? `  let bh = wid.y + wid.z * ${MAX_GRID}u;\n  if (bh >= ${heads}u) { return; }` : "  let bh = wid.y;";
  const widths = p.d === valueWidth(p) ? `d=${p.d}` : `d=${p.d} dv=${valueWidth(p)}`;
  const wgsl = `${kernelHeader(spec.name, `${spec.description}; B=${p.batch} H=${p.heads} Lq=${p.lq} Lk=${p.lk} ${widths}; ${perLane} row(s) per lane, loop rows fetched by ${fetch}`, source, fetch === "broadcast" ? ["subgroups"] : [])}
${bindingDecls(spec.bindings)}
${tileDecls}

@compute @workgroup_size(${lanes})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lane: u32) {
${headIndex}
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
    dispatch: (units = heads) => [ceilDiv(spec.ownRows, lanes * perLane), Math.min(units, MAX_GRID), ceilDiv(units, MAX_GRID)],
    bindings: spec.bindings,
    source,
  };
}

const KEY_ROWS: ReadonlySet<AttentionTensor> = new Set(["k", "v", "dk", "dv"]);
const VALUE_WIDTH: ReadonlySet<AttentionTensor> = new Set(["v", "o", "dout", "dv"]);
const ALL_TENSORS: readonly AttentionTensor[] = ["q", "k", "v", "o", "dout", "dq", "dk", "dv"];

const widthOf = (p: AttentionShape, t: AttentionTensor) => (VALUE_WIDTH.has(t) ? valueWidth(p) : p.d);
const layoutOf = (p: AttentionShape, t: AttentionTensor) => p.layouts?.[t] ?? contiguousLayout(p.heads, KEY_ROWS.has(t) ? p.lk : p.lq, widthOf(p, t));
const bindingOf = (p: AttentionShape, t: AttentionTensor) => p.bindings?.[t] ?? t;

/** A binding is vec4 only when every tensor bound to it is. */
function bindingIsVec(p: AttentionShape, binding: string): boolean {
  return ALL_TENSORS.filter((t) => bindingOf(p, t) === binding).every((t) => vec4Layout(layoutOf(p, t), widthOf(p, t)));
}

function tensor(p: AttentionShape, t: AttentionTensor, prefix: string): RowTensor {
  const binding = bindingOf(p, t);
  return { binding, prefix, layout: layoutOf(p, t), vec: bindingIsVec(p, binding), width: widthOf(p, t) };
}

/** Storage declarations of `tensors`, one per binding, with the bias and the stats where used. */
function declare(p: AttentionShape, reads: readonly AttentionTensor[], extraReads: readonly string[], writes: readonly AttentionTensor[], extraWrites: readonly string[]): KernelBinding[] {
  const out: KernelBinding[] = [];
  const add = (name: string, access: "read" | "read_write", elem: "f32" | "vec4f") => {
    if (!out.some((b) => b.kind === "storage" && b.name === name)) out.push(storage(name, access, elem));
  };
  for (const t of reads) add(bindingOf(p, t), "read", bindingIsVec(p, bindingOf(p, t)) ? "vec4f" : "f32");
  if (p.bias) add("bias", "read", "f32");
  for (const name of extraReads) add(name, "read", "f32");
  for (const t of writes) add(bindingOf(p, t), "read_write", bindingIsVec(p, bindingOf(p, t)) ? "vec4f" : "f32");
  for (const name of extraWrites) add(name, "read_write", "f32");
  return out;
}

/** Stores vec4 accumulators `${acc}c` (times `factor`) into row `own` of `t`. */
function storeRow(p: AttentionShape, t: RowTensor, acc: string, factor: string): string[] {
  const w4 = Math.ceil(t.width / 4);
  const out = [`let ${t.prefix}so = ${rowOffset(t.layout, p.heads, "bh", "own@", t.vec)};`];
  for (let c = 0; c < w4; c++) {
    if (t.vec) out.push(`${t.binding}[${t.prefix}so + ${c}u] = ${acc}${c} * ${factor};`);
    else for (let q = 0; q < 4 && c * 4 + q < t.width; q++) out.push(`${t.binding}[${t.prefix}so + ${c * 4 + q}u] = ${acc}${c}[${q}] * ${factor};`);
  }
  return out;
}

const accDecls = (name: string, width: number) => [...Array(Math.ceil(width / 4)).keys()].map((c) => `var ${name}${c} = vec4<f32>(0.0);`);
const accUpdate = (name: string, width: number, rhs: (c: number) => string) => [...Array(Math.ceil(width / 4)).keys()].map((c) => `${name}${c} = ${rhs(c)};`);

/** Element `column` (0: logsumexp, 1: rowsum(dO * O)) of query `row`'s stats. */
const statsAt = (p: AttentionShape, row: string, column: 0 | 1) => `stats[(bh * ${p.lq}u + ${row}) * 2u${column ? " + 1u" : ""}]`;

const baseName = (p: AttentionShape, what: string) => p.name ?? `attention_${what}_${p.batch * p.heads}x${p.lq}x${p.lk}x${p.d}${valueWidth(p) === p.d ? "" : `x${valueWidth(p)}`}`;

/** One lane per query looping over the keys (forward, stats, dq). */
const perQuery = (p: AttentionShape) => ({ ownRows: p.lq, loopRows: p.lk });
/** The score of the lane's own query against key j, as `s`. */
const queryScore = (p: AttentionShape) => `let s = ${scoreExpr(p, dot4("q@", "k", p.d), "bh", "own@", "j")};`;

/** Online max and sum of exp over the keys, per own row: `m@`, `l@`, updated from `s` (then `m@ = mNew`). */
const ONLINE_INIT = ["var m@ = -3.4028234663852886e38;", "var l@ = 0.0;"];
const ONLINE_STEP = ["let mNew = max(m@, s);", "let corr = exp(m@ - mNew);", "let pj = exp(s - mNew);", "l@ = l@ * corr + pj;"];

/** Bindings: q, k, v, [bias] -> o. */
export function attentionForward(p: AttentionShape, profile: AdapterProfile): Kernel {
  const [q, k, v, o] = [tensor(p, "q", "q@"), tensor(p, "k", "k"), tensor(p, "v", "v"), tensor(p, "o", "o")];
  return pairwiseKernel(
    p,
    {
      name: baseName(p, "fwd"),
      description: "attention forward: softmax(q k^T * scale + bias) v, online softmax",
      ...perQuery(p),
      own: [q],
      loop: [k, v],
      bindings: declare(p, ["q", "k", "v"], [], ["o"], []),
      init: [...ONLINE_INIT, ...accDecls("acc@", v.width)],
      body: [
        queryScore(p),
        ...ONLINE_STEP,
        ...accUpdate("acc@", v.width, (c) => `acc@${c} * corr + pj * v${c}`),
        "m@ = mNew;",
      ],
      finish: ["let inv = 1.0 / l@;", ...storeRow(p, o, "acc@", "inv")],
    },
    profile,
  );
}

/** Bindings: q, k, [bias], o, dout -> stats ([B*H, Lq, 2]: logsumexp of the scores, rowsum(dout * o)). */
export function attentionStats(p: AttentionShape, profile: AdapterProfile): Kernel {
  const [q, k, o, dO] = [tensor(p, "q", "q@"), tensor(p, "k", "k"), tensor(p, "o", "o@"), tensor(p, "dout", "dO@")];
  return pairwiseKernel(
    p,
    {
      name: baseName(p, "stats"),
      description: "attention backward stats: logsumexp_j(q k_j^T * scale + bias), rowsum(dO * O)",
      ...perQuery(p),
      own: [q, o, dO],
      loop: [k],
      bindings: declare(p, ["q", "k", "o", "dout"], [], [], ["stats"]),
      init: [...ONLINE_INIT, `let D@ = ${dot4("dO@", "o@", o.width)};`],
      body: [queryScore(p), ...ONLINE_STEP, "m@ = mNew;"],
      finish: [`${statsAt(p, "own@", 0)} = m@ + log(l@);`, `${statsAt(p, "own@", 1)} = D@;`],
    },
    profile,
  );
}

/** After `attentionStats`. Bindings: q, k, v, [bias], dout, stats -> dq. */
export function attentionGradQ(p: AttentionShape, profile: AdapterProfile): Kernel {
  // '@' marks names that belong to the lane's own row (see pairwiseKernel).
  const [q, dO, k, v, dq] = [tensor(p, "q", "q@"), tensor(p, "dout", "dO@"), tensor(p, "k", "k"), tensor(p, "v", "v"), tensor(p, "dq", "dq")];
  return pairwiseKernel(
    p,
    {
      name: `${baseName(p, "bwd")}_dq`,
      description: "attention backward, dq = sum_j p_ij (dO_i . v_j - D_i) k_j * scale",
      ...perQuery(p),
      own: [q, dO],
      loop: [k, v],
      bindings: declare(p, ["q", "k", "v", "dout"], ["stats"], ["dq"], []),
      init: [`let lseI@ = ${statsAt(p, "own@", 0)};`, `let D@ = ${statsAt(p, "own@", 1)};`, ...accDecls("acc@", p.d)],
      body: [
        queryScore(p),
        "let pj = exp(s - lseI@);",
        `let ds = pj * (${dot4("dO@", "v", v.width)} - D@);`,
        ...accUpdate("acc@", p.d, (c) => `acc@${c} + ds * k${c}`),
      ],
      finish: storeRow(p, dq, "acc@", f32Lit(p.scale ?? 1 / Math.sqrt(p.d))),
    },
    profile,
  );
}

/** After `attentionStats`. Bindings: q, k, v, [bias], dout, stats -> dk, dv (one binding when `bindings` maps both to one name). */
export function attentionGradKV(p: AttentionShape, profile: AdapterProfile): Kernel {
  const [k, v, q, dO] = [tensor(p, "k", "k@"), tensor(p, "v", "v@"), tensor(p, "q", "q"), tensor(p, "dout", "dO")];
  const [dk, dv] = [tensor(p, "dk", "dk"), tensor(p, "dv", "dv")];
  return pairwiseKernel(
    p,
    {
      name: `${baseName(p, "bwd")}_dkdv`,
      description: "attention backward, dv = sum_i p_ij dO_i, dk = sum_i p_ij (dO_i . v_j - D_i) q_i * scale",
      ownRows: p.lk,
      loopRows: p.lq,
      own: [k, v],
      loop: [q, dO],
      loopScalars: [
        { name: "lseJ", expr: statsAt(p, "j", 0) },
        { name: "DJ", expr: statsAt(p, "j", 1) },
      ],
      bindings: declare(p, ["q", "k", "v", "dout"], ["stats"], ["dk", "dv"], []),
      init: [...accDecls("accK@", p.d), ...accDecls("accV@", v.width)],
      body: [
        `let pj = exp(${scoreExpr(p, dot4("q", "k@", p.d), "bh", "j", "own@")} - lseJ);`,
        `let ds = pj * (${dot4("dO", "v@", v.width)} - DJ);`,
        ...accUpdate("accV@", v.width, (c) => `accV@${c} + pj * dO${c}`),
        ...accUpdate("accK@", p.d, (c) => `accK@${c} + ds * q${c}`),
      ],
      finish: [...storeRow(p, dk, "accK@", f32Lit(p.scale ?? 1 / Math.sqrt(p.d))), ...storeRow(p, dv, "accV@", "1.0")],
    },
    profile,
  );
}

/** Both backward kernels (dq, then dk and dv); run after `attentionStats`. */
export function attentionBackward(p: AttentionShape, profile: AdapterProfile): Kernel[] {
  return [attentionGradQ(p, profile), attentionGradKV(p, profile)];
}
