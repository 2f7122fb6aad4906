/**
 * From a graph with concrete shapes to a runnable program: fusion groups lowered to kernels, each
 * stored value given a buffer (intermediates share buffers when their lifetimes do not overlap), and
 * the dispatch sequence. This is the bundle's core; the runtime executes it as one command buffer.
 */
import { spanText } from "../../diagnostics/span.ts";
import { conv3dKernel, type GroupContext, type GroupKernel, pointwiseKernel, scatterAddKernel } from "../codegen/fused/kernels.ts";
import { rowKernel, rowsKernel } from "../codegen/fused/row.ts";
import { attentionKernel, isAttentionOp } from "../codegen/fused/attention-group.ts";
import { matmulKernel, matmulOperands } from "../codegen/fused/matmul-group.ts";
import { kernelHash } from "../codegen/kernel-hash.ts";
import { matmulTileChoices } from "../codegen/matmul.ts";
import { type AdapterProfile, type Kernel, MIN_STORAGE_BUFFERS } from "../codegen/kernel.ts";
import type { DType, Graph, Node, ValueId } from "../ir/types.ts";
import { lowerToHalfStorage } from "../codegen/half-storage.ts";
import { halfStoredValues } from "./half-values.ts";
import { planBuffers, type BufferAssignment } from "./memory.ts";
import { type FusionOptions, planFusion } from "./plan.ts";

/** A kernel the autotuner may regenerate with another tile (a matmul: `MatmulParams.tile`). */
export interface Retile {
  /** The default kernel's hash: the tuning table's key. */
  readonly key: string;
  readonly choices: readonly number[];
  /** The default among the choices: kept unless another is clearly faster. */
  readonly fallback: number;
  /** The same kernel (same bindings, same results) with another tile. */
  readonly variant: (tile: number) => Kernel;
}

export interface ProgramStep {
  readonly kernel: Kernel;
  readonly retile?: Retile;
  /** Arena buffer for each of the kernel's storage bindings. */
  readonly buffers: Readonly<Record<string, string>>;
  /** The values the step writes and reads (for liveness and explain output). */
  readonly writes: readonly ValueId[];
  readonly reads: readonly ValueId[];
}

export interface TensorSlot {
  readonly name: string;
  readonly buffer: string;
  readonly shape: readonly number[];
  readonly dtype: DType;
}

export interface Program {
  readonly buffers: readonly { readonly id: string; readonly bytes: number }[];
  readonly params: readonly (TensorSlot & { readonly kind: "param" | "buffer"; readonly frozen: boolean })[];
  readonly inputs: readonly TensorSlot[];
  readonly outputs: readonly TensorSlot[];
  /** Multi-valued constants, uploaded once at load. */
  readonly constants: readonly { readonly buffer: string; readonly values: readonly number[]; readonly dtype: DType }[];
  readonly steps: readonly ProgramStep[];
  /** Bytes of all buffers: what the plan needs on the device. */
  readonly peakBytes: number;
  /** The fusion options the plan was made with (the adapter's binding limit among them). */
  readonly fusion: FusionOptions;
  /** Values stored as f16 (`precision: "f16"`); the interpreter rounds the same ones to model it. */
  readonly halfStored: ReadonlySet<ValueId>;
}

/** The fusion options an adapter allows: kernels merge up to its storage-buffer limit. */
export function fusionOptionsFor(profile: AdapterProfile, opts: FusionOptions = {}): FusionOptions {
  // Row prologues stay off unless asked for (and only the SIMD tile takes them): measured on
  // lavapipe, the per-column-tile recompute and the private row cost more than the dispatch they save.
  const simdTile = profile.software && profile.subgroups && profile.subgroupSize === 8;
  const rowPrologue = simdTile ? (opts.rowPrologue ?? "off") : "off";
  return { maxStorageBuffers: profile.maxStorageBuffers ?? MIN_STORAGE_BUFFERS, ...opts, rowPrologue };
}

function shapeOf(n: Node): number[] {
  return n.shape as number[];
}

function kernelName(n: Node, index: number, kind: string): string {
  const where = (n.name ?? "").replace(/[^A-Za-z0-9_.]/g, "_");
  return `k${String(index).padStart(3, "0")}_${kind}${where ? `_${where}` : ""}`;
}

