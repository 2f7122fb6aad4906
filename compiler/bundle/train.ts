/**
 * The schedule of a train bundle: the stage's forward+backward Program, then updated buffer state
 * copied back (`state:<path>` -> the buffer's slot), then optional global-norm clipping, then the
 * stage's optimizer, all in the same command buffer.
 *
 * The Program gives every parameter and gradient its own buffer, while the optimizer works over
 * packed arenas, as the training engine's does: each step copies the gradients and the trainable
 * parameters into `opt.grads` / `opt.params` (buffer copies, not dispatches), one update dispatch
 * (plus two for the clipping norm) moves every trainable tensor with its packed moments, and the
 * parameters are copied back to their own buffers.
 */
import { UserError } from "../../cli/errors.ts";
import { type AdapterProfile, type Kernel } from "../codegen/kernel.ts";
import { adamw, gradNorm, sgdMomentum } from "../codegen/optimizer.ts";
import type { Compiled } from "../pipeline.ts";
import type { Program } from "../schedule/program.ts";
import { layerLrScales, optimizerFromCall } from "../../runtime/train/optim.ts";
import type { KernelStats } from "./explain.ts";
import type { BundleKernel, BundlePlan } from "./manifest.ts";
import type { ManifestStep } from "./runtime-source.ts";

/** Arithmetic operations per element of each update, for the --explain FLOPs column. */
const UPDATE_OPS = { adamw: 16, sgd: 7 } as const;

