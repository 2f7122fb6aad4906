/**
 * Epilogues: elementwise work applied to a kernel's result before it is stored, so bias, scaling,
 * activation, residual add and gating cost no extra pass over memory.
 *
 * An epilogue is a chain of WGSL expressions, each rewriting `v` (f32). Expressions may use
 * `b` (batch), `row`, `col` (output coordinates, u32), `idx` (the output element's offset) and the
 * named extra inputs, which the kernel binds as read-only f32 storage.
 */
import { f32Lit } from "./kernel.ts";

export interface Epilogue {
  readonly steps: readonly string[];
  readonly inputs: readonly string[];
}

export const NO_EPILOGUE: Epilogue = { steps: [], inputs: [] };

export function chain(...parts: Epilogue[]): Epilogue {
  return { steps: parts.flatMap((p) => p.steps), inputs: [...new Set(parts.flatMap((p) => p.inputs))] };
}

export const epilogue = {
  /** Adds `name[col]` (a bias per output column). */
  bias: (name: string): Epilogue => ({ steps: [`v + ${name}[col]`], inputs: [name] }),
  /** Adds `name[row]` (a bias per output row, e.g. per output channel of a conv laid out [O, ...]). */
  rowBias: (name: string): Epilogue => ({ steps: [`v + ${name}[row]`], inputs: [name] }),
  scale: (s: number): Epilogue => ({ steps: [`v * ${f32Lit(s)}`], inputs: [] }),
  geluErf: (): Epilogue => ({ steps: ["ivc_gelu_erf(v)"], inputs: [] }),
  quickGelu: (): Epilogue => ({ steps: ["ivc_quick_gelu(v)"], inputs: [] }),
  tanh: (): Epilogue => ({ steps: ["ivc_tanh(v)"], inputs: [] }),
  relu: (): Epilogue => ({ steps: ["max(v, 0.0)"], inputs: [] }),
  /** Adds `name[idx]`, a tensor laid out like the output. */
  residual: (name: string): Epilogue => ({ steps: [`v + ${name}[idx]`], inputs: [name] }),
  /** Multiplies by `name[idx]`, a tensor laid out like the output. */
  gate: (name: string): Epilogue => ({ steps: [`v * ${name}[idx]`], inputs: [name] }),
  /** Any expression of `v`; `inputs` names the buffers it reads. */
  custom: (expr: string, inputs: string[] = []): Epilogue => ({ steps: [expr], inputs }),
};

/** `fn epilogue(...)` for the shader. */
export function epilogueFn(e: Epilogue): string {
  const body = e.steps.map((s) => `  v = ${s};`).join("\n");
  return `fn epilogue(value: f32, b: u32, row: u32, col: u32, idx: u32) -> f32 {
  var v = value;
${body}
  return v;
}`;
}
