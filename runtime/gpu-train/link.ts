/**
 * Links a compiled Program into the engine's shared arena: its parameters bind the engine's parameter
 * storage, its gradients land directly in the packed gradient arena (or are copied there when the
 * value is shared with another slot), its BatchNorm statistics are copied back after the program, and
 * everything else gets buffers of its own under a per-program prefix.
 */
import type { Program } from "../../compiler/schedule/program.ts";
import { type BufferPlanEntry, type BufferRef, type DispatchStep, type Recording } from "../executor.ts";
import { copyKernel } from "./copy.ts";

export interface LinkedProgram {
  readonly buffers: readonly BufferPlanEntry[];
  readonly steps: readonly DispatchStep[];
  readonly inputs: readonly { readonly name: string; readonly buffer: string }[];
  readonly outputs: ReadonlyMap<string, string>;
  /** Element count of each output. */
  readonly outputSizes: ReadonlyMap<string, number>;
}

export interface CompiledProgram extends LinkedProgram {
  readonly recording: Recording;
}

export interface LinkResolvers {
  param(path: string): BufferRef;
  /** Where a trainable parameter's gradient goes; undefined for parameters without one. */
  grad(path: string): BufferRef | undefined;
  state(path: string): BufferRef;
}

export function linkProgram(program: Program, prefix: string, r: LinkResolvers): LinkedProgram {
  const uses = new Map<string, number>();
  for (const s of [...program.params, ...program.inputs, ...program.outputs]) uses.set(s.buffer, (uses.get(s.buffer) ?? 0) + 1);
  const remap = new Map<string, BufferRef>();
  for (const p of program.params) remap.set(p.buffer, r.param(p.name));
  const copies: { size: number; elem: "f32" | "i32"; src: string; dst: BufferRef }[] = [];
  for (const o of program.outputs) {
    const size = o.shape.reduce((a, b) => a * b, 1);
    if (o.name.startsWith("grad:")) {
      const target = r.grad(o.name.slice(5));
      if (!target) continue;
      if (uses.get(o.buffer) === 1 && !remap.has(o.buffer)) remap.set(o.buffer, target);
      else copies.push({ size, elem: "f32", src: o.buffer, dst: target });
    } else if (o.name.startsWith("state:")) {
      copies.push({ size, elem: o.dtype === "f32" ? "f32" : "i32", src: o.buffer, dst: r.state(o.name.slice(6)) });
    }
  }
  const local = (id: string) => `${prefix}/${id}`;
  const ref = (id: string): BufferRef => remap.get(id) ?? local(id);
  const steps: DispatchStep[] = [
    ...program.steps.map((s) => ({ kernel: s.kernel, buffers: Object.fromEntries(Object.entries(s.buffers).map(([k, id]) => [k, ref(id)])) })),
    ...copies.map((c) => ({ kernel: copyKernel(c.size, c.elem), buffers: { SRC: ref(c.src), DST: c.dst } })),
  ];
  return {
    buffers: program.buffers.filter((b) => !remap.has(b.id)).map((b) => ({ bufferId: local(b.id), bytes: b.bytes })),
    steps,
    inputs: program.inputs.map((i) => ({ name: i.name, buffer: local(i.buffer) })),
    outputs: new Map(program.outputs.filter((o) => !remap.has(o.buffer)).map((o) => [o.name, local(o.buffer)])),
    outputSizes: new Map(program.outputs.map((o) => [o.name, o.shape.reduce((a, b) => a * b, 1)])),
  };
}
