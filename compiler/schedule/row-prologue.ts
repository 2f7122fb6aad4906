/**
 * Row kernels as matmul prologues. A pre-LN block normalises a row, then multiplies it: a LayerNorm
 * row kernel that stores the normalised row, and a matmul that reads it back. On the software SIMD
 * tile (lavapipe: 8 lanes, one row of A each) a lane can compute its own row's statistics and
 * normalised values itself, so the row kernel moves into the matmul: one dispatch instead of two,
 * and where nothing else reads the normalised row it is never stored. The row kernel's other results
 * (the backward's x-hat, per-row statistics) are stored by the first column tile's lanes.
 *
 * Every column tile of the matmul (N / 64 of them) recomputes its rows. Measured on lavapipe, that
 * costs more than the dispatch it saves (the ViT block step 363 -> 391 ms, InternVideo's pretrain_mml
 * step 269 -> 320 ms with "always"; 285 ms with "free", where only one-tile-wide matmuls take one and
 * the private row alone costs), so the planner leaves prologues off unless asked (FusionOptions
 * `rowPrologue`); "always" reaches the fewest dispatches (a pre-LN block forward in 5).
 */
import type { Node, ValueId } from "../ir/types.ts";
import { matmulOperands } from "../codegen/fused/matmul-group.ts";
import { SIMD_TILE_N } from "../codegen/matmul.ts";
import { rowSpace } from "./group-analysis.ts";
import type { GroupedKernel } from "./group.ts";

export type RowPrologueMode = "off" | "free" | "always";

export interface RowPrologue {
  /** The row kernel moved into the matmul. */
  readonly row: GroupedKernel;
  /** The value it computes that the matmul reads as A. */
  readonly operand: ValueId;
}

const numel = (s: readonly number[]) => s.reduce((a, b) => a * b, 1);

/** The row kernel whose stored value the matmul reads as a plain row-major [batch * M, K] A, if one is. */
function prologueFor(m: GroupedKernel, producer: ReadonlyMap<ValueId, GroupedKernel>, byId: ReadonlyMap<ValueId, Node>, stored: ReadonlySet<ValueId>): RowPrologue | undefined {
  const n = byId.get(m.group.anchor!)!;
  const ops = matmulOperands(n, byId, stored);
  if (!ops) return undefined;
  const a = ops.a.map;
  const plain = (ops.batch === 1 || a.batchStride === ops.M * ops.K) && (ops.M === 1 || a.outer.strides[0] === ops.K) && (a.outer.offset ?? 0) === 0 && a.inner.strides[0] === 1 && (a.inner.offset ?? 0) === 0;
  const operand = ops.a.base;
  const row = producer.get(operand);
  if (!plain || !row || row.group.kind !== "reduce" || !row.group.members.includes(operand) || row.info.rowMembers?.has(operand)) return undefined;
  if (numel(byId.get(operand)!.shape as number[]) !== ops.batch * ops.M * ops.K) return undefined;
  // One reduced axis, the last, of width K: a lane's row of A is the row the kernel reduces.
  for (const r of row.group.reduces) {
    const { shape, axes, kept } = rowSpace(byId, r);
    if (axes.length !== 1 || axes[0] !== shape.length - 1 || shape[shape.length - 1] !== ops.K || numel(kept) !== ops.batch * ops.M) return undefined;
  }
  return { row, operand };
}

/**
 * Moves row kernels into the matmuls that read them (`rowPrologue` in the fusion options: the
 * software SIMD tile only). Returns the kernels, the prologue of each merged matmul, and the values
 * no longer stored (an operand only its matmul read).
 */
export function fuseRowPrologues(
  kernels: readonly GroupedKernel[],
  byId: ReadonlyMap<ValueId, Node>,
  stored: ReadonlySet<ValueId>,
  maxStorageBuffers: number,
  mode: Exclude<RowPrologueMode, "off"> = "always",
): { kernels: GroupedKernel[]; prologues: Map<GroupedKernel, RowPrologue>; unstored: Set<ValueId> } {
  const producer = new Map<ValueId, GroupedKernel>();
  for (const k of kernels) for (const v of k.outputs) producer.set(v, k);
  const position = new Map(kernels.map((k, i) => [k, i]));
  const prologues = new Map<GroupedKernel, RowPrologue>();
  /** Matmuls as they are after taking a prologue, and the row kernels they took. */
  const replaced = new Map<GroupedKernel, GroupedKernel>();
  const taken = new Set<GroupedKernel>();
  const unstored = new Set<ValueId>();
  for (const m of kernels) {
    if (m.group.kind !== "matmul") continue;
    const p = prologueFor(m, producer, byId, stored);
    if (!p || taken.has(p.row)) continue;
    if (mode === "free" && (byId.get(m.group.anchor!)!.shape.at(-1) as number) > SIMD_TILE_N) continue;
    const [from, to] = [position.get(p.row)!, position.get(m)!];
    // What the row kernel stores must not be read before the matmul runs, nor by the matmul itself
    // (other than as A): the first column tile writes it while the others run.
    const rowOutputs = new Set(p.row.outputs);
    if (kernels.slice(from + 1, to).some((k) => [...k.info.reads].some((v) => rowOutputs.has(v)))) continue;
    if ([...m.info.reads].some((v) => v !== p.operand && rowOutputs.has(v))) continue;
    const operandStays = kernels.some((k) => k !== m && k.info.reads.has(p.operand));
    const outputs = [...m.outputs, ...p.row.outputs.filter((v) => v !== p.operand || operandStays)];
    const reads = new Set([...p.row.info.reads, ...[...m.info.reads].filter((v) => v !== p.operand)]);
    if (new Set([...reads, ...outputs]).size > maxStorageBuffers) continue;
    const fused: GroupedKernel = { ...m, outputs, info: { ...m.info, reads } };
    prologues.set(fused, p);
    replaced.set(m, fused);
    taken.add(p.row);
    if (!operandStays) unstored.add(p.operand);
  }
  // The row kernel leaves the list; its matmul, in its own place, takes its outputs and reads.
  const out = kernels.filter((k) => !taken.has(k)).map((k) => replaced.get(k) ?? k);
  return { kernels: out, prologues, unstored };
}
