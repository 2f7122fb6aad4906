/**
 * Kernels for fusion groups: pointwise (one invocation per element, several outputs), direct conv3d
 * and scatter-add; row kernels (every reduction) are in row.ts. Lane-per-output loops need no
 * barriers or workgroup memory, which is what a CPU rasterizer rewards; operands are read through
 * inlined expressions.
 */
import type { Node, ValueId } from "../../ir/types.ts";
import { bindingDecls, ceilDiv, grid1d, kernelHeader, LINEAR_WORKGROUP, storage, type Kernel, type KernelBinding } from "../kernel.ts";
import { numel } from "../index-map.ts";
import { RNG_WGSL } from "../rng.ts";
import { helpersFor } from "../wgsl-math.ts";
import { Emitter, storageElem, storeAs, unflatten } from "./emit.ts";
import { pointwiseVec4Kernel } from "./pointwise-vec4.ts";

/** Invocations per workgroup on a GPU; a CPU rasterizer gets one SIMD pass (see `laneLoop`). */
export const WORKGROUP = 64;
const SOFTWARE_WORKGROUP = 8;
/** Items one lane of a software kernel handles, at most. */
const SOFTWARE_ITEMS = 256;

export interface GroupContext {
  readonly byId: ReadonlyMap<ValueId, Node>;
  readonly stored: ReadonlySet<ValueId>;
  /** A CPU rasterizer (AdapterProfile.software): workgroups of one SIMD pass, each lane looping over items. */
  readonly software?: boolean;
  /** `.ivm` source lines for the kernel's header comment. */
  readonly source: (ids: readonly ValueId[]) => string[];
}

/**
 * Binding names in order of first use, so kernels that differ only in which buffers they touch
 * (the same block in every layer) have identical WGSL and compile once.
 */
export class Namer {
  readonly names = new Map<ValueId, string>();
  readonly name = (id: ValueId): string => {
    let n = this.names.get(id);
    if (!n) {
      n = `buf${this.names.size}`;
      this.names.set(id, n);
    }
    return n;
  };
}

/** A kernel and the stored value each of its storage bindings refers to. */
export interface GroupKernel {
  readonly kernel: Kernel;
  readonly buffers: Readonly<Record<string, ValueId>>;
}

function u32(n: number): string {
  return `${n >>> 0}u`;
}

/**
 * The emitter of a kernel that computes the stored values `computed` itself: it reads every other
 * stored value from memory and computes these from their inputs, never reading them back.
 */
export function groupEmitter(ctx: GroupContext, computed: Iterable<ValueId>, namer = new Namer()): { e: Emitter; namer: Namer } {
  const own = new Set(computed);
  const e = new Emitter(ctx.byId, { has: (id) => ctx.stored.has(id) && !own.has(id) }, namer.name);
  return { e, namer };
}

/** A group's bindings: what its emitter read, then its outputs, then the step's seed when it draws. */
export function groupBindings(emitter: Pick<Emitter, "reads" | "usesSeed">, namer: Namer, outputs: readonly ValueId[], ctx: GroupContext): KernelBinding[] {
  const bindings: KernelBinding[] = [
    ...emitter.reads.map((id) => storage(namer.name(id), "read", storageElem(ctx.byId.get(id)!.dtype))),
    ...outputs.map((id) => storage(namer.name(id), "read_write", storageElem(ctx.byId.get(id)!.dtype))),
  ];
  if (emitter.usesSeed) bindings.push({ kind: "dynamic", name: "ivc_dyn" });
  return bindings;
}

/** The stored value behind each binding name. */
export function boundValues(namer: Namer): Record<string, ValueId> {
  return Object.fromEntries([...namer.names].map(([id, name]) => [name, id]));
}

/**
 * Assembles a kernel: bindings (reads, then outputs), helpers, `functions` it calls, and a 1-D grid
 * over `count` items.
 */
export function assemble(
  name: string,
  description: string,
  source: string[],
  emitter: Pick<Emitter, "reads" | "usesSeed">,
  namer: Namer,
  outputs: readonly ValueId[],
  ctx: GroupContext,
  count: number,
  body: string,
  functions: readonly string[] = [],
): GroupKernel {
  const bindings = groupBindings(emitter, namer, outputs, ctx);
  const kernel = assembleItems(name, description, source, bindings, count, body, ctx.software ?? false, functions);
  return { kernel, buffers: boundValues(namer) };
}

