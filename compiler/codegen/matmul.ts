/**
 * Batched matmul C[b] = A[b] (M x K) * B[b] (K x N), with transposes, permutes and the patch view
 * of a stride=kernel convolution folded into per-operand index maps, and an elementwise epilogue.
 *
 * Two shapes, picked by the adapter profile:
 * - software (lavapipe): a workgroup is one SIMD pass of 8 lanes (16 with AVX-512 vectors) computing
 *   a 32 x 64 tile (64 x 64 at 16 lanes; see SIMD_TILES); each lane owns 32 rows x 2 vec4 columns
 *   (64 x 1); k is unrolled by 4; each lane loads four rows of the A slice and `subgroupBroadcast`
 *   hands them to the others (loads are the cost there, broadcasts are cheap).
 * - discrete: 16 x 16 threads, 64 x 64 tile, 4 x 4 per thread, operands staged in workgroup memory.
 */
import { epilogueFn, NO_EPILOGUE, type Epilogue } from "./epilogue.ts";
import { inVec4Units, isUnitStride, linear, offsetExpr, simplify, vec4Aligned, type IndexMap } from "./index-map.ts";
import { bindingDecls, ceilDiv, kernelHeader, MAX_WORKGROUPS_PER_DIM, simdLanes, storage, type AdapterProfile, type Grid, type Kernel, type KernelBinding } from "./kernel.ts";
import { helpersFor } from "./wgsl-math.ts";

export interface OperandMap {
  readonly batchStride: number;
  /** Over the operand's first logical axis (M for A and C, K for B). */
  readonly outer: IndexMap;
  /** Over its second logical axis (K for A, N for B and C). */
  readonly inner: IndexMap;
}

export interface MatmulParams {
  readonly batch: number;
  readonly M: number;
  readonly N: number;
  readonly K: number;
  readonly transA?: boolean;
  readonly transB?: boolean;
  /** 0 broadcasts one matrix over the batch. Default: contiguous batches. */
  readonly batchStrideA?: number;
  readonly batchStrideB?: number;
  /** Full index maps; when given they replace transA/transB/batchStride*. */
  readonly a?: OperandMap;
  readonly b?: OperandMap;
  readonly c?: OperandMap;
  readonly epilogue?: Epilogue;
  /**
   * Replaces the store of C: `code` defines `fn ivc_store(v: f32, b: u32, row: u32, col: u32, idx: u32)`
   * (idx: C's flat offset), which writes through `bindings` (bound after A and B) whatever the result
   * element feeds: the fused epilogue of a kernel group.
   */
  readonly store?: MatmulStore;
  /**
   * Computes A in the kernel instead of reading it (software SIMD tile with 8-wide subgroups only):
   * per lane, `code` fills `a_priv` (K floats as vec4s) with A's row `gi = b * M + row` (the lane's row,
   * clamped), storing side outputs where `side` is true (the lanes of the first column tile, on
   * real rows). A row kernel that feeds the matmul (LayerNorm) runs this way in the same dispatch.
   */
  readonly prologue?: MatmulStore;
  /**
   * The autotuner's knob (runtime/autotune.ts; `matmulTileChoices` lists the values). Software SIMD
   * tile: rows * 10 + column groups of 4 columns per lane, e.g. 322 for a workgroup of 8 lanes computing
   * 32 x 64 of C (default: by shape, `simdDefaultTile`). Discrete tile: rows and columns per thread of the 16 x 16 threads, a
   * workgroup computing (16 * tile)^2 of C (default 4). Every element is summed in the same order
   * whatever the tile: bit-identical results.
   */
  readonly tile?: number;
  /**
   * Set by `foldBatch`: the matmul is a batch of matmuls of this many rows folded into one; the
   * epilogue and the store still see the batch and row of the unfolded one.
   */
  readonly rowsPerBatch?: number;
  /** Binding names for the operands (default A, B, C), e.g. x/weight/y when a conv is a matmul. */
  readonly operandNames?: { readonly a: string; readonly b: string; readonly c: string };
  readonly name?: string;
  readonly source?: readonly string[];
}

