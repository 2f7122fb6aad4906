/**
 * The runtime every bundle carries as `runtime.ts` / `runtime.js`. It must not import ivc: a bundle
 * is used from plain Node programs that have only the `webgpu` package installed. This file is type
 * checked with the repository and emitted into each bundle as is (see entry.ts).
 *
 * What it does: reads manifest.json and kernels/*.wgsl, creates every buffer, pipeline and bind group
 * once, and runs the manifest's schedule as one command buffer per call (input writes before it,
 * output copies to mappable buffers at its end), reading the outputs back asynchronously.
 */
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import {
  BUNDLE_FORMAT,
  type ManifestBinding,
  type ManifestCopy,
  type ManifestKernel,
  type ManifestSlot,
  type RuntimeManifest,
  resolveWeights,
  settle,
  sizeOf,
  type Tensor,
  type TensorLike,
  typed,
} from "./runtime-support.ts";

export type {
  ManifestBinding,
  ManifestCopy,
  ManifestKernel,
  ManifestSlot,
  ManifestStep,
  RuntimeManifest,
  Tensor,
  TensorLike,
} from "./runtime-support.ts";
export { BUNDLE_FORMAT };

export interface LoadOptions {
  /** A safetensors file (F32/I32 tensors named by parameter path) or tensors by path. Default: the bundle's weights.safetensors. */
  readonly weights?: string | Readonly<Record<string, TensorLike>>;
  /** A WebGPU `GPU` object (e.g. `create([])` from the webgpu package); default: one from `import("webgpu")`. */
  readonly gpu?: GPU;
}

export interface StepOptions {
  /** Learning rate of this step (after your schedule). */
  readonly lr: number;
  /** 0-based step index; the optimizer's update count (Adam bias correction) is step + 1. */
  readonly step: number;
  /** Seed of the step's random ops (dropout, drop path). Default 0. */
  readonly seed?: number;
}

type Dawn = { create(flags: string[]): GPU; globals: Record<string, unknown> };
let dawnGpu: GPU | undefined;

async function defaultGpu(): Promise<GPU> {
  if (!dawnGpu) {
    process.env.XDG_RUNTIME_DIR ??= "/tmp";
    let dawn: Dawn;
    try {
      dawn = (await import("webgpu")) as unknown as Dawn;
    } catch (e) {
      throw new Error(
        `this bundle needs the 'webgpu' package: run \`npm install webgpu\` in your project (${(e as Error).message})`,
      );
    }
    // GPUBufferUsage, GPUMapMode, ... are globals in a browser; dawn.node provides them separately.
    for (const [k, v] of Object.entries(dawn.globals)) if (!(k in globalThis)) Object.assign(globalThis, { [k]: v });
    dawnGpu = dawn.create([]);
  }
  return dawnGpu;
}

export class BundleRunner {
  private readonly buffers = new Map<string, GPUBuffer>();
  private readonly extra: GPUBuffer[] = [];
  private readonly staging = new Map<string, GPUBuffer>();
  private readonly commands: (
    { pipeline: GPUComputePipeline; bindGroup: GPUBindGroup; grid: readonly [number, number, number] } | { copy: ManifestCopy }
  )[] = [];
  private readonly dynamic: GPUBuffer;
  private dynamicValues = { step: 1, seed: 0, lr: 0 };
  private stepped = false;
  /** Distinct compute pipelines compiled at load (kernels with the same code share one). */
  pipelines = 0;

  private constructor(
    readonly manifest: RuntimeManifest,
    readonly device: GPUDevice,
  ) {
    const usage = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST;
    for (const b of manifest.buffers.plan)
      this.buffers.set(b.id, device.createBuffer({ label: b.id, size: Math.max(16, Math.ceil(b.bytes / 16) * 16), usage }));
    this.dynamic = device.createBuffer({ label: "dynamic", size: 32, usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST });
  }

