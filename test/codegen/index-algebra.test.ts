/**
 * The index algebra must compute exactly what the expression it replaces computes, and should be
 * small: checked by evaluating both on sampled values of the kernel variables.
 */
import { describe, expect, it } from "vitest";
import { linearIndex, unflatten } from "../../compiler/codegen/fused/emit.ts";
import { IndexScope } from "../../compiler/codegen/fused/index-algebra.ts";

/** A tiny exact evaluator (recursive descent), so integer division truncates at every step. */
function evalExact(src: string, env: Record<string, number>): number {
  let pos = 0;
  const skip = () => {
    while (src[pos] === " ") pos++;
  };
  const sum = (): number => {
    let v = product();
    for (;;) {
      skip();
      if (src[pos] === "+") {
        pos++;
        v += product();
      } else if (src[pos] === "-") {
        pos++;
        v -= product();
      } else return v;
    }
  };
  const product = (): number => {
    let v = primary();
    for (;;) {
      skip();
      const op = src[pos];
      if (op !== "*" && op !== "/" && op !== "%") return v;
      pos++;
      const r = primary();
      v = op === "*" ? v * r : op === "/" ? Math.floor(v / r) : v % r;
    }
  };
  const args = (): number[] => {
    const out: number[] = [];
    pos++; // (
    for (;;) {
      out.push(sum());
      skip();
      if (src[pos] === ",") pos++;
      else break;
    }
    pos++; // )
    return out;
  };
  const primary = (): number => {
    skip();
    if (src[pos] === "(") {
      pos++;
      const v = sum();
      skip();
      pos++;
      return v;
    }
    const m = /^(\d+)[ui]?|^[A-Za-z_][A-Za-z0-9_]*/.exec(src.slice(pos))!;
    pos += m[0].length;
    if (m[1] !== undefined) return Number(m[1]);
    const name = m[0];
    if (src[pos] === "(") {
      const a = args();
      if (name === "min") return Math.min(...a);
      if (name === "max") return Math.max(...a);
      if (name === "clamp") return Math.min(Math.max(a[0]!, a[1]!), a[2]!);
      if (name === "u32" || name === "i32") return a[0]!;
      throw new Error(`unknown call ${name}`);
    }
    if (!(name in env)) throw new Error(`unbound ${name}`);
    return env[name]!;
  };
  const v = sum();
  skip();
  if (pos !== src.length) throw new Error(`trailing input in ${src} at ${pos}`);
  return v;
}

/** A kernel scope in miniature: binds simplified expressions to names, as the emitters do. */
class Kernel {
  readonly scope = new IndexScope();
  readonly lets: [string, string][] = [];
  readonly original: [string, string][] = [];
  private counter = 0;

  constructor(readonly vars: Record<string, number>) {
    for (const [name, count] of Object.entries(vars)) this.scope.range(name, count);
  }

  /** Binds `expr`, keeping the unsimplified text too (in terms of the unsimplified names). */
  index(expr: string, originalExpr = expr): { name: string; orig: string } {
    const simple = this.scope.simplify(expr);
    const name = `v${this.counter++}`;
    this.scope.define(name, simple);
    this.lets.push([name, simple]);
    this.original.push([name, originalExpr]);
    return { name, orig: name };
  }

  /** Evaluates every let under `env`, simplified and original, and returns both environments. */
  run(env: Record<string, number>): { simple: Record<string, number>; orig: Record<string, number> } {
    const simple = { ...env };
    const orig = { ...env };
    for (const [name, expr] of this.lets) simple[name] = evalExact(expr, simple);
    for (const [name, expr] of this.original) orig[name] = evalExact(expr, orig);
    return { simple, orig };
  }
}

function rng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) / 2 ** 32;
  };
}

