/**
 * Parameter initialisation for every `@init` kind of the IR (compiler/ir/types.ts), with PyTorch's
 * semantics (torch.nn.init). Values are deterministic per (seed, path): see random.ts.
 *
 *   zeros, ones, constant(value)
 *   normal(std, mean)
 *   trunc_normal(std, mean, a, b)  a normal truncated to the absolute bounds [a, b] (not multiples of
 *                                  std), by inverse-CDF sampling like torch.nn.init.trunc_normal_
 *   uniform(low, high)
 *   xavier_uniform(fanIn, fanOut)  U(-r, r), r = sqrt(6 / (fanIn + fanOut)) (gain 1)
 *   kaiming_uniform(fanIn, a)      U(-r, r), r = gain * sqrt(3 / fanIn), gain = sqrt(2 / (1 + a^2))
 *                                  (leaky_relu gain; a = sqrt(5) gives PyTorch's default Linear/Conv init)
 *   sinusoidal(positions, dim)     the VideoMAE table: even channel j gets sin(p / 10000^(2 floor(j/2) / dim)),
 *                                  odd channel j the cos of the same angle (fact sheet 2.2)
 */
import { evalShape } from "../../compiler/ir/dims.ts";
import type { Init, ParamInfo } from "../../compiler/ir/types.ts";
import { InitStream, erfinv, normalCdf } from "./random.ts";

export { hashPath } from "./random.ts";

export type ParamArray = Float32Array | Int32Array;

/** Fills `out` according to `init`; `path` keys the random stream. */
export function fillInit(out: Float64Array, init: Init, seed: number, path: string): void {
  const stream = () => new InitStream(seed, path);
  switch (init.kind) {
    case "zeros":
      out.fill(0);
      return;
    case "ones":
      out.fill(1);
      return;
    case "constant":
      out.fill(init.value);
      return;
    case "normal": {
      const s = stream();
      for (let i = 0; i < out.length; i++) out[i] = init.mean + init.std * s.normal();
      return;
    }
    case "trunc_normal": {
      const s = stream();
      const low = normalCdf((init.a - init.mean) / init.std);
      const high = normalCdf((init.b - init.mean) / init.std);
      for (let i = 0; i < out.length; i++) {
        const u = s.uniform(2 * low - 1, 2 * high - 1);
        const x = init.mean + init.std * Math.SQRT2 * erfinv(u);
        out[i] = Math.min(init.b, Math.max(init.a, x));
      }
      return;
    }
    case "uniform": {
      const s = stream();
      for (let i = 0; i < out.length; i++) out[i] = s.uniform(init.low, init.high);
      return;
    }
    case "xavier_uniform": {
      const bound = Math.sqrt(6 / (init.fanIn + init.fanOut));
      const s = stream();
      for (let i = 0; i < out.length; i++) out[i] = s.uniform(-bound, bound);
      return;
    }
    case "kaiming_uniform": {
      const gain = Math.sqrt(2 / (1 + init.a * init.a));
      const bound = gain * Math.sqrt(3 / init.fanIn);
      const s = stream();
      for (let i = 0; i < out.length; i++) out[i] = s.uniform(-bound, bound);
      return;
    }
    case "sinusoidal": {
      if (out.length !== init.positions * init.dim) {
        throw new RangeError(`${path}: a sinusoidal table [${init.positions}, ${init.dim}] has ${init.positions * init.dim} values, the parameter ${out.length}`);
      }
      for (let p = 0; p < init.positions; p++) {
        for (let j = 0; j < init.dim; j++) {
          const angle = p / Math.pow(10000, (2 * Math.floor(j / 2)) / init.dim);
          out[p * init.dim + j] = j % 2 === 0 ? Math.sin(angle) : Math.cos(angle);
        }
      }
      return;
    }
  }
}

/** Initial values of every parameter and buffer, by path. Shapes must be concrete (no symbolic dims). */
export function initParams(params: readonly ParamInfo[], seed: number): Map<string, ParamArray> {
  const values = new Map<string, ParamArray>();
  for (const p of params) {
    const shape = evalShape(p.shape, {});
    const count = shape.reduce((a, b) => a * b, 1);
    const exact = new Float64Array(count);
    fillInit(exact, p.init, seed, p.path);
    values.set(p.path, p.dtype === "f32" ? Float32Array.from(exact) : Int32Array.from(exact, Math.round));
  }
  return values;
}
