/** Held-out evaluation: the stage's eval-mode loss and, for classifiers, top-1 accuracy. */
import type { InputInfo } from "../../compiler/ir/types.ts";
import { ClipLoader } from "../data/loader.ts";
import type { ClipDataset } from "../data/types.ts";
import type { Tokenizer } from "../text/tokenizer.ts";
import { engineBatch } from "./data.ts";
import type { TrainEngine } from "./engine.ts";

export interface EvalResult {
  readonly loss: number;
  /** Top-1 accuracy in [0, 1]; absent when the stage has no classification output. */
  readonly accuracy?: number;
  readonly clips: number;
}

export async function evaluateHeldOut(
  engine: TrainEngine,
  heldOut: ClipDataset,
  opts: { batch: number; seed: number; inputs: readonly InputInfo[]; classes?: number; classifies: boolean; tokenizer?: Tokenizer },
): Promise<EvalResult> {
  // Fixed order and augmentation randomness: every evaluation sees the same clips.
  const loader = new ClipLoader(heldOut, { batchSize: opts.batch, shuffle: false, dropLast: false, seed: opts.seed, prefetch: 1 });
  let lossSum = 0;
  let correct = 0;
  let clips = 0;
  for await (const batch of loader.epoch(0)) {
    const inputs = engineBatch(batch, opts.inputs, opts.classes, opts.tokenizer);
    lossSum += (await engine.evaluateLoss(inputs)) * batch.batchSize;
    if (opts.classifies && opts.classes) {
      const logits = await engine.evaluate(inputs);
      const k = opts.classes;
      for (let i = 0; i < batch.batchSize; i++) {
        let best = 0;
        for (let c = 1; c < k; c++) if (logits[i * k + c]! > logits[i * k + best]!) best = c;
        if (best === batch.labels[i]) correct++;
      }
    }
    clips += batch.batchSize;
  }
  return { loss: clips > 0 ? lossSum / clips : Number.NaN, accuracy: opts.classifies && clips > 0 ? correct / clips : undefined, clips };
}
