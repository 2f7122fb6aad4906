/**
 * What every TrainEngine must do, as a reusable vitest suite: `engineContract("gpu", (setup) => new GpuEngine(setup))`
 * runs the same checks on another engine, and with `reference` also compares its states after a few steps
 * with the CPU engine's (the oracle) within a tolerance.
 */
import { expect, it } from "vitest";
import type { EngineBatch, EngineSetup, TensorArray, TrainEngine } from "../../runtime/train/engine.ts";
import { contractSetup } from "./engine-setup.ts";

export type EngineFactory = (setup: EngineSetup) => TrainEngine;

async function runSteps(engine: TrainEngine, batches: readonly EngineBatch[], from = 0): Promise<void> {
  for (let i = 0; i < batches.length; i++) await engine.step(batches[i]!, { step: from + i, lr: 1e-2, seed: 100 + from + i });
}

/** The largest |a - b| / (|b| + 1) over every entry of two states with the same keys. */
export function stateDistance(a: ReadonlyMap<string, TensorArray>, b: ReadonlyMap<string, TensorArray>): number {
  expect([...a.keys()].sort()).toEqual([...b.keys()].sort());
  let worst = 0;
  for (const [key, x] of a) {
    const y = b.get(key)!;
    for (let i = 0; i < x.length; i++) worst = Math.max(worst, Math.abs(x[i]! - y[i]!) / (Math.abs(y[i]!) + 1));
  }
  return worst;
}

export function engineContract(name: string, create: EngineFactory, reference?: { create: EngineFactory; tolerance: number }): void {
  it(`${name}: trains the trainable parameters, leaves frozen ones bit-identical, writes back BatchNorm statistics`, async () => {
    const { setup, batches } = contractSetup();
    const engine = create(setup);
    try {
      await runSteps(engine, batches);
      expect(Number.isFinite(await engine.lastLoss())).toBe(true);
      const state = await engine.state();
      const trainable = new Set(setup.trainable.map((t) => t.path));
      for (const p of setup.params) {
        const before = setup.initial.get(p.path)!;
        const after = state.get(p.path)!;
        const changed = after.some((v, i) => v !== before[i]);
        if (p.kind === "param" && !trainable.has(p.path)) expect(changed, `frozen ${p.path}`).toBe(false);
        if (p.path.endsWith("running_mean")) expect(changed, `buffer ${p.path}`).toBe(true);
      }
      expect(setup.trainable.some((t) => state.get(t.path)!.some((v, i) => v !== setup.initial.get(t.path)![i]))).toBe(true);
      const stateKeys = [...state.keys()].filter((k) => k.includes(":"));
      const expected = setup.trainable.flatMap((t) => [`optim.exp_avg:${t.path}`, `optim.exp_avg_sq:${t.path}`, `ema:${t.path}`]);
      expect(stateKeys.sort()).toEqual(expected.sort());
    } finally {
      engine.dispose();
    }
  });

  it(`${name}: load(state()) continues exactly like the original, and evaluation changes nothing`, async () => {
    const { setup, batches } = contractSetup();
    const a = create(setup);
    const b = create(setup);
    try {
      await runSteps(a, batches.slice(0, 2));
      await b.load(await a.state());
      const logits = await a.evaluate(batches[2]!);
      expect(logits.length).toBe(4 * 4);
      expect(logits.every(Number.isFinite)).toBe(true);
      expect(Number.isFinite(await a.evaluateLoss(batches[2]!))).toBe(true);
      await runSteps(a, batches.slice(2), 2);
      await runSteps(b, batches.slice(2), 2);
      expect(stateDistance(await a.state(), await b.state())).toBe(0);
      await expect(b.load(new Map())).rejects.toThrow(/lacks/);
    } finally {
      a.dispose();
      b.dispose();
    }
  });

  it(`${name}: memorises one batch (its eval-mode loss falls from ln 4 towards the label-smoothing floor)`, async () => {
    const { setup, batches } = contractSetup();
    const engine = create(setup);
    try {
      const before = await engine.evaluateLoss(batches[0]!);
      expect(before).toBeCloseTo(Math.log(4), 1);
      for (let step = 0; step < 20; step++) await engine.step(batches[0]!, { step, lr: 3e-3, seed: step });
      expect(await engine.evaluateLoss(batches[0]!)).toBeLessThan(0.6);
    } finally {
      engine.dispose();
    }
  });

  if (reference) {
    it(`${name}: agrees with the reference engine after 3 steps within ${reference.tolerance}`, async () => {
      const { setup, batches } = contractSetup();
      const engine = create(setup);
      const oracle = reference.create(setup);
      try {
        await runSteps(engine, batches);
        await runSteps(oracle, batches);
        expect(Math.abs((await engine.lastLoss()) - (await oracle.lastLoss()))).toBeLessThanOrEqual(reference.tolerance * 10);
        expect(stateDistance(await engine.state(), await oracle.state())).toBeLessThanOrEqual(reference.tolerance);
      } finally {
        engine.dispose();
        oracle.dispose();
      }
    });
  }
}