/** The kernel around `body`, run once per item `gi` < `count`, with `bindings` declared. */
export function assembleItems(
  name: string,
  description: string,
  source: string[],
  bindings: readonly KernelBinding[],
  count: number,
  body: string,
  software: boolean,
  functions: readonly string[] = [],
): Kernel {
  const { wg, items } = laneLoop(count, software);
  const main =
    items === 1
      ? `@compute @workgroup_size(${wg})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let gi = ${LINEAR_WORKGROUP} * ${u32(wg)} + lid;
  if (gi >= ${u32(count)}) { return; }
${body}
}`
      : `@compute @workgroup_size(${wg})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  // ${items} blocks of ${wg} consecutive items per workgroup: one SIMD pass reads a contiguous span, and
  // lavapipe's fixed cost per workgroup is paid once per ${items * wg} items.
  for (var ivc_k = 0u; ivc_k < ${u32(items)}; ivc_k++) {
  let gi = (${LINEAR_WORKGROUP} * ${u32(items)} + ivc_k) * ${u32(wg)} + lid;
  if (gi >= ${u32(count)}) { break; }
${body}
  }
}`;
  const helpers = helpersFor([...functions, main].join("\n"));
  const usesSeed = bindings.some((b) => b.kind === "dynamic");
  const wgsl = [kernelHeader(name, description, source), bindingDecls(bindings), usesSeed ? RNG_WGSL : "", helpers, ...functions, main]
    .filter(Boolean)
    .join("\n\n");
  const groups = ceilDiv(count, wg * items);
  return { name, wgsl, entryPoint: "main", workgroupSize: [wg, 1, 1], dispatch: () => grid1d(groups), bindings, source };
}

/**
 * Workgroup size and items per lane. On lavapipe a workgroup of 64 lanes with one item each ran
 * x * sigmoid(1.702 x) * y over 4M floats in 38 ms; 8 lanes looping over 256 items each, 11 ms
 * (2026-11-27). Small counts keep at least 32 workgroups for the rasterizer's threads.
 */
function laneLoop(count: number, software: boolean): { wg: number; items: number } {
  if (!software) return { wg: WORKGROUP, items: 1 };
  return { wg: SOFTWARE_WORKGROUP, items: Math.max(1, Math.min(SOFTWARE_ITEMS, Math.floor(count / (SOFTWARE_WORKGROUP * 32)))) };
}

export function indent(lines: readonly string[], n = 1): string {
  return lines.map((l) => `${"  ".repeat(n)}${l}`).join("\n");
}

export function pointwiseKernel(outputs: readonly ValueId[], ctx: GroupContext, name: string): GroupKernel {
  const vec4 = ctx.software ? pointwiseVec4Kernel(outputs, ctx, name) : undefined;
  if (vec4) return vec4;
  const shape = ctx.byId.get(outputs[0]!)!.shape as number[];
  const { e, namer } = groupEmitter(ctx, outputs);
  const idx = e.indexOf("gi", shape);
  const values = outputs.map((id) => ({ id, expr: e.value(id, idx) }));
  const stores = values.map(({ id, expr }) => `${namer.name(id)}[gi] = ${storeAs(ctx.byId.get(id)!.dtype, expr)};`);
  const body = indent([...e.lines, ...stores]);
  return assemble(name, `pointwise over [${shape.join(", ")}]`, ctx.source(outputs), e, namer, outputs, ctx, numel(shape), body);
}

