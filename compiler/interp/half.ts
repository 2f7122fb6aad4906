/**
 * f16 rounding for the interpreter's model of f16 storage: the value an f32 becomes when a kernel
 * stores it as f16 (round to nearest, ties to even; overflow to infinity; subnormals kept).
 */

// Halfway between the largest f16 (65504) and the next step (65536): from here on, rounding overflows.
const OVERFLOW = 65520;

export function roundToHalf(x: number): number {
  if (!Number.isFinite(x) || x === 0) return x;
  const a = Math.abs(x);
  if (a >= OVERFLOW) return Math.sign(x) * Infinity;
  let e = Math.floor(Math.log2(a));
  if (2 ** e > a) e--;
  else if (2 ** (e + 1) <= a) e++;
  // 10 mantissa bits; below the smallest normal (2^-14) the step stays 2^-24.
  const quantum = 2 ** (Math.max(e, -14) - 10);
  const q = a / quantum;
  const floor = Math.floor(q);
  const frac = q - floor;
  const rounded = frac > 0.5 || (frac === 0.5 && floor % 2 === 1) ? floor + 1 : floor;
  return Math.sign(x) * rounded * quantum;
}

/** A copy of `data` with every element rounded to f16 (a copy: the interpreter's views share arrays). */
export function roundArrayToHalf<T extends Float32Array | Float64Array>(data: T): T {
  const out = data.slice() as T;
  for (let i = 0; i < out.length; i++) out[i] = roundToHalf(out[i]!);
  return out;
}
