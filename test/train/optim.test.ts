import { describe, expect, it } from "vitest";
import type { CallSpec } from "../../compiler/elaborate/stage.ts";
import { UserError } from "../../cli/errors.ts";
import { Optimizer, WeightEma, clipGradNorm, layerLrScales, optimizerFromCall, type OptimizerSpec } from "../../runtime/train/optim.ts";
import { learningRate, scheduleFromCall } from "../../runtime/train/schedule.ts";

const span = { file: "m.ivm", offset: 0, endOffset: 1, line: 9, col: 1, endLine: 9, endCol: 2 };
const call = (name: string, args: Record<string, unknown>): CallSpec => ({ name, args, span });

function run(spec: OptimizerSpec, decay: boolean, w0: number[], gradients: number[][]): number[][] {
  const values = new Map([["w", Float32Array.from(w0)]]);
  const opt = new Optimizer(spec, [{ path: "w", decay, lrScale: 1 }], new Map([["w", w0.length]]));
  return gradients.map((g, i) => {
    opt.update(values, new Map([["w", Float32Array.from(g)]]), spec.lr, i + 1);
    return [...values.get("w")!];
  });
}

describe("AdamW (PyTorch semantics)", () => {
  const spec = optimizerFromCall(call("adamw", { lr: 0.1, weight_decay: 0.1, betas: [0.9, 0.999], eps: 1e-8 }));

  it("matches two hand-computed steps", () => {
    // Step 1: w * (1 - 0.01) then -lr * sign(g) (Adam's first step is lr * g / |g|).
    // Step 2: m = 0.095 / -0.019, v / (1 - b2^2) = g^2, so the step is again lr * sign(g).
    const [s1, s2] = run(spec, true, [1, -2], [[0.5, -0.1], [0.5, -0.1]]);
    expect(s1![0]).toBeCloseTo(0.89, 6);
    expect(s1![1]).toBeCloseTo(-1.88, 6);
    expect(s2![0]).toBeCloseTo(0.89 * 0.99 - 0.1, 6);
    expect(s2![1]).toBeCloseTo(-1.88 * 0.99 + 0.1, 6);
  });

  it("skips weight decay where ParamInfo.decay is false", () => {
    const [s1] = run(spec, false, [1, -2], [[0.5, -0.1]]);
    expect(s1![0]).toBeCloseTo(0.9, 6);
    expect(s1![1]).toBeCloseTo(-1.9, 6);
  });

  it("keeps state only for the parameters it trains", () => {
    const opt = new Optimizer(spec, [{ path: "a", decay: true, lrScale: 1 }], new Map([["a", 3], ["frozen", 5]]));
    expect([...opt.state.keys()].sort()).toEqual(["optim.exp_avg:a", "optim.exp_avg_sq:a"]);
  });

  it("applies the per-parameter LR scale", () => {
    const values = new Map([["w", Float32Array.from([1])]]);
    const opt = new Optimizer(spec, [{ path: "w", decay: false, lrScale: 0.5 }], new Map([["w", 1]]));
    opt.update(values, new Map([["w", Float32Array.from([2])]]), 0.1, 1);
    expect(values.get("w")![0]).toBeCloseTo(0.95, 6);
  });
});

describe("SGD with momentum", () => {
  it("matches hand-computed steps (first step seeds the buffer with the gradient)", () => {
    const spec = optimizerFromCall(call("sgd", { lr: 0.1, momentum: 0.9 }));
    const [s1, s2] = run(spec, true, [1], [[0.5], [0.5]]);
    expect(s1![0]).toBeCloseTo(0.95, 7);
    expect(s2![0]).toBeCloseTo(0.855, 7);
  });

  it("adds coupled weight decay to the gradient, and nesterov looks ahead", () => {
    const decayed = optimizerFromCall(call("sgd", { lr: 0.1, momentum: 0.9, weight_decay: 0.1 }));
    expect(run(decayed, true, [1], [[0.5]])[0]![0]).toBeCloseTo(0.94, 7);
    expect(run(decayed, false, [1], [[0.5]])[0]![0]).toBeCloseTo(0.95, 7);
    const nesterov = optimizerFromCall(call("sgd", { lr: 0.1, momentum: 0.9, nesterov: true }));
    expect(run(nesterov, true, [1], [[0.5]])[0]![0]).toBeCloseTo(0.905, 7);
  });
});

