/**
 * Finite-difference gradient checking in float64. A test builds a graph over named parameters; the
 * helper reduces its result to a scalar with a fixed random weighting (so every output element
 * matters differently), differentiates, and compares each gradient with central differences.
 */
import { expect } from "vitest";
import { differentiate } from "../../compiler/autodiff/index.ts";
import { GraphBuilder } from "../../compiler/ir/builder.ts";
import { evalShape, type Shape } from "../../compiler/ir/dims.ts";
import type { Graph, ParamInfo, ValueId } from "../../compiler/ir/types.ts";
import { interpret, type HostArray } from "../../compiler/interp/index.ts";
import { verifyGraph } from "../../compiler/ir/verify.ts";

/** mulberry32: a tiny seeded generator so test data is reproducible. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface ParamSpec {
  readonly shape: readonly number[];
  /** Values are drawn uniformly from [low, high]; `awayFromZero` keeps |v| >= 0.1 for kinks. */
  readonly low?: number;
  readonly high?: number;
  readonly awayFromZero?: boolean;
  readonly frozen?: boolean;
}

export function paramInfo(path: string, shape: Shape, frozen = false): ParamInfo {
  return { path, shape, dtype: "f32", init: { kind: "zeros" }, kind: "param", frozen, decay: false };
}

export function randomData(spec: ParamSpec, next: () => number): Float64Array {
  const n = spec.shape.reduce((a, d) => a * d, 1);
  const lo = spec.low ?? -1;
  const hi = spec.high ?? 1;
  return Float64Array.from({ length: n }, () => {
    let v = lo + (hi - lo) * next();
    if (spec.awayFromZero && Math.abs(v) < 0.1) v = v < 0 ? v - 0.1 : v + 0.1;
    return v;
  });
}

export interface GradCheckCase {
  readonly params: Readonly<Record<string, ParamSpec>>;
  /** Extra fixed inputs (not differentiated), e.g. labels or indices. */
  readonly inputs?: Readonly<Record<string, { shape: Shape; data: HostArray; dtype?: "f32" | "i32" }>>;
  readonly build: (b: GraphBuilder, p: Record<string, ValueId>, x: Record<string, ValueId>) => ValueId;
  readonly seed?: number;
  readonly tolerance?: number;
}

function scalarize(b: GraphBuilder, out: ValueId, next: () => number): ValueId {
  const shape = b.shapeOf(out) as number[];
  const n = shape.reduce((a, d) => a * d, 1);
  if (shape.length === 0) return out;
  const weights = b.constant(Array.from({ length: n }, () => next() * 2 - 1), shape);
  return b.reduce("sum", b.binary("mul", out, weights), [...shape.keys()]);
}

export function buildCase(c: GradCheckCase): { graph: Graph; values: Record<string, Float64Array>; inputs: Record<string, HostArray> } {
  const next = rng(c.seed ?? 1);
  const b = new GraphBuilder();
  const p: Record<string, ValueId> = {};
  const values: Record<string, Float64Array> = {};
  for (const [path, spec] of Object.entries(c.params)) {
    p[path] = b.param(paramInfo(path, spec.shape, spec.frozen));
    values[path] = randomData(spec, next);
  }
  const x: Record<string, ValueId> = {};
  const inputs: Record<string, HostArray> = {};
  for (const [name, inp] of Object.entries(c.inputs ?? {})) {
    x[name] = b.input(name, inp.shape, inp.dtype ?? "f32");
    inputs[name] = inp.data;
  }
  b.output("loss", scalarize(b, c.build(b, p, x), next));
  return { graph: b.build(), values, inputs };
}

function relErr(a: ArrayLike<number>, n: ArrayLike<number>): number {
  let diff = 0;
  let na = 0;
  let nn = 0;
  for (let i = 0; i < a.length; i++) {
    diff += (a[i]! - n[i]!) ** 2;
    na += a[i]! ** 2;
    nn += n[i]! ** 2;
  }
  return Math.sqrt(diff) / Math.max(Math.sqrt(na), Math.sqrt(nn), 1e-12);
}

/** Checks every trainable parameter's gradient against central differences; returns the worst relative error. */
export function gradCheck(c: GradCheckCase): number {
  const { graph, values, inputs } = buildCase(c);
  const { graph: full, grads } = differentiate(graph, { loss: "loss", wrt: (p) => !p.frozen });
  expect(verifyGraph(full)).toEqual([]);
  const run = (params: Record<string, Float64Array>, outputs: string[]) => interpret(full, { inputs, params, precision: "f64", outputs });
  const analytic = run(values, [...grads.keys()].map((p) => `grad:${p}`));
  const h = 1e-6;
  let worst = 0;
  for (const path of grads.keys()) {
    const base = values[path]!;
    const numeric = new Float64Array(base.length);
    for (let i = 0; i < base.length; i++) {
      const orig = base[i]!;
      base[i] = orig + h;
      const up = run(values, ["loss"])["loss"]!.data[0]!;
      base[i] = orig - h;
      const down = run(values, ["loss"])["loss"]!.data[0]!;
      base[i] = orig;
      numeric[i] = (up - down) / (2 * h);
    }
    const got = analytic[`grad:${path}`]!;
    expect(evalShape(full.nodes.find((n) => n.id === grads.get(path))!.shape, {})).toEqual(c.params[path]!.shape);
    const err = relErr(got.data, numeric);
    expect(err, `gradient of ${path}`).toBeLessThan(c.tolerance ?? 1e-6);
    expect(Math.max(...Array.from(numeric, Math.abs)), `gradient of ${path} is not trivially zero`).toBeGreaterThan(0);
    worst = Math.max(worst, err);
  }
  for (const [path, spec] of Object.entries(c.params)) if (!spec.frozen) expect(grads.has(path), `grad for ${path}`).toBe(true);
  return worst;
}
