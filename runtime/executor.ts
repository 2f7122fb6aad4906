/**
 * Runs a planned sequence of generated kernels on one device.
 *
 * Buffers come from a plan (`{bufferId, bytes}`; which ids share memory is the memory planner's
 * business). Pipelines are compiled once, in parallel; bind groups are built when a sequence is
 * recorded; each submit encodes the whole sequence into one command buffer with one compute pass
 * (split only where a step needs a copy), preceded by one write of the per-step dynamic values.
 * Readback is explicit and asynchronous: nothing inside a step waits for the CPU.
 */
import { createHash } from "node:crypto";
import type { Grid, Kernel } from "../compiler/codegen/kernel.ts";
import { DYNAMIC_BYTES, encodeDynamic, type DynamicValues } from "../compiler/codegen/dynamic.ts";
import { settle } from "./gpu.ts";
import { PipelineCache, type CompiledKernel } from "./pipeline-cache.ts";
import { timeDispatches, type KernelTiming, type TimedDispatch } from "./profile.ts";

export type BufferId = string | number;

function constantKey(hash: string, name: string, data: ArrayBufferView): string {
  const digest = createHash("sha1").update(new Uint8Array(data.buffer, data.byteOffset, data.byteLength)).digest("hex");
  return `${hash}/${name}/${digest}`;
}

export interface BufferPlanEntry {
  readonly bufferId: BufferId;
  readonly bytes: number;
}

/** A whole buffer, or a byte range of one (offsets aligned to the device's storage offset alignment, 256). */
export type BufferRef = BufferId | { readonly id: BufferId; readonly offset: number; readonly size: number };

export interface DispatchStep {
  readonly kernel: Kernel;
  /** Arena buffer (or a range of one) for each of the kernel's storage bindings, by binding name. */
  readonly buffers: Readonly<Record<string, BufferRef>>;
  /** Overrides the kernel's own invocation count (e.g. a runtime batch size on a grid axis). */
  readonly invocations?: number;
}

/** Zeroes a buffer (accumulators that kernels add into). Ends the current compute pass. */
export interface ClearStep {
  readonly clear: BufferId;
}

export type Step = DispatchStep | ClearStep;

export interface Recording {
  readonly steps: number;
  readonly dispatches: number;
  /** Compute passes one submit of this recording opens. */
  readonly passes: number;
}

type RecordedCommand =
  | { kind: "dispatch"; pipeline: GPUComputePipeline; bindGroup: GPUBindGroup; grid: Grid; label: string }
  | { kind: "clear"; buffer: GPUBuffer };

interface RecordingImpl extends Recording {
  readonly commands: readonly RecordedCommand[];
}

export interface ExecutorStats {
  submits: number;
  commandBuffers: number;
  passes: number;
  dispatches: number;
}

export interface ExecutorOptions {
  /** Write every shader as `<hash>.wgsl` there. */
  readonly cacheDir?: string;
  /** Share compiled pipelines with another executor on the same device. */
  readonly pipelineCache?: PipelineCache;
}

export class Executor {
  readonly pipelines: PipelineCache;
  readonly stats: ExecutorStats = { submits: 0, commandBuffers: 0, passes: 0, dispatches: 0 };
  private readonly buffers = new Map<BufferId, GPUBuffer>();
  private readonly staging = new Map<BufferId, GPUBuffer>();
  private readonly pendingReads = new Map<BufferId, Promise<unknown>>();
  private readonly constants = new Map<string, GPUBuffer>();
  private readonly compiled = new Map<Kernel, CompiledKernel>();
  private readonly dynamicBuffer: GPUBuffer;
  private dynamicValues: DynamicValues = { step: 1, seed: 0, lr: 0 };
  private dynamicDirty = true;

  constructor(
    readonly device: GPUDevice,
    plan: readonly BufferPlanEntry[],
    options: ExecutorOptions = {},
  ) {
    this.pipelines = options.pipelineCache ?? new PipelineCache(device, options.cacheDir);
    this.allocate(plan);
    this.dynamicBuffer = device.createBuffer({
      label: "ivc.dynamic",
      size: DYNAMIC_BYTES,
      usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST,
    });
  }

  /** Adds buffers to the arena (programs compiled later, e.g. for another batch size, share it). */
  allocate(plan: readonly BufferPlanEntry[]): void {
    const usage = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST;
    for (const { bufferId, bytes } of plan) {
      if (this.buffers.has(bufferId)) throw new Error(`buffer plan lists '${bufferId}' twice`);
      const size = Math.max(16, Math.ceil(bytes / 16) * 16);
      this.buffers.set(bufferId, this.device.createBuffer({ label: String(bufferId), size, usage }));
    }
  }

