/**
 * manifest.json: everything a runtime needs to run the bundle (buffer plan, kernels with their
 * bindings and grids, the dispatch schedule, constants, tensor slots) and everything a person or tool
 * needs to trust it (source hashes, config, parameter inits and freeze flags, kernel source spans).
 * The runtime reads only the fields `RuntimeManifest` declares (runtime-source.ts).
 */
import { createHash } from "node:crypto";
import { sep } from "node:path";
import type { AdapterProfile, Kernel } from "../codegen/kernel.ts";
import type { Graph, Init } from "../ir/types.ts";
import type { Compiled } from "../pipeline.ts";
import type { Program } from "../schedule/program.ts";
import type { KernelPass, KernelStats } from "./explain.ts";
import { BUNDLE_FORMAT, type ManifestBinding, type ManifestSlot, type ManifestStep } from "./runtime-source.ts";

/** A kernel as scheduled in the bundle (the Program's, plus the optimizer's in train bundles). */
export interface BundleKernel {
  readonly kernel: Kernel;
  readonly pass: KernelPass;
  readonly stats?: KernelStats;
}

/** What the bundle runs: kernels, their schedule and the buffers they use. */
export interface BundlePlan {
  readonly kernels: readonly BundleKernel[];
  readonly schedule: readonly (
    { readonly kernel: Kernel; readonly buffers: Readonly<Record<string, string>> } | Extract<ManifestStep, { copy: unknown }>
  )[];
  readonly buffers: readonly { readonly id: string; readonly bytes: number }[];
  /** Buffers the runtime zeroes at load (optimizer moments). */
  readonly zeroed: readonly string[];
  readonly outputs: readonly ManifestSlot[];
}

export interface ManifestRequest {
  readonly file: string;
  readonly compiled: Compiled;
  /** The graph the program was built from (dims bound). */
  readonly graph: Graph;
  readonly program: Program;
  readonly plan: BundlePlan;
  readonly profile: AdapterProfile;
  readonly adapter: string;
  readonly preset?: string;
  readonly set: readonly string[];
  readonly stage?: string;
  readonly mode: "eval" | "train";
  readonly batch: number;
  /** Train bundles: the optimizer as compiled into the update kernels. */
  readonly optimizer?: Readonly<Record<string, unknown>>;
  readonly weights?: string;
}

export interface ManifestParameter {
  readonly path: string;
  readonly shape: readonly number[];
  readonly dtype: string;
  readonly init: Init;
  readonly kind: "param" | "buffer";
  readonly frozen: boolean;
  readonly decay: boolean;
  /** The buffer it is loaded into; null when this graph does not read it. */
  readonly buffer: string | null;
}

export interface ManifestKernelEntry {
  readonly name: string;
  readonly file: string;
  readonly entryPoint: string;
  readonly workgroupSize: readonly number[];
  readonly grid: readonly [number, number, number];
  readonly bindings: readonly ManifestBinding[];
  readonly pass: KernelPass;
  readonly kind?: string;
  /** `file:line:col  (node name)` of the `.ivm` code the kernel implements. */
  readonly source: readonly string[];
  readonly ops?: number;
  readonly bytesRead?: number;
  readonly bytesWritten?: number;
  readonly flops?: number;
}

export interface Manifest {
  readonly format: string;
  readonly compiler: { readonly name: "ivc"; readonly adapter: string; readonly profile: AdapterProfile };
  readonly source: {
    readonly file: string;
    readonly files: Readonly<Record<string, { readonly sha256: string; readonly bytes: number }>>;
  };
  readonly model: string;
  readonly preset: string | null;
  readonly set: readonly string[];
  readonly config: Readonly<Record<string, unknown>>;
  readonly stage: string | null;
  readonly mode: "eval" | "train";
  readonly batch: number;
  /** Storage of intermediates: "f16" stores forward activations as f16 (the kernels compute in f32). */
  readonly precision: "f32" | "f16";
  readonly features: readonly string[];
  readonly inputs: readonly ManifestSlot[];
  readonly outputs: readonly ManifestSlot[];
  readonly parameters: readonly ManifestParameter[];
  readonly buffers: { readonly plan: readonly { readonly id: string; readonly bytes: number }[]; readonly peakBytes: number };
  readonly kernels: readonly ManifestKernelEntry[];
  readonly schedule: readonly ManifestStep[];
  readonly constants: readonly { readonly buffer: string; readonly dtype: string; readonly values: readonly number[] }[];
  readonly zeroed: readonly string[];
  readonly optimizer: Readonly<Record<string, unknown>> | null;
  readonly weights: string | null;
}

/**
 * Paths under the working directory (the stdlib of an ivc checkout, the model) are written relative
 * to it, so the same model compiled in two checkouts gives the same manifest and shaders.
 */
export function portable(text: string, root: string = process.cwd()): string {
  return text.split(`${root}${sep}`).join("");
}