  static async load(dir: string | URL, options: LoadOptions = {}): Promise<BundleRunner> {
    const root = (typeof dir === "string" ? dir : fileURLToPath(dir)).replace(/\/?$/, "/");
    const manifest = JSON.parse(readFileSync(`${root}manifest.json`, "utf8")) as RuntimeManifest;
    if (manifest.format !== BUNDLE_FORMAT)
      throw new Error(
        `${root}manifest.json is format '${manifest.format}'; this runtime reads '${BUNDLE_FORMAT}' (recompile the bundle)`,
      );
    const weights = resolveWeights(root, options.weights);
    const gpu = options.gpu ?? (await defaultGpu());
    const adapter = await gpu.requestAdapter({ powerPreference: "high-performance" });
    if (!adapter) throw new Error("no WebGPU adapter found (install a Vulkan driver, e.g. Mesa's lavapipe)");
    const missing = manifest.features.filter((f) => !adapter.features.has(f));
    if (missing.length)
      throw new Error(
        `the bundle's kernels need adapter features this adapter lacks: ${missing.join(", ")} (recompile the bundle on this machine)`,
      );
    const l = adapter.limits;
    const device = await adapter.requestDevice({
      requiredFeatures: manifest.features as GPUFeatureName[],
      requiredLimits: {
        maxStorageBufferBindingSize: l.maxStorageBufferBindingSize,
        maxBufferSize: l.maxBufferSize,
        maxStorageBuffersPerShaderStage: l.maxStorageBuffersPerShaderStage,
        maxComputeWorkgroupStorageSize: l.maxComputeWorkgroupStorageSize,
        maxComputeInvocationsPerWorkgroup: l.maxComputeInvocationsPerWorkgroup,
        maxComputeWorkgroupSizeX: l.maxComputeWorkgroupSizeX,
        maxComputeWorkgroupSizeY: l.maxComputeWorkgroupSizeY,
      },
    });
    const runner = new BundleRunner(manifest, device);
    try {
      await runner.build(root);
      runner.upload(weights);
    } catch (e) {
      runner.destroy();
      throw e;
    }
    return runner;
  }

  private buffer(id: string): GPUBuffer {
    const b = this.buffers.get(id);
    if (!b) throw new Error(`manifest.json names buffer '${id}', which is not in its buffer plan`);
    return b;
  }

  private async pipeline(k: ManifestKernel, code: string): Promise<{ pipeline: GPUComputePipeline; layout: GPUBindGroupLayout }> {
    const module = this.device.createShaderModule({ label: k.name, code });
    const layout = this.device.createBindGroupLayout({
      label: k.name,
      entries: k.bindings.map((b, i) => ({
        binding: i,
        visibility: GPUShaderStage.COMPUTE,
        buffer: {
          type:
            b.kind === "dynamic"
              ? "uniform"
              : b.kind === "storage" && b.access === "read_write"
                ? "storage"
                : "read-only-storage",
        },
      })),
    });
    try {
      const pipeline = await this.device.createComputePipelineAsync({
        label: k.name,
        layout: this.device.createPipelineLayout({ bindGroupLayouts: [layout] }),
        compute: { module, entryPoint: k.entryPoint },
      });
      return { pipeline, layout };
    } catch (e) {
      const info = await module.getCompilationInfo();
      const msgs = info.messages.map((x) => `  ${k.file}:${x.lineNum}:${x.linePos} ${x.type}: ${x.message}`).join("\n");
      throw new Error(`kernel ${k.name} does not compile on this adapter: ${(e as Error).message}\n${msgs}`);
    }
  }

