/** The model, weights and batches the engine contract (engine-contract.ts) runs on; free of vitest so scripts can use it. */
import { SyntheticMotionDataset } from "../../runtime/data/synthetic.ts";
import { initParams } from "../../runtime/init/index.ts";
import { compileStage, defaultDiagnosticsSink } from "../../runtime/train/compile-stage.ts";
import { engineBatch } from "../../runtime/train/data.ts";
import type { EngineBatch, EngineSetup } from "../../runtime/train/engine.ts";
import { optimizerFromCall } from "../../runtime/train/optim.ts";

/** 2 layers of width 16 on 4 frames of 16x16, 4 classes: ~14k parameters, a few dozen steps per second. */
// The Kinetics variant at toy size (the tiny preset itself is SSv2-style: LMHRA, temporal stride 2).
export const TINY_SET = ["width=16", "layers=2", "heads=2", "global_layers=1", "size=16", "frames=4", "classes=4", "lmhra=false", "temporal_downsample=false"];

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
