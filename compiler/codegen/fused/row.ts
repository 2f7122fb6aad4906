/**
 * Row kernels: reductions over the same axes of the same input shape, with the pointwise values that
 * read them, in one dispatch. One invocation owns a row (one element of the reductions' output) and
 * makes a pass over it per dependency level: softmax is max, then sum of exp, then the stores;
 * LayerNorm is sum, then sum of squares around the mean, then the normalised output. No barriers and
 * no workgroup memory, which is what a CPU rasterizer rewards. Row statistics (a mean, an rstd) are
 * computed once per row, outside the loops, by the emitter's hoisting.
 */
import type { ValueId } from "../../ir/types.ts";
import { numel } from "../index-map.ts";
import { type Emitter, linearIndex, literal, storeAs } from "./emit.ts";
import { assemble, type GroupContext, type GroupKernel, groupEmitter, indent, Namer } from "./kernels.ts";

export interface RowPlan {
  /** The reductions and the pass over the row each runs in. */
  readonly reduces: readonly { readonly id: ValueId; readonly pass: number }[];
  /** Values shaped like the reductions' input (or a reshape of it), stored in the given pass. */
  readonly stores: readonly { readonly id: ValueId; readonly pass: number }[];
  /** Values with one element per row (reductions among them), stored after the last pass. */
  readonly rowStores: readonly ValueId[];
}

function u32(n: number): string {
  return `${n >>> 0}u`;
}

/** One row kernel's body over invocation `gi`, its emitter and what it stores. */
export interface RowBody {
  readonly e: Emitter;
  readonly body: string[];
  readonly rows: number;
  readonly outputs: readonly ValueId[];
  readonly description: string;
}

/** How a row body stores its values (default: to their buffers); a matmul prologue redirects them. */
export interface RowStoreHooks {
  /** The statement storing member `id`'s element at flat offset `flat` (the loop index is `j`). */
  readonly store?: (id: ValueId, flat: string, value: string) => string;
  /** The statement storing a per-row value of row `gi`. */
  readonly rowStore?: (id: ValueId, value: string) => string;
}

