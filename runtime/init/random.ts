/**
 * Random streams for parameter initialisation. Each parameter draws from its own generator keyed by
 * (seed, path), so adding, removing or reordering parameters never changes the values of the others,
 * and a stage that adds a module to a model keeps every shared parameter's initial value.
 */
import { erf } from "../../compiler/interp/elementwise.ts";
import { Rng } from "../data/rng.ts";

const INIT_STREAM = 0x1417;

/** FNV-1a over the UTF-16 code units of `text`, 32 bits. */
export function hashPath(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return hash >>> 0;
}

export class InitStream {
  private readonly rng: Rng;
  private spare: number | undefined;

  constructor(seed: number, path: string) {
    this.rng = Rng.fromKey(seed, INIT_STREAM, hashPath(path));
  }

  /** Uniform in [0, 1) with 53 random bits (two 32-bit draws), so 1 - u is never 0. */
  uniform01(): number {
    const high = this.rng.nextUint32() >>> 5;
    const low = this.rng.nextUint32() >>> 6;
    return (high * 67108864 + low) / 9007199254740992;
  }

  uniform(low: number, high: number): number {
    return low + (high - low) * this.uniform01();
  }

  /** Standard normal by Box-Muller; the second value of each pair is kept for the next call. */
  normal(): number {
    if (this.spare !== undefined) {
      const value = this.spare;
      this.spare = undefined;
      return value;
    }
    const radius = Math.sqrt(-2 * Math.log(1 - this.uniform01()));
    const angle = 2 * Math.PI * this.uniform01();
    this.spare = radius * Math.sin(angle);
    return radius * Math.cos(angle);
  }
}

/** The standard normal CDF. */
export function normalCdf(x: number): number {
  return 0.5 * (1 + erf(x / Math.SQRT2));
}

/**
 * Inverse error function on (-1, 1): Giles' single-precision approximation (2010), refined by two
 * Newton steps on erf so the result is accurate to double precision where erf is.
 */
export function erfinv(y: number): number {
  if (y <= -1) return -Infinity;
  if (y >= 1) return Infinity;
  let w = -Math.log((1 - y) * (1 + y));
  let x: number;
  if (w < 5) {
    w -= 2.5;
    let p = 2.81022636e-8;
    for (const c of [3.43273939e-7, -3.5233877e-6, -4.39150654e-6, 0.00021858087, -0.00125372503, -0.00417768164, 0.246640727, 1.50140941]) p = c + p * w;
    x = p * y;
  } else {
    w = Math.sqrt(w) - 3;
    let p = -0.000200214257;
    for (const c of [0.000100950558, 0.00134934322, -0.00367342844, 0.00573950773, -0.0076224613, 0.00943887047, 1.00167406, 2.83297682]) p = c + p * w;
    x = p * y;
  }
  for (let i = 0; i < 2; i++) {
    const err = erf(x) - y;
    x -= err / ((2 / Math.sqrt(Math.PI)) * Math.exp(-x * x));
  }
  return x;
}
