/**
 * Lowers an IR matmul onto the tuned matmul generator: operands are strided views of stored values
 * (transposes, permuted heads and broadcast weights cost no copy), batch axes are flattened into one
 * batch stride when the layout allows, and the pointwise values fused after it are computed and stored
 * by its epilogue from the result element in registers.
 */
import type { Node, ValueId } from "../../ir/types.ts";
import type { Affine } from "../../schedule/access.ts";
import { contiguousStrides, type StridedView, stridedView } from "../../schedule/views.ts";
import type { AdapterProfile, Kernel } from "../kernel.ts";
import { type MatmulStore, type OperandMap, matmul } from "../matmul.ts";
import { RNG_WGSL } from "../rng.ts";
import { linearIndex, storeAs } from "./emit.ts";
import { boundValues, type GroupContext, groupBindings, groupEmitter, Namer } from "./kernels.ts";
import { rowBody, type RowPlan } from "./row.ts";

/** One batch stride for the flattened batch axes, or undefined when they do not step uniformly. */
function batchStride(view: StridedView, batchShape: readonly number[]): number | undefined {
  const rank = view.sizes.length;
  const lead = batchShape.length - (rank - 2);
  // Strides of the view's batch axes aligned to the output's batch axes (missing leading axes broadcast).
  const strides = batchShape.map((d, i) => (i < lead ? 0 : view.sizes[i - lead] === 1 && d !== 1 ? 0 : view.strides[i - lead]!));
  const active = batchShape.map((d, i) => ({ d, s: strides[i]! })).filter((a) => a.d !== 1);
  if (active.length === 0) return 0;
  if (active.every((a) => a.s === 0)) return 0;
  // Row-major flattening: axis i must step by stride[i+1] * size[i+1].
  for (let i = 0; i + 1 < active.length; i++) if (active[i]!.s !== active[i + 1]!.s * active[i + 1]!.d) return undefined;
  return active[active.length - 1]!.s;
}

export interface MatmulOperands {
  readonly a: { readonly base: ValueId; readonly map: OperandMap };
  readonly b: { readonly base: ValueId; readonly map: OperandMap };
  readonly batch: number;
  readonly M: number;
  readonly N: number;
  readonly K: number;
}

function operand(view: StridedView, batchShape: readonly number[]): OperandMap | undefined {
  const bs = batchStride(view, batchShape);
  if (bs === undefined) return undefined;
  const r = view.sizes.length;
  return {
    batchStride: bs,
    outer: { sizes: [view.sizes[r - 2]!], strides: [view.sizes[r - 2] === 1 ? 0 : view.strides[r - 2]!], offset: view.offset },
    inner: { sizes: [view.sizes[r - 1]!], strides: [view.strides[r - 1]!] },
  };
}

export function matmulOperandFits(view: StridedView, batchShape: readonly number[]): boolean {
  return operand(view, batchShape) !== undefined;
}

/** The operand maps of a matmul node, or undefined when an operand needs a contiguous copy first. */
export function matmulOperands(n: Node, byId: ReadonlyMap<ValueId, Node>, stored: ReadonlySet<ValueId>): MatmulOperands | undefined {
  const out = n.shape as number[];
  const batchShape = out.slice(0, -2);
  const va = stridedView(n.inputs[0]!, byId, stored);
  const vb = stridedView(n.inputs[1]!, byId, stored);
  if (!va || !vb) return undefined;
  const a = operand(va, batchShape);
  const b = operand(vb, batchShape);
  if (!a || !b) return undefined;
  return {
    a: { base: va.base, map: a },
    b: { base: vb.base, map: b },
    batch: batchShape.reduce((x, y) => x * y, 1),
    M: out[out.length - 2]!,
    N: out[out.length - 1]!,
    K: va.sizes[va.sizes.length - 1]!,
  };
}

/** A value a matmul's epilogue stores, and the flat offset of the result each of its elements reads. */
export interface EpilogueStore {
  readonly id: ValueId;
  readonly offset: Affine;
}

export interface MatmulEpilogue {
  readonly ctx: GroupContext;
  /** Every value the kernel computes besides the matmul (stored or not). */
  readonly members: readonly ValueId[];
  readonly stores: readonly EpilogueStore[];
  /** The matmul result itself is stored too (other kernels read it). */
  readonly storeResult: boolean;
}

/** A row kernel computing the matmul's A operand (and what else it stores) inside the matmul. */
export interface MatmulRowPrologue {
  readonly ctx: GroupContext;
  /** Its plan; the operand is among the stores even where no other kernel reads it. */
  readonly row: RowPlan;
  readonly operand: ValueId;
}

