/**
 * The schedule of a train bundle: the stage's forward+backward Program, then updated buffer state
 * copied back (`state:<path>` -> the buffer's slot), then optional global-norm clipping, then the
 * stage's optimizer, all in the same command buffer.
 *
 * The Program gives every parameter and gradient its own buffer, while the optimizer kernels work
 * over a packed range; rather than repacking parameters each step, each trainable parameter gets its
 * own update dispatch (the kernel is the packed one with a one-entry table), bound to its parameter,
 * gradient and moment buffers. Clipping needs one norm over all gradients, so only then are the
 * gradients copied into one packed buffer for the norm kernels.
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
  const copy = (src: string, dst: string, bytes: number, dstOffset = 0): Extract<ManifestStep, { copy: unknown }> => ({
    copy: { src, srcOffset: 0, dst, dstOffset, bytes },
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

  let normBuffer: string | undefined;
  if (clip > 0) {
    const total = grads.reduce((a, g) => a + numel(g.shape), 0);
    buffers.push({ id: "opt.grads", bytes: total * 4 });
    let offset = 0;
    for (const g of grads) {
      schedule.push(copy(g.buffer, "opt.grads", numel(g.shape) * 4, offset * 4));
      offset += numel(g.shape);
    }
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

  grads.forEach((g, i) => {
    const path = g.name.slice(5);
    const slot = slotOf.get(path);
    if (!slot) throw new Error(`internal: gradient of '${path}' but the program holds no such parameter`);
    const length = numel(g.shape);
    const common = {
      params: [{ offset: 0, length, decay: paramInfo.get(path)?.decay ?? true, lrScale: lrScales.get(path) ?? 1 }],
      weightDecay: opt.weightDecay,
      maxGradNorm: clip > 0 ? clip : undefined,
      name: `opt_${opt.kind}_${String(i).padStart(3, "0")}_${path.replace(/[^A-Za-z0-9_.]/g, "_")}`,
      source,
    };
    const state = opt.kind === "adamw" ? ["m", "v"] : ["buf"];
    const kernel =
      opt.kind === "adamw"
        ? adamw({ ...common, beta1: opt.betas[0], beta2: opt.betas[1], eps: opt.eps })
        : sgdMomentum({ ...common, momentum: opt.momentum, dampening: opt.dampening, nesterov: opt.nesterov });
    const bound: Record<string, string> = { param: slot.buffer, grad: g.buffer };
    for (const s of state) {
      const id = `opt.${s}.${i}`;
      buffers.push({ id, bytes: length * 4 });
      zeroed.push(id);
      bound[s] = id;
    }
    if (normBuffer) bound.norm = normBuffer;
    kernels.push({ kernel, pass: "optimizer", stats: optStats(kernel, length, 2 + state.length) });
    schedule.push({ kernel, buffers: bound });
  });

  const optimizer = {
    kind: opt.kind,
    lr: opt.lr,
    weightDecay: opt.weightDecay,
    ...(opt.kind === "adamw"
      ? { betas: opt.betas, eps: opt.eps }
      : { momentum: opt.momentum, dampening: opt.dampening, nesterov: opt.nesterov }),
    layerDecay: opt.layerDecay,
    clipGradNorm: clip,
    trainable: grads.map((g) => g.name.slice(5)),
    state: Object.fromEntries(
      grads.map((g, i) => [
        g.name.slice(5),
        opt.kind === "adamw" ? { m: `opt.m.${i}`, v: `opt.v.${i}` } : { buf: `opt.buf.${i}` },
      ]),
    ),
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