export interface MatmulStore {
  readonly bindings: readonly KernelBinding[];
  readonly code: string;
}

export interface ResolvedMatmul {
  readonly batch: number;
  readonly M: number;
  readonly N: number;
  readonly K: number;
  readonly a: OperandMap;
  readonly b: OperandMap;
  readonly c: OperandMap;
}

export function resolveMatmul(p: MatmulParams): ResolvedMatmul {
  const { M, N, K } = p;
  const a: OperandMap = p.a ?? {
    batchStride: p.batchStrideA ?? M * K,
    outer: p.transA ? linear(M, 1) : linear(M, K),
    inner: p.transA ? linear(K, M) : linear(K, 1),
  };
  const b: OperandMap = p.b ?? {
    batchStride: p.batchStrideB ?? K * N,
    outer: p.transB ? linear(K, 1) : linear(K, N),
    inner: p.transB ? linear(N, K) : linear(N, 1),
  };
  const c: OperandMap = p.c ?? { batchStride: M * N, outer: linear(M, N), inner: linear(N, 1) };
  return { batch: p.batch, M, N, K, a, b, c };
}

function matmulBindings(p: MatmulParams, epi: Epilogue, aVec = false, bVec = false): KernelBinding[] {
  const operands = [...(p.prologue ? [] : [storage("A", "read", aVec ? "vec4f" : "f32")]), storage("B", "read", bVec ? "vec4f" : "f32"), ...(p.prologue?.bindings ?? [])];
  const all = p.store
    ? [...operands, ...p.store.bindings, ...epi.inputs.map((n) => storage(n, "read"))]
    : [...operands, storage("C", "read_write"), ...epi.inputs.map((n) => storage(n, "read"))];
  // The prologue and the epilogue may bind one buffer both: declared once, writable if either writes.
  const byName = new Map<string, KernelBinding>();
  for (const b of all) {
    const seen = byName.get(b.name);
    if (!seen || (b.kind === "storage" && b.access === "read_write")) byName.set(b.name, b);
  }
  return [...byName.values()];
}

/** The statement storing one result element (`b`, `row`, `col`, `idx` in scope). */
function storeElement(p: MatmulParams, value: string): string {
  const at = p.rowsPerBatch === undefined ? "b, row, col, idx" : `row / ${p.rowsPerBatch}u, row % ${p.rowsPerBatch}u, col, idx`;
  const v = `epilogue(${value}, ${at})`;
  return p.store ? `ivc_store(${v}, ${at});` : `C[idx] = ${v};`;
}

/** The epilogue function and the custom store, with the helpers either (or the prologue) calls. */
function storeCode(p: MatmulParams, epi: Epilogue): string {
  const code = [epilogueFn(epi), p.store?.code ?? ""].filter(Boolean).join("\n\n");
  return `${helpersFor(`${code}\n${p.prologue?.code ?? ""}`)}\n${code}`;
}

function defaultName(p: MatmulParams): string {
  const t = `${p.transA ? "T" : "N"}${p.transB ? "T" : "N"}`;
  return `matmul_${p.batch}x${p.M}x${p.N}x${p.K}_${t}`;
}

function describe(r: ResolvedMatmul, p: MatmulParams): string {
  const folded = p.rowsPerBatch === undefined ? "" : ` (a batch of ${r.M / p.rowsPerBatch} x ${p.rowsPerBatch} rows against one B)`;
  return `C[${r.batch}, ${r.M}, ${r.N}] = A[${r.batch}, ${r.M}, ${r.K}] * B[${r.batch}, ${r.K}, ${r.N}]${folded}`;
}

export function matmul(p: MatmulParams, profile: AdapterProfile): Kernel {
  const folded = foldBatch(p);
  const k = profile.software ? simdMatmul(folded, simdLanes(profile)) : tiledMatmul(folded);
  return p.operandNames ? renameOperands(k, p.operandNames) : k;
}