  /** Compiles every kernel's pipeline (in parallel) and uploads its constant tables. */
  async load(kernels: readonly Kernel[]): Promise<void> {
    const unique = [...new Set(kernels)].filter((k) => !this.compiled.has(k));
    const results = await Promise.all(unique.map((k) => this.pipelines.get(k)));
    unique.forEach((k, i) => {
      this.compiled.set(k, results[i]);
      for (const b of k.bindings) {
        if (b.kind !== "constant") continue;
        // Kernels sharing a pipeline may carry different tables: key the upload by its bytes too.
        const key = constantKey(results[i].hash, b.name, b.data);
        if (this.constants.has(key)) continue;
        const buf = this.device.createBuffer({
          label: `${k.name}.${b.name}`,
          size: Math.max(16, Math.ceil(b.data.byteLength / 16) * 16),
          usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST,
        });
        this.device.queue.writeBuffer(buf, 0, b.data.buffer, b.data.byteOffset, b.data.byteLength);
        this.constants.set(key, buf);
      }
    });
  }

  buffer(id: BufferId): GPUBuffer {
    const b = this.buffers.get(id);
    if (!b) throw new Error(`no buffer '${id}' in the plan`);
    return b;
  }

  write(id: BufferId, data: Float32Array | Int32Array | Uint32Array, elementOffset = 0): void {
    const buf = this.buffer(id);
    if ((elementOffset + data.length) * 4 > buf.size) {
      throw new Error(`write of ${data.length} elements at ${elementOffset} overflows buffer '${id}' (${buf.size} bytes)`);
    }
    this.device.queue.writeBuffer(buf, elementOffset * 4, data.buffer, data.byteOffset, data.byteLength);
  }

  setDynamic(values: Partial<DynamicValues>): void {
    this.dynamicValues = { ...this.dynamicValues, ...values };
    this.dynamicDirty = true;
  }

  /** Validates a sequence and builds its bind groups; the result can be submitted many times. */
  record(steps: readonly Step[]): Recording {
    const commands: RecordedCommand[] = [];
    let passes = 0;
    let inPass = false;
    for (const step of steps) {
      if ("clear" in step) {
        commands.push({ kind: "clear", buffer: this.buffer(step.clear) });
        inPass = false;
        continue;
      }
      if (!inPass) passes++;
      inPass = true;
      commands.push(this.recordDispatch(step));
    }
    const dispatches = commands.filter((c) => c.kind === "dispatch").length;
    const recording: RecordingImpl = { steps: steps.length, dispatches, passes, commands };
    return recording;
  }

  /** Encodes a recording into one command buffer and submits it; does not wait. */
  submit(recording: Recording): void {
    const { commands } = recording as RecordingImpl;
    if (this.dynamicDirty) {
      this.device.queue.writeBuffer(this.dynamicBuffer, 0, encodeDynamic(this.dynamicValues));
      this.dynamicDirty = false;
    }
    const encoder = this.device.createCommandEncoder();
    let pass: GPUComputePassEncoder | undefined;
    for (const c of commands) {
      if (c.kind === "clear") {
        pass?.end();
        pass = undefined;
        encoder.clearBuffer(c.buffer);
        continue;
      }
      if (!pass) {
        pass = encoder.beginComputePass();
        this.stats.passes++;
      }
      pass.setPipeline(c.pipeline);
      pass.setBindGroup(0, c.bindGroup);
      pass.dispatchWorkgroups(c.grid[0], c.grid[1], c.grid[2]);
      this.stats.dispatches++;
    }
    pass?.end();
    this.device.queue.submit([encoder.finish()]);
    this.stats.submits++;
    this.stats.commandBuffers++;
  }

  /**
   * Runs a recording once with every dispatch timestamped in its own pass, and returns each kernel's
   * GPU time in order (clear steps are run but not timed). Needs the 'timestamp-query' feature.
   */
  async profile(recording: Recording): Promise<KernelTiming[]> {
    const { commands } = recording as RecordingImpl;
    if (this.dynamicDirty) {
      this.device.queue.writeBuffer(this.dynamicBuffer, 0, encodeDynamic(this.dynamicValues));
      this.dynamicDirty = false;
    }
    const timings: KernelTiming[] = [];
    let batch: TimedDispatch[] = [];
    const flush = async () => {
      timings.push(...(await timeDispatches(this.device, batch)));
      batch = [];
    };
    for (const c of commands) {
      if (c.kind === "dispatch") {
        batch.push(c);
        continue;
      }
      await flush();
      const encoder = this.device.createCommandEncoder();
      encoder.clearBuffer(c.buffer);
      this.device.queue.submit([encoder.finish()]);
    }
    await flush();
    return timings;
  }

