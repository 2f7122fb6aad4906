import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import {
  adamw,
  gradNorm,
  sgdMomentum,
  type PackedParam,
} from "../../compiler/codegen/optimizer.ts";
import {
  openHarness,
  randomArray,
  relError,
  type KernelHarness,
} from "./harness.ts";

// A cold lavapipe JIT of each new shader can take seconds on a busy machine.
vi.setConfig({ testTimeout: 180_000 });

let h: KernelHarness;
beforeAll(async () => {
  h = await openHarness();
});
afterAll(() => h?.destroy());

// Chunks straddle the 1024-element boundary and a 1-element parameter.
const params: PackedParam[] = [
  { offset: 0, length: 5, decay: true },
  { offset: 5, length: 1300, decay: true, lrScale: 0.5 },
  { offset: 1305, length: 1, decay: false },
  { offset: 1306, length: 77, decay: false, lrScale: 2 },
];
const total = 1383;

function meta(i: number) {
  const p = params.find((q) => i >= q.offset && i < q.offset + q.length)!;
  return { decay: p.decay, scale: p.lrScale ?? 1 };
}

const norm = (g: Float32Array) => Math.sqrt(g.reduce((a, x) => a + x * x, 0));

describe("optimizers over a packed parameter buffer", () => {
  it("computes the global gradient norm without readback", async () => {
    const grad = randomArray(total, 1);
    const gn = gradNorm({ total }, h.profile);
    const out = await h.run(
      [gn.partials, gn.finalize],
      { grad, normPartials: gn.lanes, norm: 1 },
      ["norm"],
    );
    expect(relError(out.norm, [norm(grad)])).toBeLessThan(1e-5);
  });

  it("AdamW matches PyTorch semantics over two steps, with global-norm clipping", async () => {
    const [b1, b2, eps, wd, lr, maxNorm] = [0.9, 0.999, 1e-8, 0.05, 1e-2, 0.5];
    const grad = randomArray(total, 2);
    const param0 = randomArray(total, 3);
    const gn = gradNorm({ total }, h.profile);
    const update = adamw({
      params,
      beta1: b1,
      beta2: b2,
      eps,
      weightDecay: wd,
      maxGradNorm: maxNorm,
    });
    const p = Float64Array.from(param0);
    const m = new Float64Array(total);
    const v = new Float64Array(total);
    const coef = Math.min(1, maxNorm / (norm(grad) + 1e-6));
    let state: Record<string, Float32Array> = {
      param: param0,
      m: new Float32Array(total),
      v: new Float32Array(total),
    };
    for (const step of [1, 2]) {
      state = await h.run(
        [gn.partials, gn.finalize, update],
        { ...state, grad, normPartials: gn.lanes, norm: 1 },
        ["param", "m", "v"],
        { step, lr },
      );
      for (let i = 0; i < total; i++) {
        const { decay, scale } = meta(i);
        const g = grad[i] * coef;
        if (decay) p[i] *= 1 - lr * scale * wd;
        m[i] = b1 * m[i] + (1 - b1) * g;
        v[i] = b2 * v[i] + (1 - b2) * g * g;
        p[i] -=
          (lr * scale * (m[i] / (1 - b1 ** step))) /
          (Math.sqrt(v[i] / (1 - b2 ** step)) + eps);
      }
      expect(relError(state.param, p), `param step ${step}`).toBeLessThan(1e-5);
      expect(relError(state.m, m)).toBeLessThan(1e-5);
      expect(relError(state.v, v)).toBeLessThan(1e-4);
    }
  });

  it("SGD with momentum and nesterov matches PyTorch semantics over two steps", async () => {
    const [mom, wd, lr] = [0.9, 1e-3, 0.1];
    const grad = randomArray(total, 4);
    const update = sgdMomentum({
      params,
      momentum: mom,
      nesterov: true,
      weightDecay: wd,
    });
    const p = Float64Array.from(randomArray(total, 5));
    const buf = new Float64Array(total);
    let state: Record<string, Float32Array> = {
      param: Float32Array.from(p),
      buf: new Float32Array(total),
    };
    for (const step of [1, 2]) {
      state = await h.run([update], { ...state, grad }, ["param", "buf"], {
        step,
        lr,
      });
      for (let i = 0; i < total; i++) {
        const { decay, scale } = meta(i);
        const g = grad[i] + (decay ? wd * p[i] : 0);
        buf[i] = step === 1 ? g : mom * buf[i] + g;
        p[i] -= lr * scale * (g + mom * buf[i]);
      }
      expect(relError(state.param, p), `step ${step}`).toBeLessThan(1e-5);
      expect(relError(state.buf, buf)).toBeLessThan(1e-5);
    }
  });
});
