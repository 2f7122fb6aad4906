/**
 * What every TrainEngine must do, as a reusable vitest suite: `engineContract("gpu", (setup) => new GpuEngine(setup))`
 * runs the same checks on another engine, and with `reference` also compares its states after a few steps
 * with the CPU engine's (the oracle) within a tolerance.
 */
import { expect, it } from "vitest";
import { SyntheticMotionDataset } from "../../runtime/data/synthetic.ts";
import { initParams } from "../../runtime/init/index.ts";
import { compileStage, defaultDiagnosticsSink } from "../../runtime/train/compile-stage.ts";
import { engineBatch } from "../../runtime/train/data.ts";
import type { EngineBatch, EngineSetup, TensorArray, TrainEngine } from "../../runtime/train/engine.ts";
import { optimizerFromCall } from "../../runtime/train/optim.ts";
import { TINY_SET } from "./helpers.ts";

export type EngineFactory = (setup: EngineSetup) => TrainEngine;

/** A frozen-backbone UniFormerV2 with LMHRA: frozen parameters, BatchNorm running stats, dropout, clipping, EMA. */
export function contractSetup(): { setup: EngineSetup; batches: EngineBatch[] } {
  const set = [...TINY_SET, "lmhra=true", "frozen=true", "mlp_dropout=0.2"];
  const stage = compileStage({ file: "models/uniformerv2.ivm", preset: "tiny", set }, "finetune", defaultDiagnosticsSink);
  const decay = new Map(stage.params.map((p) => [p.path, p.decay]));
  const setup: EngineSetup = {
    train: stage.train,
    evalLoss: stage.evalLoss,
    evalForward: stage.evalForward,
    params: stage.params,
    optimizer: optimizerFromCall(stage.spec.optim, 1e-2),
    trainable: stage.trainable.map((path) => ({ path, decay: decay.get(path)!, lrScale: 1 })),
    clipGradNorm: 0.5,
    ema: 0.9,
    initial: initParams(stage.params, 11),
  };
  const data = new SyntheticMotionDataset({ frames: 4, size: 16, classes: 4, count: 12 });
  const batches: EngineBatch[] = [];
  for (let b = 0; b < 3; b++) {
    const samples = [0, 1, 2, 3].map((i) => data.get(b * 4 + i));
    const clips = new Float32Array(samples.length * samples[0]!.clip.length);
    // [T, H, W, 3] -> [3, T, H, W]
    samples.forEach((s, n) => {
      const plane = 4 * 16 * 16;
      for (let p = 0; p < plane; p++) for (let c = 0; c < 3; c++) clips[n * 3 * plane + c * plane + p] = s.clip[p * 3 + c]!;
    });
    const batch = { clips, labels: Int32Array.from(samples, (s) => s.label), indices: Int32Array.from([0, 1, 2, 3]), batchSize: 4 };
    batches.push(engineBatch(batch, stage.train.inputs, stage.classes));
  }
  return { setup, batches };
}

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
