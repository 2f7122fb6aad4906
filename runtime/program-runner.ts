/**
 * Runs a compiled Program on a device: allocates its buffer plan, compiles its kernels once, uploads
 * constants, and executes the whole dispatch sequence as one command buffer per call.
 */
import type { Program } from "../compiler/schedule/program.ts";
import { Executor, type Recording } from "./executor.ts";
import type { GpuContext } from "./gpu.ts";

export type HostTensor = Float32Array | Int32Array;

interface Slot {
  readonly buffer: string;
  readonly size: number;
  readonly dtype: string;
}

export class ProgramRunner {
  private recording?: Recording;
  /** Writable tensors (parameters, buffers, inputs) and readable ones (outputs first, then parameters). */
  private readonly writable = new Map<string, Slot>();
  private readonly readable = new Map<string, Slot>();

  private constructor(
    readonly program: Program,
    readonly executor: Executor,
  ) {
    const slot = (s: { buffer: string; shape: readonly number[]; dtype: string }): Slot => ({ buffer: s.buffer, size: s.shape.reduce((a, b) => a * b, 1), dtype: s.dtype });
    for (const s of [...program.params, ...program.inputs]) this.writable.set(s.name, slot(s));
    for (const s of [...program.params, ...program.outputs]) this.readable.set(s.name, slot(s));
  }

  static async create(gpu: GpuContext, program: Program): Promise<ProgramRunner> {
    const executor = new Executor(gpu.device, program.buffers.map((b) => ({ bufferId: b.id, bytes: b.bytes })));
    await executor.load(program.steps.map((s) => s.kernel));
    for (const c of program.constants) {
      executor.write(c.buffer, c.dtype === "f32" ? Float32Array.from(c.values) : Int32Array.from(c.values));
    }
    const runner = new ProgramRunner(program, executor);
    runner.recording = executor.record(program.steps.map((s) => ({ kernel: s.kernel, buffers: s.buffers })));
    return runner;
  }

  /** Writes a parameter, buffer or input by name; the length must match its shape. */
  write(name: string, data: HostTensor): void {
    const slot = this.writable.get(name);
    if (!slot) throw new Error(`the program has no tensor named '${name}'`);
    if (data.length !== slot.size) throw new Error(`'${name}' needs ${slot.size} values, got ${data.length}`);
    const typed = slot.dtype === "f32" ? (data instanceof Float32Array ? data : Float32Array.from(data)) : data instanceof Int32Array ? data : Int32Array.from(data);
    this.executor.write(slot.buffer, typed);
  }

  setDynamic(values: { step?: number; seed?: number; lr?: number }): void {
    this.executor.setDynamic(values);
  }

  /** Submits the whole program (one command buffer); returns without waiting. */
  run(): void {
    this.executor.submit(this.recording!);
  }

  async read(name: string): Promise<HostTensor> {
    const slot = this.readable.get(name);
    if (!slot) throw new Error(`the program has no tensor named '${name}'`);
    return slot.dtype === "f32" ? this.executor.read(slot.buffer, slot.size) : this.executor.readInt(slot.buffer, slot.size);
  }

  get dispatches(): number {
    return this.recording?.dispatches ?? 0;
  }

  destroy(): void {
    this.executor.destroy();
  }
}
