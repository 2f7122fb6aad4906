/**
 * Acquires a WebGPU device through Dawn (the `webgpu` npm package) and owns the waiting for it.
 *
 * dawn.node resolves promises (onSubmittedWorkDone, mapAsync) only when its event loop hook runs, and
 * by default it re-arms `setImmediate` in a busy loop, stealing a core from lavapipe; `settle` (shared
 * with the bundle runtime) makes it poll on a timer while we wait.
 */
import { createRequire } from "node:module";
import { settle } from "../compiler/bundle/runtime-support.ts";

export { settle };

export class NoAdapterError extends Error {
  readonly help: string;
  constructor(detail: string) {
    super(`no WebGPU adapter found${detail ? ` (${detail})` : ""}`);
    this.help =
      "install a Vulkan driver: on Debian/Ubuntu run `npm run setup` (installs Mesa's software driver lavapipe; " +
      "on bookworm it comes from bookworm-backports), or install your GPU's Vulkan driver";
  }
}

export interface GpuContext {
  readonly adapter: GPUAdapter;
  readonly device: GPUDevice;
  readonly info: AdapterSummary;
  /** Waits for all submitted work without busy-looping a core. */
  idle(): Promise<void>;
  destroy(): void;
}

export interface AdapterSummary {
  vendor: string;
  architecture: string;
  device: string;
  description: string;
  backend: string;
  isSoftware: boolean;
  subgroupMinSize: number;
  subgroupMaxSize: number;
  features: string[];
  limits: Record<string, number>;
}

type DawnModule = { create(flags: string[]): GPU; globals: Record<string, unknown> };

let dawn: DawnModule | undefined;
let gpu: GPU | undefined;

function loadDawn(): DawnModule {
  if (!dawn) {
    process.env.XDG_RUNTIME_DIR ??= "/tmp";
    const require = createRequire(import.meta.url);
    dawn = require("webgpu") as DawnModule;
    Object.assign(globalThis, dawn.globals);
  }
  return dawn;
}

function getGpu(): GPU {
  if (!gpu) gpu = loadDawn().create(process.env.IVC_DAWN_FLAGS ? process.env.IVC_DAWN_FLAGS.split(" ") : []);
  return gpu;
}

const WANTED_FEATURES: GPUFeatureName[] = ["shader-f16", "subgroups", "timestamp-query"];

export async function requestGpu(options: { features?: GPUFeatureName[] } = {}): Promise<GpuContext> {
  let adapter: GPUAdapter | null = null;
  try {
    adapter = await getGpu().requestAdapter({ powerPreference: "high-performance" });
  } catch (e) {
    throw new NoAdapterError((e as Error).message);
  }
  if (!adapter) throw new NoAdapterError("Dawn could not load a Vulkan driver");
  const wanted = options.features ?? WANTED_FEATURES;
  const requiredFeatures = wanted.filter((f) => adapter!.features.has(f));
  const al = adapter.limits;
  const device = await adapter.requestDevice({
    requiredFeatures,
    requiredLimits: {
      maxStorageBufferBindingSize: al.maxStorageBufferBindingSize,
      maxBufferSize: al.maxBufferSize,
      maxStorageBuffersPerShaderStage: al.maxStorageBuffersPerShaderStage,
      maxComputeWorkgroupStorageSize: al.maxComputeWorkgroupStorageSize,
      maxComputeInvocationsPerWorkgroup: al.maxComputeInvocationsPerWorkgroup,
      maxComputeWorkgroupSizeX: al.maxComputeWorkgroupSizeX,
      maxComputeWorkgroupSizeY: al.maxComputeWorkgroupSizeY,
      maxComputeWorkgroupsPerDimension: al.maxComputeWorkgroupsPerDimension,
    },
  });
  const info = summarize(adapter);
  return {
    adapter,
    device,
    info,
    idle: () => settle(device.queue.onSubmittedWorkDone()),
    destroy: () => device.destroy(),
  };
}

const LIMIT_NAMES = [
  "maxStorageBufferBindingSize",
  "maxBufferSize",
  "maxStorageBuffersPerShaderStage",
  "maxComputeWorkgroupStorageSize",
  "maxComputeInvocationsPerWorkgroup",
  "maxComputeWorkgroupSizeX",
  "maxComputeWorkgroupsPerDimension",
] as const;

function summarize(adapter: GPUAdapter): AdapterSummary {
  const info = adapter.info as GPUAdapterInfo & { subgroupMinSize?: number; subgroupMaxSize?: number; backendType?: string };
  const limits: Record<string, number> = {};
  for (const name of LIMIT_NAMES) limits[name] = Number(adapter.limits[name]);
  const description = info.description ?? "";
  const deviceName = info.device ?? "";
  const isSoftware = /llvmpipe|lavapipe|swiftshader|software/i.test(`${description} ${deviceName} ${info.architecture ?? ""}`);
  return {
    vendor: info.vendor ?? "",
    architecture: info.architecture ?? "",
    device: deviceName,
    description,
    backend: info.backendType ?? "vulkan",
    isSoftware,
    subgroupMinSize: info.subgroupMinSize ?? 0,
    subgroupMaxSize: info.subgroupMaxSize ?? 0,
    features: [...adapter.features].map(String).sort(),
    limits,
  };
}