  private async build(root: string): Promise<void> {
    const m = this.manifest;
    // Kernels of repeated layers differ only in their header comments: each distinct shader compiles once.
    const pipelines = new Map<string, Promise<{ pipeline: GPUComputePipeline; layout: GPUBindGroupLayout }>>();
    const compile = (k: ManifestKernel) => {
      const code = readFileSync(`${root}${k.file}`, "utf8");
      const key = `${code.replace(/^[ \t]*\/\/.*$/gm, "")}\0${k.entryPoint}\0${k.bindings.map((b) => `${b.kind}:${b.access ?? ""}`).join(",")}`;
      let p = pipelines.get(key);
      if (!p) {
        p = this.pipeline(k, code);
        pipelines.set(key, p);
      }
      return p;
    };
    const compiled = await Promise.all(m.kernels.map(compile));
    this.pipelines = pipelines.size;
    const kernels = new Map(m.kernels.map((k, i) => [k.name, { kernel: k, ...compiled[i]! }]));
    const constantBuffer = (k: ManifestKernel, b: ManifestBinding): GPUBuffer => {
      const data =
        b.elem === "f32"
          ? Float32Array.from(b.data ?? [])
          : b.elem === "i32"
            ? Int32Array.from(b.data ?? [])
            : Uint32Array.from(b.data ?? []);
      const buf = this.device.createBuffer({
        label: `${k.name}.${b.name}`,
        size: Math.max(16, Math.ceil(data.byteLength / 16) * 16),
        usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST,
      });
      this.device.queue.writeBuffer(buf, 0, data);
      this.extra.push(buf);
      return buf;
    };
    const constants = new Map<string, GPUBuffer>();
    for (const step of m.schedule) {
      if ("copy" in step) {
        this.buffer(step.copy.src);
        this.buffer(step.copy.dst);
        this.commands.push({ copy: step.copy });
        continue;
      }
      const k = kernels.get(step.kernel);
      if (!k) throw new Error(`manifest.json schedules kernel '${step.kernel}', which it does not list`);
      const entries: GPUBindGroupEntry[] = k.kernel.bindings.map((b, i) => {
        if (b.kind === "dynamic") return { binding: i, resource: { buffer: this.dynamic } };
        if (b.kind === "constant") {
          const key = `${k.kernel.name}/${b.name}`;
          if (!constants.has(key)) constants.set(key, constantBuffer(k.kernel, b));
          return { binding: i, resource: { buffer: constants.get(key)! } };
        }
        const id = step.buffers[b.name];
        if (id === undefined) throw new Error(`manifest.json: step of kernel '${step.kernel}' binds no buffer to '${b.name}'`);
        return { binding: i, resource: { buffer: this.buffer(id) } };
      });
      const bindGroup = this.device.createBindGroup({ label: step.kernel, layout: k.layout, entries });
      this.commands.push({ pipeline: k.pipeline, bindGroup, grid: k.kernel.grid });
    }
    for (const c of m.constants) {
      this.device.queue.writeBuffer(
        this.buffer(c.buffer),
        0,
        c.dtype === "f32" ? Float32Array.from(c.values) : Int32Array.from(c.values),
      );
    }
    for (const id of m.zeroed ?? []) {
      const b = this.buffer(id);
      this.device.queue.writeBuffer(b, 0, new Uint8Array(b.size));
    }
  }

  private upload(weights: ReadonlyMap<string, TensorLike>): void {
    const needed = this.manifest.parameters.filter((p) => p.buffer !== null);
    const missing = needed.filter((p) => !weights.has(p.path)).map((p) => p.path);
    if (missing.length) {
      throw new Error(
        `the weights lack ${missing.length} parameter(s) the bundle reads: ${missing.slice(0, 8).join(", ")}${missing.length > 8 ? ", ..." : ""}`,
      );
    }
    for (const p of needed) this.device.queue.writeBuffer(this.buffer(p.buffer!), 0, typed(p.path, weights.get(p.path)!, p));
  }

  private writeInputs(inputs: Readonly<Record<string, TensorLike>>): void {
    if (!inputs || typeof inputs !== "object") throw new Error("expected an object of input tensors by name");
    for (const slot of this.manifest.inputs) {
      const data = inputs[slot.name];
      if (data === undefined) throw new Error(`missing input '${slot.name}' (shape [${slot.shape.join(", ")}], ${slot.dtype})`);
      this.device.queue.writeBuffer(this.buffer(slot.buffer), 0, typed(slot.name, data, slot));
    }
    const known = new Set(this.manifest.inputs.map((s) => s.name));
    const unknown = Object.keys(inputs).filter((k) => !known.has(k));
    if (unknown.length) throw new Error(`unknown input(s): ${unknown.join(", ")} (the bundle takes ${[...known].join(", ")})`);
  }

  /** Encodes the whole schedule (and copies of `read` to mappable buffers) into one command buffer. */
  private submit(read: readonly ManifestSlot[]): void {
    const d = new ArrayBuffer(32);
    new Uint32Array(d, 0, 2).set([this.dynamicValues.step >>> 0, this.dynamicValues.seed >>> 0]);
    new Float32Array(d, 8, 1)[0] = this.dynamicValues.lr;
    this.device.queue.writeBuffer(this.dynamic, 0, d);
    const encoder = this.device.createCommandEncoder();
    let pass: GPUComputePassEncoder | undefined;
    for (const c of this.commands) {
      if ("copy" in c) {
        pass?.end();
        pass = undefined;
        const s = c.copy;
        encoder.copyBufferToBuffer(this.buffer(s.src), s.srcOffset, this.buffer(s.dst), s.dstOffset, s.bytes);
        continue;
      }
      pass ??= encoder.beginComputePass();
      pass.setPipeline(c.pipeline);
      pass.setBindGroup(0, c.bindGroup);
      pass.dispatchWorkgroups(c.grid[0], c.grid[1], c.grid[2]);
    }
    pass?.end();
    for (const slot of read) encoder.copyBufferToBuffer(this.buffer(slot.buffer), 0, this.stage(slot), 0, sizeOf(slot.shape) * 4);
    this.device.queue.submit([encoder.finish()]);
  }