describe("index algebra", () => {
  it("recombines a flat offset split over a shape", () => {
    const k = new IndexScope();
    k.range("gi", 32768);
    const parts = unflatten("gi", [8, 64, 4, 4, 4]).map((p, i) => {
      k.define(`t${i}`, k.simplify(p));
      return `t${i}`;
    });
    expect(k.simplify(linearIndex(parts, [8, 64, 4, 4, 4]))).toBe("gi");
  });

  it("sees through the vec4 item offset", () => {
    const k = new IndexScope();
    k.range("gi", 1 << 20);
    const [a, b] = unflatten("(gi * 4u)", [2048, 2048]).map((p) => k.simplify(p));
    expect(a).toBe("(gi / 512u)");
    expect(b).toBe("(gi % 512u) * 4u");
    k.define("t0", a!);
    k.define("t1", b!);
    expect(k.simplify(`(${linearIndex(["t0", "t1"], [2048, 2048])}) / 4u`)).toBe("gi");
  });

  it("folds a permute between reshapes into the loop variables", () => {
    // The conv3d weight gradient's input read: [C*N, 4, 4, 4] viewed as [C, N, 64], permuted, viewed back.
    const k = new IndexScope();
    k.range("t0", 64);
    k.range("ci", 8);
    for (const [v, n] of [["l1", 4], ["l2", 4], ["l3", 4]] as const) k.range(v, n);
    k.define("l0", k.simplify("(t0 * 8u + ci)"));
    k.define("l4", k.simplify("(l0) * 64u + (l1) * 16u + (l2) * 4u + (l3)"));
    expect(k.simplify("((l4 / 512u) % 64u)")).toBe("t0");
    expect(k.simplify("((l4 / 64u) % 8u)")).toBe("ci");
    expect(k.simplify("((l4 / 16u) % 4u)")).toBe("l1");
    expect(k.simplify("(l4 / 1024u)")).toBe("(t0 / 2u)");
  });

  it("leaves what it does not understand exactly as written", () => {
    const k = new IndexScope();
    for (const e of ["min(select(0u, x - 2u, x >= 2u), 5u)", "(a - 1u)", "i32(x) * 2i", "x * y", "(a / b)"]) expect(k.simplify(e)).toBe(e);
  });

  it("keeps the value of random view chains (split, permute, recombine, split again)", () => {
    const next = rng(7);
    const pick = (n: number) => Math.floor(next() * n);
    for (let trial = 0; trial < 200; trial++) {
      const rank = 1 + pick(4);
      const shape = Array.from({ length: rank }, () => [1, 2, 3, 4, 5, 8, 12, 16][pick(8)]!);
      const count = shape.reduce((a, b) => a * b, 1);
      const vec = count % 4 === 0 && next() < 0.3;
      const k = new Kernel({ gi: vec ? count / 4 : count, ci: 3 });
      const flat = vec ? "(gi * 4u)" : "gi";
      let idx = unflatten(flat, shape).map((p) => k.index(p).name);
      let cur = shape;
      for (let step = 0; step < 3; step++) {
        const perm = cur.map((_, i) => i).sort(() => next() - 0.5);
        const permuted = perm.map((p) => cur[p]!);
        const pIdx = perm.map((p) => idx[p]!);
        const lin = k.index(linearIndex(pIdx, permuted)).name;
        // Reshape to a random factorisation of the same size.
        const dims: number[] = [];
        let rest = count;
        while (rest > 1 && dims.length < 4) {
          const divisors = [2, 3, 4, 5, 8].filter((d) => rest % d === 0);
          if (divisors.length === 0 || next() < 0.25) break;
          const d = divisors[pick(divisors.length)]!;
          dims.push(d);
          rest /= d;
        }
        dims.push(rest);
        cur = dims;
        idx = unflatten(lin, cur).map((p) => k.index(p).name);
      }
      const final = k.index(`${linearIndex(idx, cur)}`).name;
      for (let s = 0; s < 20; s++) {
        const env = { gi: pick(vec ? count / 4 : count), ci: pick(3) };
        const { simple, orig } = k.run(env);
        expect(simple[final], `${shape} trial ${trial}: ${k.lets.map(([n, e]) => `${n}=${e}`).join("; ")}`).toBe(orig[final]);
      }
    }
  });
});

