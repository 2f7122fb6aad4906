/**
 * The per-step values every kernel may read: one 32-byte uniform buffer, written with one
 * `queue.writeBuffer` before each submit, so a training step never rebuilds bind groups.
 */
export interface DynamicValues {
  /** 1-based optimizer step (Adam bias correction, SGD first step). */
  step: number;
  /** RNG seed for this step (dropout, drop-path). */
  seed: number;
  /** Base learning rate after the schedule. */
  lr: number;
}

export const DYNAMIC_WGSL = `struct IvcDynamic {
  step: u32,
  seed: u32,
  lr: f32,
  _pad0: u32,
  _pad1: vec4<u32>,
}`;

export const DYNAMIC_BYTES = 32;

export function encodeDynamic(v: DynamicValues): ArrayBuffer {
  const buf = new ArrayBuffer(DYNAMIC_BYTES);
  const u = new Uint32Array(buf);
  const f = new Float32Array(buf);
  u[0] = v.step >>> 0;
  u[1] = v.seed >>> 0;
  f[2] = v.lr;
  return buf;
}
