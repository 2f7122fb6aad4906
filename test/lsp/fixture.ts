/** A small model for the language-server tests, and a helper to find offsets in it. */
export const MODEL = `import { LayerNorm, Linear } from "std/nn"

config TinyConfig {
  width: int = 16
  classes: int = 4
}

preset small: TinyConfig { width = 8 }

module Encoder(w: int) {
  ln = LayerNorm(w)
  forward encode(t: f32[B, N, w]) -> f32[B, N, w] {
    return ln(t)
  }
}

model Tiny(cfg: TinyConfig) {
  norm = LayerNorm(cfg.width)
  enc = Encoder(cfg.width)
  head = Linear(cfg.width, cfg.classes)
  forward(x: f32[B, 8, cfg.width]) -> f32[B, cfg.classes] {
    let e = enc.encode(x)
    let pooled = mean(norm(x), axis = 1) + mean(e, axis = 1)
    return head(pooled)
  }
}
`;

/** Offset of the `nth` occurrence of `needle` plus `delta`. */
export function offsetOf(text: string, needle: string, delta = 0, nth = 0): number {
  let at = -1;
  for (let i = 0; i <= nth; i++) {
    at = text.indexOf(needle, at + 1);
    if (at < 0) throw new Error(`\`${needle}\` not found`);
  }
  return at + delta;
}
