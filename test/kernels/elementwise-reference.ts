/** Evaluates an elementwise expression tree on the CPU, element by element, in float64. */
import type { EwExpr, ElementwiseParams } from "../../compiler/codegen/elementwise.ts";
import { numel } from "../../compiler/codegen/index-map.ts";
import { randomBernoulli, randomNormal, randomUniform } from "../../compiler/ir/philox.ts";
import { erf } from "./reference.ts";

const UNARY: Record<string, (x: number) => number> = {
  neg: (x) => -x,
  abs: Math.abs,
  exp: Math.exp,
  log: Math.log,
  sqrt: Math.sqrt,
  rsqrt: (x) => 1 / Math.sqrt(x),
  recip: (x) => 1 / x,
  tanh: Math.tanh,
  sigmoid: (x) => 1 / (1 + Math.exp(-x)),
  erf,
  sin: Math.sin,
  cos: Math.cos,
  floor: Math.floor,
  sign: Math.sign,
  relu: (x) => Math.max(x, 0),
};

export function evalElementwise(p: ElementwiseParams, data: Record<string, ArrayLike<number>>, seed = 0): Record<string, Float64Array> {
  const total = numel(p.shape);
  const out: Record<string, Float64Array> = {};
  for (const o of p.outputs) out[o.name] = new Float64Array(total);
  const coord = new Array<number>(p.shape.length);
  for (let e = 0; e < total; e++) {
    let rest = e;
    for (let d = p.shape.length - 1; d >= 0; d--) {
      coord[d] = rest % p.shape[d];
      rest = Math.floor(rest / p.shape[d]);
    }
    const ev = (x: EwExpr): number => {
      switch (x.op) {
        case "input": {
          const inp = p.inputs.find((i) => i.name === x.input)!;
          let off = inp.offset ?? 0;
          inp.strides.forEach((s, d) => (off += s * coord[d]));
          return data[x.input][off];
        }
        case "const":
          return x.value;
        case "iota":
          return coord[x.axis];
        case "random":
          return x.dist === "uniform" ? randomUniform(seed, x.stream, e) : x.dist === "normal" ? randomNormal(seed, x.stream, e) : randomBernoulli(seed, x.stream, e, x.p ?? 0.5);
        case "unary":
          return UNARY[x.fn](ev(x.x));
        case "binary": {
          const [a, b] = [ev(x.a), ev(x.b)];
          return { add: a + b, sub: a - b, mul: a * b, div: a / b, max: Math.max(a, b), min: Math.min(a, b), pow: Math.pow(a, b) }[x.fn];
        }
        case "compare": {
          const [a, b] = [ev(x.a), ev(x.b)];
          return Number({ lt: a < b, le: a <= b, gt: a > b, ge: a >= b, eq: a === b, ne: a !== b }[x.fn]);
        }
        case "where":
          return ev(x.cond) ? ev(x.a) : ev(x.b);
        case "cast": {
          const v = ev(x.x);
          return x.to === "i32" ? Math.trunc(v) : x.to === "bool" ? Number(v !== 0) : v;
        }
      }
    };
    for (const o of p.outputs) out[o.name][e] = ev(o.expr);
  }
  return out;
}