export function conv3dKernel(id: ValueId, ctx: GroupContext, name: string): GroupKernel {
  const n = ctx.byId.get(id)!;
  if (n.op.kind !== "conv3d") throw new Error("internal: not a conv3d");
  const op = n.op;
  const [N, O, T, H, W] = n.shape as number[];
  const xShape = ctx.byId.get(n.inputs[0]!)!.shape as number[];
  const wShape = ctx.byId.get(n.inputs[1]!)!.shape as number[];
  const [, cin, kt, kh, kw] = wShape as [number, number, number, number, number];
  const perGroup = O! / op.groups;
  const namer = new Namer();
  const e = new Emitter(ctx.byId, ctx.stored, namer.name);
  const [ni, oi, ti, hi, wi] = e.indexOf("gi", [N!, O!, T!, H!, W!]);
  const cbase = e.index(`(${oi} / ${u32(perGroup)}) * ${u32(cin)}`);
  const loop = e.child("l");
  const ks = [kt, kh, kw];
  loop.range("ci", cin);
  ks.forEach((k, d) => loop.range(`k${d}`, k!));
  const dims = [xShape[2]!, xShape[3]!, xShape[4]!];
  const outPos = [ti!, hi!, wi!];
  const coords = [0, 1, 2].map((d) => {
    loop.lines.push(`let p${d} = i32(${outPos[d]}) * ${op.stride[d]}i - ${op.padding[d]}i + i32(k${d}) * ${op.dilation[d]}i;`);
    return `p${d}`;
  });
  loop.lines.push(`let inside = ${coords.map((c, d) => `${c} >= 0i && ${c} < ${dims[d]}i`).join(" && ")};`);
  const clamped = coords.map((c, d) => `u32(clamp(${c}, 0i, ${dims[d]! - 1}i))`);
  const xv = loop.value(n.inputs[0]!, [ni!, `(${cbase} + ci)`, ...clamped]);
  const wv = loop.value(n.inputs[1]!, [oi!, "ci", "k0", "k1", "k2"]);
  const body = indent([
    ...e.lines,
    "var acc = 0.0;",
    `for (var ci: u32 = 0u; ci < ${u32(cin)}; ci = ci + 1u) {`,
    `for (var k0: u32 = 0u; k0 < ${u32(ks[0]!)}; k0 = k0 + 1u) {`,
    `for (var k1: u32 = 0u; k1 < ${u32(ks[1]!)}; k1 = k1 + 1u) {`,
    `for (var k2: u32 = 0u; k2 < ${u32(ks[2]!)}; k2 = k2 + 1u) {`,
    indent([...loop.lines, `acc = acc + select(0.0, ${xv} * ${wv}, inside);`]),
    "}}}}",
    `${namer.name(id)}[gi] = acc;`,
  ]);
  const desc = `conv3d [${xShape.join(", ")}] * [${wShape.join(", ")}] stride [${op.stride}] padding [${op.padding}] groups ${op.groups}`;
  return assemble(name, desc, ctx.source([id]), e, namer, [id], ctx, numel(n.shape as number[]), body);
}

/** out[pre, row, post] = sum over index positions j with index[j] == row of src[pre, j, post]. */
export function scatterAddKernel(id: ValueId, ctx: GroupContext, name: string): GroupKernel {
  const n = ctx.byId.get(id)!;
  if (n.op.kind !== "scatter_add") throw new Error("internal: not a scatter_add");
  const axis = n.op.axis;
  const outShape = n.shape as number[];
  const idxShape = ctx.byId.get(n.inputs[1]!)!.shape as number[];
  const namer = new Namer();
  const e = new Emitter(ctx.byId, ctx.stored, namer.name);
  const outIdx = e.indexOf("gi", outShape);
  const loop = e.child("l");
  loop.range("r", numel(idxShape));
  const j = unflatten("r", idxShape);
  const at = loop.value(n.inputs[1]!, j);
  const srcIdx = [...outIdx.slice(0, axis), ...j, ...outIdx.slice(axis + 1)];
  const v = loop.value(n.inputs[0]!, srcIdx);
  const body = indent([
    ...e.lines,
    "var acc = 0.0;",
    `for (var r: u32 = 0u; r < ${u32(numel(idxShape))}; r = r + 1u) {`,
    indent([...loop.lines, `acc = acc + select(0.0, ${v}, ${at} == i32(${outIdx[axis]}));`]),
    "}",
    `${namer.name(id)}[gi] = acc;`,
  ]);
  return assemble(name, `scatter_add into [${outShape.join(", ")}] along axis ${axis}`, ctx.source([id]), e, namer, [id], ctx, numel(outShape), body);
}