describe("gradient clipping by global norm", () => {
  it("scales every gradient by max / (norm + 1e-6) above the limit", () => {
    const grads = [Float32Array.from([3, 4]), Float32Array.from([12])];
    const { norm, scale } = clipGradNorm(grads, 6.5);
    expect(norm).toBe(13);
    expect(scale).toBeCloseTo(0.5, 6);
    expect([...grads[0]!, ...grads[1]!].map((v) => Number(v.toFixed(5)))).toEqual([1.5, 2, 6]);
  });

  it("leaves gradients under the limit untouched", () => {
    const grads = [Float32Array.from([3, 4])];
    expect(clipGradNorm(grads, 20)).toEqual({ norm: 5, scale: 1 });
    expect([...grads[0]!]).toEqual([3, 4]);
  });
});

describe("layer-wise LR decay and EMA", () => {
  it("scales by decay^(L + 1 - id): embeddings id 0, block k id k + 1, the head 1", () => {
    const scales = layerLrScales(["patch_embed.proj.weight", "blocks.0.attn.qkv.weight", "blocks.1.mlp.fc1.bias", "head.weight"], 0.5);
    expect([...scales.values()]).toEqual([0.125, 0.25, 0.5, 1]);
    expect([...layerLrScales(["blocks.0.w", "head.w"], 1).values()]).toEqual([1, 1]);
  });

  it("EMA moves towards the weights by 1 - decay", () => {
    const ema = new WeightEma(0.9, new Map([["w", Float32Array.from([1])]]));
    ema.update(new Map([["w", Float32Array.from([2])]]));
    expect(ema.state.get("ema:w")![0]).toBeCloseTo(1.1, 6);
  });
});

describe("schedules", () => {
  it("warms up linearly from warmup_start_lr, then cosine from the end of the warmup", () => {
    const cosine = scheduleFromCall(call("cosine", { warmup_steps: 10, warmup_start_lr: 1e-6, end_lr: 1e-6 }));
    const lr = (s: number) => learningRate(cosine, 1e-3, s, 110);
    expect(lr(0)).toBeCloseTo(1e-6, 12);
    expect(lr(5)).toBeCloseTo(5.005e-4, 12);
    expect(lr(10)).toBeCloseTo(1e-3, 12);
    expect(lr(60)).toBeCloseTo(5.005e-4, 12);
    expect(lr(85)).toBeCloseTo(1e-6 + 999e-6 * (1 + Math.cos(0.75 * Math.PI)) / 2, 12);
    expect(lr(110)).toBeCloseTo(1e-6, 12);
  });

  it("constant holds the base LR after the warmup; no schedule is constant", () => {
    const constant = scheduleFromCall(call("constant", { warmup_steps: 4 }));
    expect(learningRate(constant, 0.1, 2, 100)).toBeCloseTo(0.05, 12);
    expect(learningRate(constant, 0.1, 50, 100)).toBe(0.1);
    expect(learningRate(scheduleFromCall(undefined), 0.1, 0, 100)).toBe(0.1);
  });

  it("rejects unknown optimizers, schedules and arguments with the stage line", () => {
    expect(() => optimizerFromCall(call("adam", { lr: 1 }))).toThrow(UserError);
    expect(() => optimizerFromCall(call("adamw", { lr: 1, beta: 0.9 }))).toThrow(/unknown argument `beta`.*m\.ivm:9/);
    expect(() => optimizerFromCall(call("adamw", {}))).toThrow(/learning rate/);
    expect(optimizerFromCall(call("adamw", {}), 0.01).lr).toBe(0.01);
    expect(() => scheduleFromCall(call("cosine", { warmup: 3 }))).toThrow(/unknown argument `warmup`/);
  });
});