function numel(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

export function trainPlan(
  compiled: Compiled,
  program: Program,
  stats: readonly KernelStats[],
  profile: AdapterProfile,
): { plan: BundlePlan; optimizer: Record<string, unknown> } {
  const spec = compiled.elaborated?.stage;
  if (!spec) throw new UserError("--train needs --stage NAME (the stage's graph, freezes and optimizer)");
  const opt = optimizerFromCall(spec.optim);
  const clip = spec.settings.clip_grad_norm ?? 0;
  if (typeof clip !== "number" || !(clip >= 0))
    throw new UserError(`stage ${spec.name}: \`clip_grad_norm\` must be a non-negative number, got ${JSON.stringify(clip)}`);

  const kernels: BundleKernel[] = program.steps.map((s, i) => ({ kernel: s.kernel, pass: stats[i]!.pass, stats: stats[i] }));
  const schedule: BundlePlan["schedule"][number][] = program.steps.map((s) => ({ kernel: s.kernel, buffers: s.buffers }));
  const buffers = [...program.buffers];
  const zeroed: string[] = [];
  const slotOf = new Map(program.params.map((p) => [p.name, p]));
  const copy = (src: string, dst: string, bytes: number, dstOffset = 0, srcOffset = 0): Extract<ManifestStep, { copy: unknown }> => ({
    copy: { src, srcOffset, dst, dstOffset, bytes },
  });

  // Buffers the forward updates (BatchNorm running statistics) take their new values.
  for (const o of program.outputs) {
    if (!o.name.startsWith("state:")) continue;
    const target = slotOf.get(o.name.slice(6));
    if (target) schedule.push(copy(o.buffer, target.buffer, numel(o.shape) * 4));
  }

  const grads = program.outputs.filter((o) => o.name.startsWith("grad:"));
  if (grads.length === 0)
    throw new UserError(
      `stage ${spec.name} trains no parameter (every one is frozen)`,
      "unfreeze something, or compile without --train",
    );
  const paramInfo = new Map((compiled.graph?.params ?? []).map((p) => [p.path, p]));
  const lrScales = layerLrScales(
    grads.map((g) => g.name.slice(5)),
    opt.layerDecay,
  );
  const optStats = (k: Kernel, elems: number, tensors: number): KernelStats => ({
    name: k.name,
    kind: "optimizer",
    pass: "optimizer",
    ops: UPDATE_OPS[opt.kind],
    nodes: [],
    bytesRead: elems * 4 * tensors,
    bytesWritten: elems * 4 * (tensors - 1),
    flops: elems * UPDATE_OPS[opt.kind],
    lines: spec.optim ? [`${spec.optim.span.file}:${spec.optim.span.line}`] : [],
  });
  const source = spec.optim
    ? [`${spec.optim.span.file}:${spec.optim.span.line}:${spec.optim.span.col}  (optim ${spec.optim.name})`]
    : [];

  // The packed arenas: every trainable tensor's slot, back to back (buffer copies need no 256-byte
  // alignment, unlike the engine's bound ranges in its packLayout).
  const slots = grads.map((g) => {
    const path = g.name.slice(5);
    const param = slotOf.get(path);
    if (!param) throw new Error(`internal: gradient of '${path}' but the program holds no such parameter`);
    return { path, grad: g.buffer, param: param.buffer, length: numel(g.shape) };
  });
  let total = 0;
  const offsets = slots.map((t) => {
    const at = total;
    total += t.length;
    return at;
  });
  buffers.push({ id: "opt.grads", bytes: total * 4 }, { id: "opt.params", bytes: total * 4 });
  slots.forEach((t, i) => {
    schedule.push(copy(t.grad, "opt.grads", t.length * 4, offsets[i]! * 4));
    schedule.push(copy(t.param, "opt.params", t.length * 4, offsets[i]! * 4));
  });

  let normBuffer: string | undefined;
  if (clip > 0) {
    const norm = gradNorm({ total, name: "opt_grad_norm", source }, profile);
    buffers.push({ id: "opt.normPartials", bytes: norm.lanes * 4 }, { id: "opt.norm", bytes: 4 });
    const partials = { ...optStats(norm.partials, total, 1), ops: 2, bytesWritten: norm.lanes * 4, flops: 2 * total };
    kernels.push({ kernel: norm.partials, pass: "optimizer", stats: partials });
    schedule.push({ kernel: norm.partials, buffers: { grad: "opt.grads", normPartials: "opt.normPartials" } });
    const finalize = { ...optStats(norm.finalize, norm.lanes, 1), ops: 2, bytesWritten: 4, flops: norm.lanes + 1 };
    kernels.push({ kernel: norm.finalize, pass: "optimizer", stats: finalize });
    schedule.push({ kernel: norm.finalize, buffers: { normPartials: "opt.normPartials", norm: "opt.norm" } });
    normBuffer = "opt.norm";
  }

  const common = {
    params: slots.map((t, i) => ({ offset: offsets[i]!, length: t.length, decay: paramInfo.get(t.path)?.decay ?? true, lrScale: lrScales.get(t.path) ?? 1 })),
    weightDecay: opt.weightDecay,
    maxGradNorm: clip > 0 ? clip : undefined,
    name: `opt_${opt.kind}_packed`,
    source,
  };
  const state = opt.kind === "adamw" ? ["m", "v"] : ["buf"];
  const kernel =
    opt.kind === "adamw"
      ? adamw({ ...common, beta1: opt.betas[0], beta2: opt.betas[1], eps: opt.eps })
      : sgdMomentum({ ...common, momentum: opt.momentum, dampening: opt.dampening, nesterov: opt.nesterov });
  const bound: Record<string, string> = { param: "opt.params", grad: "opt.grads" };
  for (const st of state) {
    const id = `opt.${st}`;
    buffers.push({ id, bytes: total * 4 });
    zeroed.push(id);
    bound[st] = id;
  }
  if (normBuffer) bound.norm = normBuffer;
  kernels.push({ kernel, pass: "optimizer", stats: optStats(kernel, total, 2 + state.length) });
  schedule.push({ kernel, buffers: bound });
  slots.forEach((t, i) => schedule.push(copy("opt.params", t.param, t.length * 4, 0, offsets[i]! * 4)));

  const optimizer = {
    kind: opt.kind,
    lr: opt.lr,
    weightDecay: opt.weightDecay,
    ...(opt.kind === "adamw"
      ? { betas: opt.betas, eps: opt.eps }
      : { momentum: opt.momentum, dampening: opt.dampening, nesterov: opt.nesterov }),
    layerDecay: opt.layerDecay,
    clipGradNorm: clip,
    trainable: slots.map((t) => t.path),
    // Where each tensor's optimizer state lives: its element offset and length in the packed buffers.
    state: Object.fromEntries(slots.map((t, i) => [t.path, { buffers: Object.fromEntries(state.map((st) => [st, `opt.${st}`])), offset: offsets[i], length: t.length }])),
  };
  return {
    plan: {
      kernels,
      schedule,
      buffers,
      zeroed,
      outputs: program.outputs.map((s) => ({ name: s.name, buffer: s.buffer, shape: [...s.shape], dtype: s.dtype })),
    },
    optimizer,
  };
}