  private stage(slot: ManifestSlot): GPUBuffer {
    let s = this.staging.get(slot.name);
    if (!s) {
      s = this.device.createBuffer({
        label: `${slot.name}.readback`,
        size: Math.max(16, Math.ceil(sizeOf(slot.shape) / 4) * 16),
        usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST,
      });
      this.staging.set(slot.name, s);
    }
    return s;
  }

  private async readStaged(slot: ManifestSlot): Promise<Tensor> {
    const s = this.stage(slot);
    const bytes = sizeOf(slot.shape) * 4;
    await settle(s.mapAsync(GPUMapMode.READ, 0, Math.ceil(bytes / 4) * 4));
    const copy = s.getMappedRange(0, bytes).slice(0);
    s.unmap();
    return slot.dtype === "f32" ? new Float32Array(copy) : new Int32Array(copy);
  }

  /** Eval bundles: runs the model once and reads every output. */
  async forward(inputs: Readonly<Record<string, TensorLike>>): Promise<Record<string, Tensor>> {
    // A train bundle's schedule ends in the optimizer: running it as a forward would move the moments.
    if (this.manifest.mode !== "eval")
      throw new Error("forward() runs eval bundles; this one was compiled with --train (use step() and loss())");
    this.writeInputs(inputs);
    this.submit(this.manifest.outputs);
    const values = await Promise.all(this.manifest.outputs.map((o) => this.readStaged(o)));
    return Object.fromEntries(this.manifest.outputs.map((o, i) => [o.name, values[i]!]));
  }

  /** Train bundles: forward, backward and optimizer update in one command buffer; nothing is read back. */
  step(batch: Readonly<Record<string, TensorLike>>, options: StepOptions): void {
    if (this.manifest.mode !== "train") throw new Error("step() needs a bundle compiled with `ivc compile --train`");
    if (!(typeof options?.lr === "number" && Number.isFinite(options.lr)))
      throw new Error("step() needs a finite learning rate: step(batch, { lr, step })");
    if (!(Number.isInteger(options.step) && options.step >= 0))
      throw new Error("step() needs a 0-based integer step: step(batch, { lr, step })");
    this.writeInputs(batch);
    this.dynamicValues = { step: options.step + 1, seed: options.seed ?? 0, lr: options.lr };
    this.submit([]);
    this.stepped = true;
  }

  /** The loss of the latest step, read back after it finishes. */
  async loss(): Promise<number> {
    if (!this.stepped) throw new Error("loss() reads the latest step's loss: call step() first");
    const slot = this.manifest.outputs.find((o) => o.name === "loss")!;
    const enc = this.device.createCommandEncoder();
    enc.copyBufferToBuffer(this.buffer(slot.buffer), 0, this.stage(slot), 0, 4 * sizeOf(slot.shape));
    this.device.queue.submit([enc.finish()]);
    return (await this.readStaged(slot))[0]!;
  }

  /** A parameter's current value (after training steps). */
  async parameter(path: string): Promise<Tensor> {
    const p = this.manifest.parameters.find((x) => x.path === path);
    if (!p || p.buffer === null) throw new Error(`the bundle holds no parameter '${path}'`);
    const slot = { name: `param:${path}`, buffer: p.buffer, shape: p.shape, dtype: p.dtype };
    const enc = this.device.createCommandEncoder();
    enc.copyBufferToBuffer(this.buffer(p.buffer), 0, this.stage(slot), 0, 4 * sizeOf(p.shape));
    this.device.queue.submit([enc.finish()]);
    return this.readStaged(slot);
  }

  destroy(): void {
    for (const b of [...this.buffers.values(), ...this.staging.values(), ...this.extra, this.dynamic]) b.destroy();
    this.buffers.clear();
    this.staging.clear();
    this.device.destroy();
  }
}