/**
 * A batch of matmuls against one B (a Linear layer over [B*T, L, C] activations) is one matmul of
 * batch * M rows, A's and C's batch axis becoming the outer axis of their row maps: the row tiles then
 * span batches instead of each batch's last tile computing clamped rows (UniFormerV2 tiny's 17-token
 * frames in 32-row tiles computed 15 of them per frame; a batch of single rows, 7 of 8). Same sums in
 * the same order: bit-identical. Not with a row prologue (its rows are the unfolded ones).
 */
export function foldBatch(p: MatmulParams): MatmulParams {
  if (p.batch === 1 || p.prologue || p.rowsPerBatch !== undefined) return p;
  const r = resolveMatmul(p);
  if (r.b.batchStride !== 0) return p;
  const rowsOver = (m: OperandMap): OperandMap => ({
    batchStride: 0,
    outer: { sizes: [r.batch, ...m.outer.sizes], strides: [m.batchStride, ...m.outer.strides], offset: m.outer.offset ?? 0 },
    inner: m.inner,
  });
  return { ...p, batch: 1, M: r.batch * r.M, a: rowsOver(r.a), b: r.b, c: rowsOver(r.c), rowsPerBatch: r.M };
}

function renameOperands(k: Kernel, names: { a: string; b: string; c: string }): Kernel {
  const map: Record<string, string> = { A: names.a, B: names.b, C: names.c };
  return {
    ...k,
    wgsl: k.wgsl.replace(/\b([ABC])(?=\[|: array)/g, (m) => map[m]),
    bindings: k.bindings.map((b) => (b.kind === "storage" && b.name in map ? { ...b, name: map[b.name] } : b)),
  };
}

/**
 * Row tiles go on grid y; past the 65535-per-dimension limit the surplus folds into x (x = column
 * tiles * folds), which only tall matrices (over half a million rows) need.
 */
function tileGrid(nTiles: number, mTiles: number, batch: number): Grid {
  const folds = Math.ceil(mTiles / MAX_WORKGROUPS_PER_DIM);
  return [nTiles * folds, Math.ceil(mTiles / folds), batch];
}

function tileIndex(nTiles: number, mTiles: number, rows: number, cols: number): string {
  const folds = Math.ceil(mTiles / MAX_WORKGROUPS_PER_DIM);
  if (folds === 1) return `  let m0 = wid.y * ${rows}u;\n  let n0 = wid.x * ${cols}u;`;
  const perFold = Math.ceil(mTiles / folds);
  // Uniform per workgroup, so the early return keeps barriers and subgroup ops in uniform control flow.
  return `  let mTile = (wid.x / ${nTiles}u) * ${perFold}u + wid.y;
  if (mTile >= ${mTiles}u) { return; }
  let m0 = mTile * ${rows}u;
  let n0 = (wid.x % ${nTiles}u) * ${cols}u;`;
}

/** Lanes of the software tile where the adapter has no usable subgroups (each lane loads its own rows of A). */
const PLAIN_LANES = 8;

/**
 * Software SIMD tiles, as the autotuner's `tile` codes: rows * 10 + column groups (a column group is
 * one vec4 per lane: 32 columns at 8 lanes, 64 at 16). Taller tiles share each B load among more rows;
 * lavapipe spills the accumulators to the stack either way, and a spill costs less than one of its
 * buffer loads: 32 x 64 measured 30-33 GFLOP/s at 1024^3 against 18 for 8 x 64 (2026-11-27, load ~0.5).
 * At 16 lanes a tile's rows are a multiple of 16 (each lane broadcasts rows / 16 of them).
 */
const SIMD_TILES: Readonly<Record<8 | 16, readonly number[]>> = { 8: [81, 82, 161, 162, 322, 641], 16: [161, 162, 321, 322, 641, 642] };
/**
 * What the autotuner times besides a kernel's default: the shapes that won on some matmul of the ViT
 * block and UniFormerV2 tiny steps. Each costs lavapipe a compile of 0.35-0.7 s per kernel.
 */
const SIMD_TUNE_TILES: Readonly<Record<8 | 16, readonly number[]>> = { 8: [82, 161, 322, 641], 16: [161, 321, 322, 641] };

/**
 * 32 rows, 64 columns; narrower and shorter where the matrix is (a 32-row tile over 9 rows computes
 * 23 clamped copies). Timed per kernel by the autotuner on the ViT block and UniFormerV2 tiny steps:
 * 32 x 64 was the fastest or within noise of it on every matmul with N >= 64. Narrow matrices get
 * 16 x 32, not 32 x 32: lavapipe takes 1.9 s to compile the 32 x 32 tile (0.4 s for 16 x 32, 0.7 s
 * for 32 x 64), for a gain within noise on the narrow matmuls measured. Without subgroup broadcasts,
 * the prologue tile (below).
 */
function simdDefaultTile(M: number, N: number, lanes: 8 | 16 | undefined): number {
  if (lanes === undefined) return SIMD_PROLOGUE_TILE;
  // 16 lanes: 64 x 64 (64 rows x one vec4 per lane): 1024^3 at 67-70 GFLOP/s against 53-55 for the
  // 8-lane 32 x 64 (2026-11-27, load ~1); 32 x 64, 64 x 128 and 128 x 64 at 16 lanes measured 48-56.
  if (lanes === 16) return M > 32 ? 641 : M > 16 ? 321 : 161;
  if (N <= 32) return M > 8 ? 161 : 81;
  return M > 16 ? 322 : M > 8 ? 162 : 82;
}
/**
 * A row prologue computes one row per lane: its matmul keeps the 8 x 64 tile. So does a software
 * adapter without 8-lane subgroups, where each row of A is a load of its own (taller tiles were not
 * measured there; the autotuner offers 16 x 64 besides).
 */
const SIMD_PROLOGUE_TILE = 82;

/** Columns of C one workgroup of the prologue tile computes (a row prologue runs once per such tile). */
export const SIMD_TILE_N = PLAIN_LANES * 4 * (SIMD_PROLOGUE_TILE % 10);

/**
 * `simdLanes`: the workgroup's lanes, sharing rows of A by `subgroupBroadcast` (undefined: 8 lanes
 * that each load their own rows).
 */
function simdMatmul(p: MatmulParams, simd: 8 | 16 | undefined): Kernel {
  const broadcast = simd !== undefined;
  const LANES = simd ?? PLAIN_LANES;
  const tileCode = p.tile ?? (p.prologue ? SIMD_PROLOGUE_TILE : simdDefaultTile(p.M, p.N, simd));
  if (!SIMD_TILES[LANES].includes(tileCode)) throw new Error(`internal: SIMD tile ${tileCode} is not one of ${SIMD_TILES[LANES].join(", ")} at ${LANES} lanes`);
  if (p.prologue && (tileCode !== SIMD_PROLOGUE_TILE || LANES !== 8)) throw new Error("internal: a matmul with a row prologue keeps the 8-lane 8 x 64 tile");
  const ROWS = Math.floor(tileCode / 10);
  const COL_GROUPS = tileCode % 10;
  // Rows of A each lane loads per k step and broadcasts to the others.
  const ROW_GROUPS = ROWS / LANES;
  const TILE_N = LANES * 4 * COL_GROUPS;
  const r = resolveMatmul(p);
  const epi = p.epilogue ?? NO_EPILOGUE;
  const name = p.name ?? defaultName(p);
  const source = p.source ?? [];
  const { M, N, K } = r;
  const rowsIdx = [...Array(ROWS).keys()];
  const colsIdx = [...Array(COL_GROUPS * 4).keys()];
  const K4 = K - (K % 4);

  // 16-byte operand loads where the layout allows (the same count of load instructions moves 4x the data).
  const aVec = isUnitStride(r.a.inner) && K % 4 === 0 && r.a.batchStride % 4 === 0 && vec4Aligned(r.a.outer) && (simplify(r.a.inner).offset ?? 0) % 4 === 0;
  const bVec = isUnitStride(r.b.inner) && N % 4 === 0 && r.b.batchStride % 4 === 0 && vec4Aligned(r.b.outer) && (simplify(r.b.inner).offset ?? 0) % 4 === 0;
  // B read along k (a Linear layer's weight, [N, K] row-major, read as K x N): 4 consecutive k of one
  // column are one 16-byte load, and each column group's 4 x 4 block is transposed in registers, where
  // the column-wise read would take 16 scalar loads. Same values, so the same sums.
  const bOuterOff = simplify(r.b.outer).offset ?? 0;
  const bKVec = !bVec && isUnitStride(r.b.outer) && K % 4 === 0 && r.b.batchStride % 4 === 0 && vec4Aligned(r.b.inner) && bOuterOff % 4 === 0;
  // A transposed (a weight gradient's dY^T), rows contiguous: each lane owns ROW_GROUPS consecutive
  // rows instead of every 8th, so 4 of them at one k are one 16-byte load, and each 4 x 4 block
  // (4 rows x 4 k) is transposed in registers. The broadcast then names row lane * ROW_GROUPS + h.
  const aOuterOff = simplify(r.a.outer).offset ?? 0;
  const aMVec =
    broadcast &&
    !p.prologue &&
    !aVec &&
    ROW_GROUPS % 4 === 0 &&
    K % 4 === 0 &&
    isUnitStride(r.a.outer) &&
    M % 4 === 0 &&
    r.a.batchStride % 4 === 0 &&
    vec4Aligned(r.a.inner) &&
    aOuterOff % 4 === 0;
  const ownerOf = (row: number) => (aMVec ? { h: row % ROW_GROUPS, lane: Math.floor(row / ROW_GROUPS) } : { h: Math.floor(row / LANES), lane: row % LANES });
  const laneRow = (h: number) => (aMVec ? `m0 + lane * ${ROW_GROUPS}u${h ? ` + ${h}u` : ""}` : `m0 + lane${h ? ` + ${h * LANES}u` : ""}`);
  const aInnerOff = (kExpr: string) => offsetExpr(r.a.inner, kExpr);
  const aVecAt = (base: string) => `A[${base} + k / 4u]`;
  const bRow = (kExpr: string) => (bVec ? offsetExpr(inVec4Units(r.b.outer), kExpr) : offsetExpr(r.b.outer, kExpr));

  // One k step of width \`w\` (4 in the main loop, 1 in the tail; the tail never runs with aVec).
  const kStep = (w: number) => {
    const lines: string[] = [];
    const comps = ["x", "y", "z", "w"];
    if (bKVec) {
      for (let g = 0; g < COL_GROUPS; g++)
        for (let q = 0; q < 4; q++) lines.push(`    let w${g}_${q} = B[bBase + bcv${g * 4 + q} + k / 4u${bOuterOff ? ` + ${bOuterOff / 4}u` : ""}];`);
      for (let j = 0; j < w; j++)
        for (let g = 0; g < COL_GROUPS; g++) lines.push(`    let b${j}_${g} = vec4<f32>(${[0, 1, 2, 3].map((q) => `w${g}_${q}.${comps[j]}`).join(", ")});`);
    }
    for (let j = 0; j < w && !bKVec; j++) {
      lines.push(`    let bRow${j} = bBase + ${bRow(`k + ${j}u`)};`);
      for (let g = 0; g < COL_GROUPS; g++) {
        if (bVec) lines.push(`    let b${j}_${g} = B[bRow${j} + bq${g}];`);
        else {
          const loads = [0, 1, 2, 3].map((q) => `B[bRow${j} + bc${g * 4 + q}]`);
          lines.push(`    let b${j}_${g} = vec4<f32>(${loads.join(", ")});`);
        }
      }
    }
    const scalarA = (base: string) => {
      const loads = [...Array(w).keys()].map((j) => `A[${base} + ${aInnerOff(`k + ${j}u`)}]`);
      return w === 4 ? `vec4<f32>(${loads.join(", ")})` : loads[0];
    };
    const privA = w === 4 ? "a_priv[k / 4u]" : "a_priv[k / 4u][k % 4u]";
    if (aMVec && w === 4) {
      for (let v = 0; v < ROW_GROUPS / 4; v++)
        for (let j = 0; j < 4; j++) lines.push(`    let at${v}_${j} = A[aT${v} + ${offsetExpr(inVec4Units(r.a.inner), `k + ${j}u`)}];`);
      for (let h = 0; h < ROW_GROUPS; h++)
        lines.push(`    let aMine${h} = vec4<f32>(${[0, 1, 2, 3].map((j) => `at${Math.floor(h / 4)}_${j}.${comps[h % 4]}`).join(", ")});`);
    } else if (broadcast)
      for (let h = 0; h < ROW_GROUPS; h++) lines.push(`    let aMine${h} = ${p.prologue ? privA : aVec && w === 4 ? aVecAt(`aBase${h}`) : scalarA(`aBase${h}`)};`);
    for (const row of rowsIdx) {
      if (broadcast) lines.push(`    let a${row} = subgroupBroadcast(aMine${ownerOf(row).h}, ${ownerOf(row).lane}u);`);
      else lines.push(`    let a${row} = ${aVec && w === 4 ? aVecAt(`aRow${row}`) : scalarA(`aRow${row}`)};`);
      for (let g = 0; g < COL_GROUPS; g++) {
        const terms = [...Array(w).keys()].map((j) => `a${row}${w === 4 ? "." + comps[j] : ""} * b${j}_${g}`);
        lines.push(`    acc${row}_${g} += ${terms.join(" + ")};`);
      }
    }
    return lines.join("\n");
  };

  const colOffsets = bVec
    ? [...Array(COL_GROUPS).keys()].map(
        (g) => `  let bq${g} = min(n0 / 4u + lane + ${g * LANES}u, ${N / 4 - 1}u) + ${(simplify(r.b.inner).offset ?? 0) / 4}u;`,
      )
    : colsIdx.map((c) => {
        const col = `n0 + lane * 4u + ${Math.floor(c / 4) * LANES * 4 + (c % 4)}u`;
        return bKVec ? `  let bcv${c} = ${offsetExpr(inVec4Units(r.b.inner), `min(${col}, ${N - 1}u)`)};` : `  let bc${c} = ${offsetExpr(r.b.inner, `min(${col}, ${N - 1}u)`)};`;
      });
  const aUnit = aVec ? 4 : 1;
  const aRowBase = (rowExpr: string) => {
    const off = `b * ${r.a.batchStride / aUnit}u + ${offsetExpr(aVec ? inVec4Units(r.a.outer) : r.a.outer, `min(${rowExpr}, ${M - 1}u)`)}`;
    return aVec ? `${off} + ${(simplify(r.a.inner).offset ?? 0) / 4}u` : off;
  };
  if (p.prologue && !broadcast) throw new Error("internal: a matmul prologue needs the 8-lane subgroup tile");
  const rowOffsets = p.prologue
    ? [
        `  var a_priv: array<vec4<f32>, ${Math.ceil(K / 4)}>;`,
        "  {",
        `    let gi = b * ${M}u + min(m0 + lane, ${M - 1}u);`,
        `    let side = n0 == 0u && m0 + lane < ${M}u;`,
        p.prologue.code
          .split("\n")
          .map((l) => `    ${l}`)
          .join("\n"),
        "  }",
      ]
    : broadcast
      ? [
          ...(aMVec ? [] : [...Array(ROW_GROUPS).keys()].map((h) => `  let aBase${h} = ${aRowBase(laneRow(h))};`)),
          // In vec4s: M % 4 == 0, so a block of 4 rows is all in range or all past it (clamped, never stored).
          ...(aMVec
            ? [...Array(ROW_GROUPS / 4).keys()].map(
                (v) => `  let aT${v} = (b * ${r.a.batchStride}u + ${aOuterOff}u + min(${laneRow(4 * v)}, ${M - 4}u)) / 4u;`,
              )
            : []),
        ]
      : rowsIdx.map((row) => `  let aRow${row} = ${aRowBase(`m0 + ${row}u`)};`);
  // One epilogue call site in a loop: unrolling 64 inlined epilogues (GELU's erf, say) makes
  // lavapipe's first-dispatch compile take seconds.
  const accList = rowsIdx.flatMap((row) => [...Array(COL_GROUPS).keys()].map((g) => `acc${row}_${g}`));
  const stores = [
    `  let tile = array<vec4<f32>, ${ROWS * COL_GROUPS}>(${accList.join(", ")});`,
    `  for (var r = 0u; r < ${ROWS}u; r++) {`,
    "    let row = m0 + r;",
    `    if (row >= ${M}u) { break; }`,
    `    let cRow = b * ${r.c.batchStride}u + ${offsetExpr(r.c.outer, "row")};`,
    `    for (var q = 0u; q < ${COL_GROUPS * 4}u; q++) {`,
    `      let col = n0 + lane * 4u + (q / 4u) * ${LANES * 4}u + q % 4u;`,
    `      if (col < ${N}u) {`,
    `        let idx = cRow + ${offsetExpr(r.c.inner, "col")};`,
    `        ${storeElement(p, `tile[r * ${COL_GROUPS}u + q / 4u][q % 4u]`)}`,
    "      }",
    "    }",
    "  }",
  ];
  const accDecls = rowsIdx.flatMap((row) => [...Array(COL_GROUPS).keys()].map((g) => `  var acc${row}_${g} = vec4<f32>(0.0);`));
  const bindings = matmulBindings(p, epi, aVec || aMVec, bVec || bKVec);
  const how = `${LANES}-lane SIMD tile ${ROWS}x${TILE_N}${p.prologue ? ", each lane computes its row of A (row-kernel prologue)" : ""}${broadcast ? ", A shared by subgroupBroadcast" : ""}${aMVec ? ", A^T read 4 rows per vec4" : ""}${bKVec ? ", B^T read 4 k per vec4" : ""}`;
  const wgsl = `${kernelHeader(name, `${describe(r, p)}; ${how}`, source, broadcast ? ["subgroups"] : [])}
${bindingDecls(bindings)}

${storeCode(p, epi)}

@compute @workgroup_size(${LANES})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lane: u32) {
  let b = wid.z;
${tileIndex(ceilDiv(N, TILE_N), ceilDiv(M, ROWS), ROWS, TILE_N)}
  let bBase = b * ${bVec || bKVec ? r.b.batchStride / 4 : r.b.batchStride}u;
${rowOffsets.join("\n")}
${colOffsets.join("\n")}
${accDecls.join("\n")}
  for (var k = 0u; k < ${K4}u; k += 4u) {
${kStep(4)}
  }
${K4 < K ? `  for (var k = ${K4}u; k < ${K}u; k += 1u) {\n${kStep(1)}\n  }` : ""}
${stores.join("\n")}
}
`;
  const grid = (batch: number) => tileGrid(ceilDiv(N, TILE_N), ceilDiv(M, ROWS), batch);
  return {
    name,
    wgsl,
    entryPoint: "main",
    workgroupSize: [LANES, 1, 1],
    dispatch: (batch = r.batch) => grid(batch),
    bindings,
    source,
  };
}

const BK = 16;
const TILED_DEFAULT = 4;
const TILED_CHOICES: readonly number[] = [2, 4, 8];

/** The autotuner's `tile` values for an M x N matmul on this profile, and the default among them. */
export function matmulTileChoices(profile: AdapterProfile, p: MatmulParams): { readonly choices: readonly number[]; readonly fallback: number } {
  const { M, N } = foldBatch(p);
  if (!profile.software) return { choices: TILED_CHOICES, fallback: TILED_DEFAULT };
  const lanes = simdLanes(profile);
  const fallback = simdDefaultTile(M, N, lanes);
  if (lanes === undefined) return { choices: [fallback, 162], fallback };
  const tune = SIMD_TUNE_TILES[lanes];
  return { choices: tune.includes(fallback) ? tune : [...tune, fallback].sort((a, b) => a - b), fallback };
}

function tiledMatmul(p: MatmulParams): Kernel {
  // R x R results per thread, T x T per workgroup of 16 x 16 threads.
  const R = p.tile ?? TILED_DEFAULT;
  if (!TILED_CHOICES.includes(R)) throw new Error(`internal: tiled matmul tile ${R} is not one of ${TILED_CHOICES.join(", ")}`);
  const T = 16 * R;
  const r = resolveMatmul(p);
  const epi = p.epilogue ?? NO_EPILOGUE;
  const name = p.name ?? defaultName(p);
  const source = p.source ?? [];
  const { M, N, K } = r;
  const bindings = matmulBindings(p, epi);
  const wgsl = `${kernelHeader(name, `${describe(r, p)}; 16x16 threads, ${T}x${T} tile in workgroup memory, ${R}x${R} per thread`, source)}
${bindingDecls(bindings)}

${storeCode(p, epi)}

var<workgroup> tileA: array<array<f32, ${T}>, ${BK}>;
var<workgroup> tileB: array<array<f32, ${T}>, ${BK}>;

@compute @workgroup_size(16, 16)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let b = wid.z;
${tileIndex(ceilDiv(N, T), ceilDiv(M, T), T, T)}
  let t = lid.y * 16u + lid.x;
  var acc: array<array<f32, ${R}>, ${R}>;
  for (var k0 = 0u; k0 < ${K}u; k0 += ${BK}u) {
    // 256 threads stage ${BK} x ${T} values of each operand, ${R} apiece; out-of-range reads become 0.
    for (var i = 0u; i < ${R}u; i++) {
      let e = t + i * 256u;
      let kk = e / ${T}u;
      let mn = e % ${T}u;
      let k = k0 + kk;
      let m = m0 + mn;
      let n = n0 + mn;
      var av = 0.0;
      if (k < ${K}u && m < ${M}u) { av = A[b * ${r.a.batchStride}u + ${offsetExpr(r.a.outer, "m")} + ${offsetExpr(r.a.inner, "k")}]; }
      var bv = 0.0;
      if (k < ${K}u && n < ${N}u) { bv = B[b * ${r.b.batchStride}u + ${offsetExpr(r.b.outer, "k")} + ${offsetExpr(r.b.inner, "n")}]; }
      tileA[kk][mn] = av;
      tileB[kk][mn] = bv;
    }
    workgroupBarrier();
    for (var kk = 0u; kk < ${BK}u; kk++) {
      var a: array<f32, ${R}>;
      var bb: array<f32, ${R}>;
      for (var i = 0u; i < ${R}u; i++) {
        a[i] = tileA[kk][lid.y + i * 16u];
        bb[i] = tileB[kk][lid.x + i * 16u];
      }
      for (var i = 0u; i < ${R}u; i++) {
        for (var j = 0u; j < ${R}u; j++) { acc[i][j] += a[i] * bb[j]; }
      }
    }
    workgroupBarrier();
  }
  for (var i = 0u; i < ${R}u; i++) {
    let row = m0 + lid.y + i * 16u;
    if (row >= ${M}u) { continue; }
    let cRow = b * ${r.c.batchStride}u + ${offsetExpr(r.c.outer, "row")};
    for (var j = 0u; j < ${R}u; j++) {
      let col = n0 + lid.x + j * 16u;
      if (col < ${N}u) {
        let idx = cRow + ${offsetExpr(r.c.inner, "col")};
        ${storeElement(p, "acc[i][j]")}
      }
    }
  }
}
`;
  return {
    name,
    wgsl,
    entryPoint: "main",
    workgroupSize: [16, 16, 1],
    dispatch: (batch = r.batch) => tileGrid(ceilDiv(N, T), ceilDiv(M, T), batch),
    bindings,
    source,
  };
}