export function buildProgram(input: Graph, profile: AdapterProfile, opts: FusionOptions = {}): Program {
  const fusion = fusionOptionsFor(profile, opts);
  const plan = planFusion(input, fusion);
  const graph = plan.graph;
  const byId = new Map(graph.nodes.map((n) => [n.id, n]));
  const ctx: GroupContext = {
    byId,
    stored: plan.materialized,
    software: profile.software,
    source: (ids) => {
      const lines = new Set<string>();
      for (const id of ids) {
        const n = byId.get(id)!;
        for (const s of n.spans) lines.add(`${spanText(s)}${n.name ? `  (${n.name})` : ""}`);
      }
      return [...lines].slice(0, 12);
    },
  };

  const pinned = new Set<ValueId>();
  for (const n of graph.nodes) if (n.op.kind === "param" || n.op.kind === "input" || (n.op.kind === "const" && n.op.value.length > 1)) pinned.add(n.id);
  for (const o of graph.outputs) pinned.add(o.id);
  const halfStored = fusion.precision === "f16" ? halfStoredValues(graph, plan.materialized, pinned) : new Set<ValueId>();
  /** The kernel with its f16-stored bindings lowered (a no-op without any). */
  const storedAs = (kernel: Kernel, bindings: Record<string, ValueId>): Kernel => {
    const names = Object.entries(bindings).filter(([, id]) => halfStored.has(id)).map(([name]) => name);
    return names.length ? lowerToHalfStorage(kernel, new Set(names)) : kernel;
  };

  const steps: { kernel: Kernel; retile?: Retile; bindings: Record<string, ValueId>; writes: ValueId[]; reads: ValueId[] }[] = [];
  plan.kernels.forEach((k, i) => {
    // A batch of independent row kernels is named after a gradient part when it has one (its pass).
    const id = k.kind === "pointwise" ? k.outputs[0]! : k.kind === "rows" ? (k.parts.find((p) => byId.get(p.node)!.name?.startsWith("grad.")) ?? k).node : k.node;
    const n = byId.get(id)!;
    const name = kernelName(n, i, k.kind);
    let kernel: Kernel;
    let bindings: Record<string, ValueId>;
    let retile: Retile | undefined;
    if (k.kind === "matmul") {
      // A prologue's operand is computed in the kernel; its layout is the plain stored one.
      const ops = matmulOperands(n, byId, k.prologue ? new Set([...plan.materialized, k.prologue.operand]) : plan.materialized);
      if (!ops) throw new Error(`internal: matmul ${id} operands are not strided views`);
      const epilogue = { ctx, members: k.members, stores: k.epilogue, storeResult: k.outputs.includes(id) };
      const prologue = k.prologue ? { ctx, row: k.prologue.row, operand: k.prologue.operand } : undefined;
      const sources = ctx.source([...(k.prologue ? k.prologue.row.outputs : []), id, ...k.members]);
      const lowered = matmulKernel(n, ops, profile, name, sources, epilogue, prologue);
      kernel = storedAs(lowered.kernel, lowered.buffers);
      bindings = lowered.buffers;
      if (!prologue) {
        const variant = (tile: number) => storedAs(matmulKernel(n, ops, profile, name, sources, epilogue, undefined, tile).kernel, lowered.buffers);
        retile = { key: kernelHash(kernel), ...matmulTileChoices(profile, { batch: ops.batch, M: ops.M, N: ops.N, K: ops.K, a: ops.a.map, b: ops.b.map }), variant };
        const chosen = fusion.tuning?.[retile.key];
        if (chosen !== undefined && retile.choices.includes(chosen)) kernel = variant(chosen);
      }
    } else if (isAttentionOp(k.kind)) {
      const lowered = attentionKernel(n, byId, plan.materialized, profile, name, ctx.source([id]), "into" in k ? k.into : undefined);
      kernel = storedAs(lowered.kernel, lowered.buffers);
      bindings = lowered.buffers;
    } else {
      const group: GroupKernel =
        k.kind === "pointwise"
          ? pointwiseKernel(k.outputs, ctx, name)
          : k.kind === "reduce"
            ? rowKernel(k, ctx, name)
            : k.kind === "rows"
              ? rowsKernel(k.parts, ctx, name)
            : k.kind === "conv3d"
              ? conv3dKernel(id, ctx, name)
              : scatterAddKernel(id, ctx, name);
      bindings = { ...group.buffers };
      kernel = storedAs(group.kernel, bindings);
    }
    const writes = [...k.outputs];
    const reads = Object.values(bindings).filter((v) => !writes.includes(v));
    steps.push({ kernel, ...(retile ? { retile } : {}), bindings, writes, reads });
  });

  const stored = [...plan.materialized].map((id) => byId.get(id)!);
  const assignment: BufferAssignment = planBuffers(stored, steps, pinned, halfStored);

  const bufferOf = (id: ValueId) => assignment.bufferOf.get(id)!;
  const slot = (name: string, id: ValueId): TensorSlot => ({ name, buffer: bufferOf(id), shape: shapeOf(byId.get(id)!), dtype: byId.get(id)!.dtype });
  const paramInfo = new Map(graph.params.map((p) => [p.path, p]));
  return {
    buffers: assignment.buffers,
    params: graph.nodes
      .filter((n) => n.op.kind === "param" && plan.materialized.has(n.id))
      .map((n) => {
        const path = (n.op as { path: string }).path;
        const info = paramInfo.get(path)!;
        return { ...slot(path, n.id), kind: info.kind, frozen: info.frozen };
      }),
    inputs: graph.nodes.filter((n) => n.op.kind === "input").map((n) => slot((n.op as { name: string }).name, n.id)),
    outputs: graph.outputs.map((o) => slot(o.name, o.id)),
    constants: graph.nodes
      .filter((n) => n.op.kind === "const" && n.op.value.length > 1)
      .map((n) => ({ buffer: bufferOf(n.id), values: (n.op as { value: readonly number[] }).value, dtype: n.dtype })),
    steps: steps.map((s) => ({
      kernel: s.kernel,
      ...(s.retile ? { retile: s.retile } : {}),
      buffers: Object.fromEntries(Object.entries(s.bindings).map(([name, id]) => [name, bufferOf(id)])),
      writes: s.writes,
      reads: s.reads,
    })),
    peakBytes: assignment.buffers.reduce((a, b) => a + b.bytes, 0),
    fusion,
    halfStored,
  };
}
