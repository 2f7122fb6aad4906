/**
 * The half of the bundle runtime that records no GPU commands: the manifest's types, weights
 * (safetensors parsing, tensors by path), input conversion, and waiting on dawn.node's promises. Emitted into every bundle as `runtime-support.ts`
 * / `.js` next to `runtime.ts`; like it, it must not import ivc.
 */
import { existsSync, readFileSync } from "node:fs";

export type Tensor = Float32Array | Int32Array;
export type TensorLike = Tensor | ArrayLike<number>;

export interface ManifestSlot {
  readonly name: string;
  readonly buffer: string;
  readonly shape: readonly number[];
  readonly dtype: string;
}
export interface ManifestBinding {
  readonly name: string;
  readonly kind: "storage" | "constant" | "dynamic";
  readonly access?: "read" | "read_write";
  /** Constant tables only: element type and values. */
  readonly elem?: string;
  readonly data?: readonly number[];
}
export interface ManifestKernel {
  readonly name: string;
  readonly file: string;
  readonly entryPoint: string;
  readonly grid: readonly [number, number, number];
  readonly bindings: readonly ManifestBinding[];
}
export interface ManifestCopy {
  readonly src: string;
  readonly srcOffset: number;
  readonly dst: string;
  readonly dstOffset: number;
  readonly bytes: number;
}
export type ManifestStep =
  { readonly kernel: string; readonly buffers: Readonly<Record<string, string>> } | { readonly copy: ManifestCopy };
/** The part of manifest.json the runtime reads (the compiler writes more, for people and tools). */
export interface RuntimeManifest {
  readonly format: string;
  readonly mode: "eval" | "train";
  readonly features: readonly string[];
  readonly inputs: readonly ManifestSlot[];
  readonly outputs: readonly ManifestSlot[];
  readonly parameters: readonly {
    readonly path: string;
    readonly shape: readonly number[];
    readonly dtype: string;
    readonly buffer: string | null;
  }[];
  readonly buffers: { readonly plan: readonly { readonly id: string; readonly bytes: number }[] };
  readonly kernels: readonly ManifestKernel[];
  readonly schedule: readonly ManifestStep[];
  readonly constants: readonly { readonly buffer: string; readonly dtype: string; readonly values: readonly number[] }[];
  /** Train bundles: buffers zeroed at load (optimizer moments). */
  readonly zeroed?: readonly string[];
}

export const BUNDLE_FORMAT = "ivc-bundle/1";

export function readSafetensors(file: string): Map<string, Tensor> {
  const bytes = readFileSync(file);
  if (bytes.length < 8) throw new Error(`${file} is not a safetensors file (shorter than its 8-byte header length)`);
  const headerLength = Number(bytes.readBigUInt64LE(0));
  if (headerLength > bytes.length - 8)
    throw new Error(`${file} is not a safetensors file (header length ${headerLength} past the end)`);
  let header: Record<string, { dtype: string; shape: number[]; data_offsets: [number, number] }>;
  try {
    header = JSON.parse(bytes.subarray(8, 8 + headerLength).toString("utf8"));
  } catch {
    throw new Error(`${file} is not a safetensors file (its header is not JSON)`);
  }
  const start = 8 + headerLength;
  const out = new Map<string, Tensor>();
  for (const [name, e] of Object.entries(header)) {
    if (name === "__metadata__") continue;
    if (e.dtype !== "F32" && e.dtype !== "I32")
      throw new Error(
        `${file}: tensor '${name}' is ${e.dtype}; bundles load F32 (and I32) tensors only, convert with \`ivc compile --weights\``,
      );
    const [b, end] = e.data_offsets;
    if (!(end >= b && start + end <= bytes.length)) throw new Error(`${file}: tensor '${name}' lies past the end of the file`);
    const copy = bytes.buffer.slice(bytes.byteOffset + start + b, bytes.byteOffset + start + end);
    out.set(name, e.dtype === "F32" ? new Float32Array(copy) : new Int32Array(copy));
  }
  return out;
}