export function rowBody(plan: RowPlan, ctx: GroupContext, namer: Namer, hooks: RowStoreHooks = {}): RowBody {
  const first = ctx.byId.get(plan.reduces[0]!.id)!;
  if (first.op.kind !== "reduce") throw new Error("internal: a row kernel starts with a reduce");
  const shape = ctx.byId.get(first.inputs[0]!)!.shape as number[];
  const axes = [...first.op.axes].sort((a, b) => a - b);
  const kept = shape.filter((_, i) => !axes.includes(i));
  const reduced = axes.map((a) => shape[a]!);
  const computed = [...new Set([...plan.reduces.map((r) => r.id), ...plan.stores.map((s) => s.id), ...plan.rowStores])];
  const e = groupEmitter(ctx, computed, namer).e;
  e.declare("gi");
  const rowIdx = e.indexOf("gi", kept);
  const inputIndex = (loopIdx: readonly string[]) => {
    let k = 0;
    let r = 0;
    return shape.map((_, i) => (axes.includes(i) ? loopIdx[r++]! : rowIdx[k++]!));
  };
  const passes = Math.max(...plan.reduces.map((r) => r.pass), ...plan.stores.map((s) => s.pass)) + 1;
  const body: string[] = [];
  const acc = new Map(plan.reduces.map((r, k) => [r.id, `acc${k}`]));
  for (let p = 0; p < passes; p++) {
    const loop = e.child(`l${p}_`, true);
    const idx = inputIndex(loop.indexOf("j", reduced));
    const decls: string[] = [];
    const steps: string[] = [];
    for (const r of plan.reduces.filter((x) => x.pass === p)) {
      const n = ctx.byId.get(r.id)!;
      if (n.op.kind !== "reduce") throw new Error("internal: not a reduce");
      const isInt = n.dtype === "i32";
      const zero = n.op.op === "sum" ? literal(0, n.dtype) : isInt ? "-2147483647i" : "-3.4028234663852886e38";
      const a = acc.get(r.id)!;
      decls.push(`var ${a}: ${isInt ? "i32" : "f32"} = ${zero};`);
      const x = loop.value(n.inputs[0]!, idx);
      steps.push(n.op.op === "sum" ? `${a} = ${a} + ${x};` : `${a} = max(${a}, ${x});`);
    }
    for (const s of plan.stores.filter((x) => x.pass === p)) {
      const n = ctx.byId.get(s.id)!;
      // A reshape of the input shape is computed and stored at the same flat offset.
      const flat = loop.index(linearIndex(idx, shape));
      const at = (n.shape as number[]).join(",") === shape.join(",") ? idx : loop.split(flat, n.shape as number[]);
      const value = storeAs(n.dtype, loop.value(s.id, at));
      steps.push(hooks.store ? hooks.store(s.id, flat, value) : `${namer.name(s.id)}[${flat}] = ${value};`);
    }
    const loopBody = [...loop.lines, ...steps].map((l) => `  ${l}`);
    body.push(...e.takeLines(), ...decls, `for (var j: u32 = 0u; j < ${u32(numel(reduced))}; j = j + 1u) {`, ...loopBody, "}");
    for (const r of plan.reduces.filter((x) => x.pass === p)) e.setLocal(r.id, acc.get(r.id)!);
  }
  const rowStores = plan.rowStores.map((id) => {
    const n = ctx.byId.get(id)!;
    const value = storeAs(n.dtype, e.value(id, e.split("gi", n.shape as number[])));
    return hooks.rowStore ? hooks.rowStore(id, value) : `${namer.name(id)}[gi] = ${value};`;
  });
  body.push(...e.takeLines(), ...rowStores);
  const outputs = computed.filter((id) => ctx.stored.has(id));
  const what = first.op.op === "sum" && plan.reduces.length === 1 ? "sum" : plan.reduces.length === 1 ? first.op.op : `${plan.reduces.length} reductions`;
  const description = `${what} over axes [${axes.join(", ")}] of [${shape.join(", ")}]${plan.stores.length + plan.rowStores.length > 1 ? `, ${outputs.length} outputs` : ""}; one lane per row, ${passes} pass${passes > 1 ? "es" : ""}`;
  return { e, body, rows: numel(kept), outputs, description };
}

export function rowKernel(plan: RowPlan, ctx: GroupContext, name: string): GroupKernel {
  const namer = new Namer();
  const r = rowBody(plan, ctx, namer);
  return assemble(name, r.description, ctx.source(r.outputs), r.e, namer, r.outputs, ctx, r.rows, indent(r.body));
}

/**
 * Independent row kernels side by side in one dispatch (the column sums of a backward's bias, gamma
 * and beta gradients, whatever their widths): invocations number the rows of every part in turn,
 * and each part is a function of its own row index over the shared bindings.
 */
export function rowsKernel(parts: readonly RowPlan[], ctx: GroupContext, name: string): GroupKernel {
  const namer = new Namer();
  const bodies = parts.map((p) => rowBody(p, ctx, namer));
  const reads = [...new Set(bodies.flatMap((b) => b.e.reads))];
  const outputs = bodies.flatMap((b) => b.outputs);
  const functions: string[] = [];
  const dispatch: string[] = [];
  let start = 0;
  bodies.forEach((b, i) => {
    functions.push(`fn part${i}(gi: u32) {\n${indent(b.body)}\n}`);
    const end = start + b.rows;
    dispatch.push(`${i ? "} else " : ""}if (gi < ${u32(end)}) {`, `  part${i}(gi - ${u32(start)});`);
    start = end;
  });
  dispatch.push("}");
  const description = `${parts.length} independent row kernels: ${bodies.map((b) => b.description.split(";")[0]).join(" | ")}`;
  return assemble(name, description, ctx.source(outputs), { reads, usesSeed: bodies.some((b) => b.e.usesSeed) }, namer, outputs, ctx, start, indent(dispatch), functions);
}