  /** Runs steps once: record + submit. */
  run(steps: readonly Step[]): void {
    this.submit(this.record(steps));
  }

  /** Waits for submitted work without burning a core. */
  idle(): Promise<void> {
    return settle(this.device.queue.onSubmittedWorkDone());
  }

  /** Copies a buffer back after all submitted work; `elements` defaults to the planned size. */
  async read(id: BufferId, elements?: number): Promise<Float32Array> {
    return new Float32Array(await this.readBytes(id, elements));
  }

  async readInt(id: BufferId, elements?: number): Promise<Int32Array> {
    return new Int32Array(await this.readBytes(id, elements));
  }

  async readUint(id: BufferId, elements?: number): Promise<Uint32Array> {
    return new Uint32Array(await this.readBytes(id, elements));
  }

  destroy(): void {
    for (const b of [...this.buffers.values(), ...this.staging.values(), ...this.constants.values()]) b.destroy();
    this.dynamicBuffer.destroy();
    this.buffers.clear();
    this.staging.clear();
    this.constants.clear();
  }

  /** Reads of one buffer share its staging buffer, so they queue behind each other. */
  private readBytes(id: BufferId, elements?: number): Promise<ArrayBuffer> {
    const previous = this.pendingReads.get(id) ?? Promise.resolve();
    const next = previous.catch(() => undefined).then(() => this.readBytesNow(id, elements));
    this.pendingReads.set(id, next);
    return next;
  }

  private async readBytesNow(id: BufferId, elements?: number): Promise<ArrayBuffer> {
    const src = this.buffer(id);
    const bytes = elements === undefined ? src.size : elements * 4;
    let stage = this.staging.get(id);
    if (!stage || stage.size < bytes) {
      stage?.destroy();
      stage = this.device.createBuffer({ label: `${id}.readback`, size: src.size, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
      this.staging.set(id, stage);
    }
    const encoder = this.device.createCommandEncoder();
    encoder.copyBufferToBuffer(src, 0, stage, 0, bytes);
    this.device.queue.submit([encoder.finish()]);
    await settle(stage.mapAsync(GPUMapMode.READ, 0, bytes));
    const out = stage.getMappedRange(0, bytes).slice(0);
    stage.unmap();
    return out;
  }

  private recordDispatch(step: DispatchStep): RecordedCommand {
    const { kernel } = step;
    const compiled = this.compiled.get(kernel);
    if (!compiled) throw new Error(`kernel '${kernel.name}' was not loaded; call executor.load() first`);
    // WebGPU forbids a writable binding overlapping another binding of the same buffer; disjoint
    // ranges of one buffer (two gradients in the packed gradient arena) may be bound together.
    const bound: { id: BufferId; name: string; start: number; end: number; write: boolean }[] = [];
    const entries: GPUBindGroupEntry[] = kernel.bindings.map((b, i) => {
      if (b.kind === "dynamic") return { binding: i, resource: { buffer: this.dynamicBuffer } };
      if (b.kind === "constant") return { binding: i, resource: { buffer: this.constants.get(constantKey(compiled.hash, b.name, b.data))! } };
      const ref = step.buffers[b.name];
      if (ref === undefined) throw new Error(`kernel '${kernel.name}': no buffer given for binding '${b.name}'`);
      const id = typeof ref === "object" ? ref.id : ref;
      const start = typeof ref === "object" ? ref.offset : 0;
      const end = typeof ref === "object" ? ref.offset + ref.size : this.buffer(id).size;
      const write = b.access === "read_write";
      const other = bound.find((x) => x.id === id && (x.write || write) && x.start < end && start < x.end);
      if (other) {
        throw new Error(
          `kernel '${kernel.name}': buffer '${id}' is bound to both '${other.name}' and '${b.name}', and one of them is written (WebGPU forbids writable aliasing)`,
        );
      }
      bound.push({ id, name: b.name, start, end, write });
      if (typeof ref === "object") return { binding: i, resource: { buffer: this.buffer(id), offset: ref.offset, size: ref.size } };
      return { binding: i, resource: { buffer: this.buffer(id) } };
    });
    const bindGroup = this.device.createBindGroup({ label: kernel.name, layout: compiled.layout, entries });
    return { kind: "dispatch", pipeline: compiled.pipeline, bindGroup, grid: kernel.dispatch(step.invocations), label: kernel.name };
  }
}