export function sizeOf(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

export function typed(name: string, data: TensorLike, slot: { shape: readonly number[]; dtype: string }): Tensor {
  const n = sizeOf(slot.shape);
  if (!data || typeof (data as ArrayLike<number>).length !== "number")
    throw new Error(`'${name}' must be a typed array of ${n} values`);
  if (data.length !== n) throw new Error(`'${name}' has ${data.length} values; its shape [${slot.shape.join(", ")}] needs ${n}`);
  if (slot.dtype === "f32") return data instanceof Float32Array ? data : Float32Array.from(data);
  return data instanceof Int32Array ? data : Int32Array.from(data);
}

/** The tensors to upload: a safetensors path, tensors by path, or (default) the bundle's weights.safetensors. */
export function resolveWeights(
  root: string,
  weights: string | Readonly<Record<string, TensorLike>> | undefined,
): ReadonlyMap<string, TensorLike> {
  if (weights === undefined) {
    const file = `${root}weights.safetensors`;
    if (!existsSync(file))
      throw new Error(
        "the bundle has no weights.safetensors: pass load({ weights: 'file.safetensors' }) or tensors by parameter path",
      );
    return readSafetensors(file);
  }
  if (typeof weights === "string") {
    if (!existsSync(weights)) throw new Error(`weights file ${weights} does not exist`);
    return readSafetensors(weights);
  }
  return new Map(Object.entries(weights));
}

type Immediate = typeof setImmediate;
const NATIVE = /\{\s*\[native code\]\s*\}$/;
const sleeper = new Int32Array(new SharedArrayBuffer(4));
let realSetImmediate: Immediate | undefined;
let waiters = 0;
let waitStart = 0;

/**
 * How long dawn's next poll sleeps: a tenth of the wait so far, within 0.05-1 ms. Completion is then
 * seen at most ~10% late, and a long step is polled about once a millisecond. A fixed 0.1 ms cost the
 * ViT block step ~20% (more polls contend with the driver); a 0 ms timer (Node sleeps ~1 ms) cost the
 * 4 ms elementwise kernel ~20%.
 */
function pollSleepMs(): number {
  return Math.min(1, Math.max(0.05, (performance.now() - waitStart) / 10));
}

/**
 * While a dawn.node promise (onSubmittedWorkDone, mapAsync) is pending, dawn polls its instance by
 * re-arming `globalThis.setImmediate` with a native callback, looked up on every call: a busy loop
 * that takes one of lavapipe's two cores (the main thread used 80% of a core while a 4M-float kernel
 * ran, and the kernel took twice as long). While we wait, each native callback first sleeps
 * (Atomics.wait: the thread sleeps in the kernel). Other callers keep the real setImmediate, so their
 * clearImmediate still works.
 */
function throttleDawnPolling(): () => void {
  if (waiters++ === 0) {
    waitStart = performance.now();
    const real = (realSetImmediate = globalThis.setImmediate);
    const deferred = (callback: (...args: unknown[]) => void, ...args: unknown[]) =>
      NATIVE.test(Function.prototype.toString.call(callback))
        ? real(() => {
            Atomics.wait(sleeper, 0, 0, pollSleepMs());
            callback(...args);
          })
        : real(callback, ...args);
    globalThis.setImmediate = Object.assign(deferred, real) as unknown as Immediate;
  }
  return () => {
    if (--waiters === 0 && realSetImmediate) globalThis.setImmediate = realSetImmediate;
  };
}

/**
 * Waits for a dawn.node promise: spins ~0.1 ms first (a small readback takes about that long), then
 * lets dawn poll between short sleeps so the driver keeps every core. Timed on the 4 ms elementwise
 * kernel: no spin was ~25% slower, 1 ms of spin ~20% slower, 0.1 and 0.3 ms alike.
 */
export async function settle<T>(p: Promise<T>): Promise<T> {
  let done = false;
  const tracked = p.finally(() => {
    done = true;
  });
  const spinUntil = performance.now() + 0.1;
  while (!done && performance.now() < spinUntil) await new Promise<void>((r) => setImmediate(r));
  if (done) return tracked;
  const restore = throttleDawnPolling();
  try {
    return await tracked;
  } finally {
    restore();
  }
}
