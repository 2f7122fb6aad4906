/**
 * Compute pipelines keyed by a content hash of their WGSL and binding layout. Compiles run in
 * parallel (`createComputePipelineAsync`); a kernel that appears twice compiles once. With a cache
 * directory, every shader is also written there as `<hash>.wgsl`, so a bundle or a person can find
 * the exact text a pipeline came from.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Kernel, KernelBinding } from "../compiler/codegen/kernel.ts";
import { kernelHash } from "../compiler/codegen/kernel-hash.ts";
import { KernelCompileError, type CompilerMessage } from "./compile-error.ts";

export interface CompiledKernel {
  readonly hash: string;
  readonly pipeline: GPUComputePipeline;
  readonly layout: GPUBindGroupLayout;
}

export interface PipelineCacheStats {
  compiled: number;
  hits: number;
}


function bindGroupLayoutEntries(bindings: readonly KernelBinding[]): GPUBindGroupLayoutEntry[] {
  return bindings.map((b, i) => ({
    binding: i,
    visibility: GPUShaderStage.COMPUTE,
    buffer: {
      type: b.kind === "dynamic" ? "uniform" : b.kind === "storage" && b.access === "read_write" ? "storage" : "read-only-storage",
    },
  }));
}

export class PipelineCache {
  readonly stats: PipelineCacheStats = { compiled: 0, hits: 0 };
  private readonly entries = new Map<string, Promise<CompiledKernel>>();

  constructor(
    private readonly device: GPUDevice,
    private readonly cacheDir?: string,
  ) {
    if (cacheDir) mkdirSync(cacheDir, { recursive: true });
  }

  get(kernel: Kernel): Promise<CompiledKernel> {
    const hash = kernelHash(kernel);
    const cached = this.entries.get(hash);
    if (cached) {
      this.stats.hits++;
      return cached;
    }
    const compiled = this.compile(kernel, hash);
    this.entries.set(hash, compiled);
    // A failed compile must not poison the cache for a corrected retry of the same text.
    compiled.catch(() => this.entries.delete(hash));
    return compiled;
  }

  /** The WGSL stored on disk under `hash`, if this cache has a directory and saw that shader. */
  sourceOnDisk(hash: string): string | undefined {
    if (!this.cacheDir) return undefined;
    const file = join(this.cacheDir, `${hash}.wgsl`);
    return existsSync(file) ? readFileSync(file, "utf8") : undefined;
  }

  private async compile(kernel: Kernel, hash: string): Promise<CompiledKernel> {
    this.stats.compiled++;
    if (this.cacheDir) {
      const file = join(this.cacheDir, `${hash}.wgsl`);
      if (!existsSync(file)) writeFileSync(file, kernel.wgsl);
    }
    const device = this.device;
    const module = device.createShaderModule({ code: kernel.wgsl, label: kernel.name });
    const info = await module.getCompilationInfo();
    const errors: CompilerMessage[] = info.messages
      .filter((m) => m.type === "error")
      .map((m) => ({ message: m.message, line: m.lineNum, column: m.linePos }));
    if (errors.length) throw new KernelCompileError(kernel, errors);
    const layout = device.createBindGroupLayout({ label: kernel.name, entries: bindGroupLayoutEntries(kernel.bindings) });
    try {
      const pipeline = await device.createComputePipelineAsync({
        label: kernel.name,
        layout: device.createPipelineLayout({ bindGroupLayouts: [layout] }),
        compute: { module, entryPoint: kernel.entryPoint },
      });
      return { hash, pipeline, layout };
    } catch (e) {
      throw new KernelCompileError(kernel, [{ message: (e as Error).message, line: 0, column: 0 }]);
    }
  }
}