export function matmulKernel(
  n: Node,
  ops: MatmulOperands,
  profile: AdapterProfile,
  name: string,
  source: string[],
  epilogue?: MatmulEpilogue,
  prologue?: MatmulRowPrologue,
  tile?: number,
): { kernel: Kernel; buffers: Record<string, ValueId> } {
  const { batch, M, N, K } = ops;
  const c: OperandMap = { batchStride: M * N, outer: { sizes: [M], strides: [N] }, inner: { sizes: [N], strides: [1] } };
  const params = { batch, M, N, K, a: ops.a.map, b: ops.b.map, c, name, source, ...(tile !== undefined ? { tile } : {}) };
  if (!prologue && (!epilogue || epilogue.stores.length === 0)) {
    return { kernel: matmul(params, profile), buffers: { A: ops.a.base, B: ops.b.base, C: n.id } };
  }
  const namer = new Namer();
  const pro = prologue ? rowPrologue(prologue, namer) : undefined;
  // With a prologue, the result is stored through the store function too (its binding is named).
  const ep = epilogue && epilogue.stores.length > 0 ? epilogue : { ctx: prologue!.ctx, members: [], stores: [], storeResult: true };
  const store = epilogueStore(n, ep, namer, pro?.bindings.some((b) => b.kind === "dynamic") ?? false);
  const operands: Record<string, ValueId> = pro ? { B: ops.b.base } : { A: ops.a.base, B: ops.b.base };
  return { kernel: matmul({ ...params, store, ...(pro ? { prologue: pro } : {}) }, profile), buffers: { ...operands, ...boundValues(namer) } };
}

/**
 * The row kernel as per-lane code for the matmul's prologue: its passes over the lane's row, the
 * operand's elements into `a_priv`, its stored values written by the first column tile only.
 */
function rowPrologue(p: MatmulRowPrologue, namer: Namer): MatmulStore {
  const { ctx } = p;
  const body = rowBody(p.row, ctx, namer, {
    store: (id, flat, value) => {
      const lines = [`let pv${id} = ${value};`];
      if (id === p.operand) lines.push(`a_priv[j / 4u][j % 4u] = pv${id};`);
      if (ctx.stored.has(id)) lines.push(`if (side) { ${namer.name(id)}[${flat}] = pv${id}; }`);
      return lines.join(" ");
    },
    rowStore: (id, value) => `if (side) { ${namer.name(id)}[gi] = ${value}; }`,
  });
  return { bindings: groupBindings(body.e, namer, body.outputs, ctx), code: body.body.join("\n") };
}

function u32(x: number): string {
  return `${x >>> 0}u`;
}

/**
 * `ivc_store` for a matmul group: the result element `v` at flat offset `idx` feeds, in each stored
 * member, the element whose offset map hits `idx` (recovered by division, stride by stride; members
 * covering part of the result, like one head of a QKV split, test that they are hit).
 */
/** `prologueDraws`: the prologue uses the random-number helpers, which go in once, here. */
function epilogueStore(n: Node, ep: MatmulEpilogue, shared: Namer, prologueDraws: boolean): MatmulStore {
  const { ctx } = ep;
  const { e, namer } = groupEmitter(ctx, [n.id, ...ep.members], shared);
  e.declare("v", "b", "row", "col", "idx");
  e.setLocal(n.id, "v");
  const mShape = n.shape as number[];
  const mIdx = [...e.split("b", mShape.slice(0, -2)), "row", "col"];
  const direct: string[] = [];
  const blocks: string[] = [];
  if (ep.storeResult) direct.push(`${namer.name(n.id)}[idx] = v;`);
  ep.stores.forEach((s, k) => {
    const m = ctx.byId.get(s.id)!;
    const shape = m.shape as number[];
    if (isIdentity(s.offset, shape, mShape)) {
      direct.push(`${namer.name(s.id)}[idx] = ${storeAs(m.dtype, e.value(s.id, mIdx))};`);
      return;
    }
    const scope = e.child(`o${k}_`);
    const axes = shape.map((d, i) => ({ i, d, k: s.offset.k[i]! })).filter((a) => a.d !== 1);
    axes.sort((x, y) => y.k - x.k);
    const q = shape.map(() => "0u");
    const inverse: string[] = [`var rem = idx${s.offset.c ? ` - ${u32(s.offset.c)}` : ""};`];
    const inRange: string[] = [];
    for (const a of axes) {
      q[a.i] = `o${k}_q${a.i}`;
      if (a.k === 1) inverse.push(`let ${q[a.i]} = rem;`, "rem = 0u;");
      else inverse.push(`let ${q[a.i]} = rem / ${u32(a.k)};`, `rem = rem % ${u32(a.k)};`);
      inRange.push(`${q[a.i]} < ${u32(a.d)}`);
    }
    const value = storeAs(m.dtype, scope.value(s.id, q));
    const store = [
      ...inverse,
      `if (${[...inRange, "rem == 0u"].join(" && ")}) {`,
      ...scope.lines.map((l) => `  ${l}`),
      `  ${namer.name(s.id)}[${linearIndex(q, shape)}] = ${value};`,
      "}",
    ];
    blocks.push(`if (idx >= ${u32(s.offset.c)}) {`, ...store.map((l) => `  ${l}`), "}");
  });
  const body = [...e.lines, ...direct, ...blocks].map((l) => `  ${l}`).join("\n");
  const fn = `fn ivc_store(v: f32, b: u32, row: u32, col: u32, idx: u32) {\n${body}\n}`;
  const outputs = [...(ep.storeResult ? [n.id] : []), ...ep.stores.map((s) => s.id)];
  const code = e.usesSeed || prologueDraws ? `${RNG_WGSL}\n\n${fn}` : fn;
  return { bindings: groupBindings(e, namer, outputs, ctx), code };
}

/** The member is laid out like the result and reads it element for element. */
function isIdentity(offset: Affine, shape: readonly number[], mShape: readonly number[]): boolean {
  if (shape.join(",") !== mShape.join(",")) return false;
  const st = contiguousStrides(shape);
  return offset.c === 0 && shape.every((d, i) => d === 1 || offset.k[i] === st[i]);
}