/** Kernel names become file names; anything outside a portable file-name alphabet is replaced. */
export function kernelFile(name: string): string {
  return `kernels/${name.replace(/[^A-Za-z0-9_.-]/g, "_")}.wgsl`;
}

const ENABLE_FEATURES: Readonly<Record<string, string>> = { subgroups: "subgroups", f16: "shader-f16" };

/** Device features the kernels' `enable` directives need. */
export function featuresOf(kernels: readonly Kernel[]): string[] {
  const out = new Set<string>();
  for (const k of kernels) {
    for (const m of k.wgsl.matchAll(/^\s*enable\s+([A-Za-z0-9_,\s]+);/gm)) {
      for (const e of m[1]!.split(",").map((s) => s.trim())) {
        const f = ENABLE_FEATURES[e];
        if (!f) throw new Error(`internal: kernel ${k.name} enables '${e}', which no device feature maps to`);
        out.add(f);
      }
    }
  }
  return [...out].sort();
}

function bindingEntry(b: Kernel["bindings"][number]): ManifestBinding {
  if (b.kind === "storage") return { name: b.name, kind: "storage", access: b.access, elem: b.elem };
  if (b.kind === "dynamic") return { name: b.name, kind: "dynamic" };
  return { name: b.name, kind: "constant", elem: b.elem, data: Array.from(b.data) };
}

export function buildManifest(req: ManifestRequest): Manifest {
  const { compiled, program, plan } = req;
  const files: Record<string, { sha256: string; bytes: number }> = {};
  for (const [path, text] of compiled.sources)
    files[portable(path)] = { sha256: createHash("sha256").update(text).digest("hex"), bytes: Buffer.byteLength(text) };
  const bufferOfParam = new Map(program.params.map((p) => [p.name, p.buffer]));
  const names = new Set<string>();
  const kernels = plan.kernels.map(({ kernel: k, pass, stats }): ManifestKernelEntry => {
    const file = kernelFile(k.name);
    if (names.has(file)) throw new Error(`internal: two kernels write ${file}`);
    names.add(file);
    return {
      name: k.name,
      file,
      entryPoint: k.entryPoint,
      workgroupSize: [...k.workgroupSize],
      grid: k.dispatch(),
      bindings: k.bindings.map(bindingEntry),
      pass,
      source: k.source.map((x) => portable(x)),
      ...(stats
        ? { kind: stats.kind, ops: stats.ops, bytesRead: stats.bytesRead, bytesWritten: stats.bytesWritten, flops: stats.flops }
        : {}),
    };
  });
  const peakBytes = plan.buffers.reduce((a, b) => a + b.bytes, 0);
  return {
    format: BUNDLE_FORMAT,
    compiler: { name: "ivc", adapter: req.adapter, profile: req.profile },
    source: { file: req.file, files },
    model: compiled.elaborated?.modelName ?? "",
    preset: req.preset ?? null,
    set: [...req.set],
    config: compiled.elaborated?.config ?? {},
    stage: req.stage ?? null,
    mode: req.mode,
    batch: req.batch,
    precision: program.fusion.precision ?? "f32",
    features: featuresOf(plan.kernels.map((k) => k.kernel)),
    inputs: program.inputs.map((s) => ({ name: s.name, buffer: s.buffer, shape: [...s.shape], dtype: s.dtype })),
    outputs: plan.outputs,
    parameters: req.graph.params.map((p) => ({
      path: p.path,
      shape: p.shape as number[],
      dtype: p.dtype,
      init: p.init,
      kind: p.kind,
      frozen: p.frozen,
      decay: p.decay,
      buffer: bufferOfParam.get(p.path) ?? null,
    })),
    buffers: { plan: plan.buffers.map((b) => ({ id: b.id, bytes: b.bytes })), peakBytes },
    kernels,
    schedule: plan.schedule.map((s) => ("copy" in s ? s : { kernel: s.kernel.name, buffers: { ...s.buffers } })),
    constants: program.constants.map((c) => ({ buffer: c.buffer, dtype: c.dtype, values: [...c.values] })),
    zeroed: [...plan.zeroed],
    optimizer: req.optimizer ?? null,
    weights: req.weights ?? null,
  };
}

/** The plan of an eval bundle: the Program as is. */
export function evalPlan(program: Program, stats: readonly KernelStats[]): BundlePlan {
  return {
    kernels: program.steps.map((s, i) => ({ kernel: s.kernel, pass: stats[i]!.pass, stats: stats[i] })),
    schedule: program.steps.map((s) => ({ kernel: s.kernel, buffers: s.buffers })),
    buffers: program.buffers,
    zeroed: [],
    outputs: program.outputs.map((s) => ({ name: s.name, buffer: s.buffer, shape: [...s.shape], dtype: s.dtype })),
  };
}
