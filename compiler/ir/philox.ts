/**
 * Counter-based random numbers for the `random` primitive: Philox4x32-10 (Salmon et al., SC'11),
 * written with 32-bit operations only so WGSL (which has no u64) can reproduce it bit for bit.
 *
 * The contract shared by the interpreter and the WGSL lowering, for element `i` (row-major index
 * into the output) of a `random` node with stream `s` under run seed `seed`:
 *   key     = (seed, s)
 *   counter = (i, 0, 0, 0)
 *   (r0, r1, r2, r3) = philox4x32_10(counter, key)
 *   uniform   = f32((r0 >> 8) * 2^-24)                       in [0, 1), exact in f32
 *   bernoulli = uniform < f32(p) ? 1 : 0                      exact
 *   normal    = sqrt(-2 ln u1) * cos(2 pi u2)  with u1 = ((r0 >> 8) + 1) * 2^-24 in (0, 1],
 *                                                  u2 = (r1 >> 8) * 2^-24
 * Uniform and bernoulli are bit-exact across CPU and GPU; normal goes through log/cos, whose WGSL
 * precision is implementation-defined, so GPU tests compare it with a tolerance.
 */

const M0 = 0xd2511f53;
const M1 = 0xcd9e8d57;
const W0 = 0x9e3779b9;
const W1 = 0xbb67ae85;

/** High 32 bits of the 64-bit product a*b, from 16-bit halves (the same split works in WGSL). */
export function mulhi32(a: number, b: number): number {
  const aLo = a & 0xffff;
  const aHi = a >>> 16;
  const bLo = b & 0xffff;
  const bHi = b >>> 16;
  const lolo = aLo * bLo;
  const lohi = aLo * bHi;
  const hilo = aHi * bLo;
  const mid = (lolo >>> 16) + (lohi & 0xffff) + (hilo & 0xffff);
  return (aHi * bHi + (lohi >>> 16) + (hilo >>> 16) + Math.floor(mid / 65536)) >>> 0;
}

/** Philox4x32 with 10 rounds; all words are unsigned 32-bit numbers. */
export function philox4x32_10(
  counter: readonly [number, number, number, number],
  key: readonly [number, number],
): [number, number, number, number] {
  let [c0, c1, c2, c3] = counter.map((x) => x >>> 0) as [number, number, number, number];
  let k0 = key[0] >>> 0;
  let k1 = key[1] >>> 0;
  for (let round = 0; round < 10; round++) {
    if (round > 0) {
      k0 = (k0 + W0) >>> 0;
      k1 = (k1 + W1) >>> 0;
    }
    const hi0 = mulhi32(M0, c0);
    const lo0 = Math.imul(M0, c0) >>> 0;
    const hi1 = mulhi32(M1, c2);
    const lo1 = Math.imul(M1, c2) >>> 0;
    [c0, c1, c2, c3] = [(hi1 ^ c1 ^ k0) >>> 0, lo1, (hi0 ^ c3 ^ k1) >>> 0, lo0];
  }
  return [c0, c1, c2, c3];
}

const TWO_POW_M24 = 1 / 16777216;

export function randomUniform(seed: number, stream: number, index: number): number {
  const [r0] = philox4x32_10([index, 0, 0, 0], [seed, stream]);
  return (r0 >>> 8) * TWO_POW_M24;
}

export function randomBernoulli(seed: number, stream: number, index: number, p: number): number {
  return randomUniform(seed, stream, index) < Math.fround(p) ? 1 : 0;
}

export function randomNormal(seed: number, stream: number, index: number): number {
  const [r0, r1] = philox4x32_10([index, 0, 0, 0], [seed, stream]);
  const u1 = ((r0 >>> 8) + 1) * TWO_POW_M24;
  const u2 = (r1 >>> 8) * TWO_POW_M24;
  return Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
}
