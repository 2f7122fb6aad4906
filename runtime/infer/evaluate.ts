/**
 * Held-out top-1 accuracy and cross-entropy of a classifier forward (eval mode) over a dataset, on one
 * open session: pipelines are built once and every batch reuses them. `ivc eval` runs it for several
 * forwards of one checkpoint on the same clips (InternVideo's combined scores against each branch).
 */
import type { Graph } from "../../compiler/ir/types.ts";
import { UserError } from "../../cli/errors.ts";
import { ClipLoader } from "../data/loader.ts";
import type { ClipDataset } from "../data/types.ts";
import { type Engine, openForward } from "./engine.ts";

export interface ClassifierScore {
  readonly accuracy: number;
  /** Mean cross-entropy (no label smoothing). */
  readonly loss: number;
  readonly clips: number;
  readonly engine: Engine;
  readonly adapter?: string;
}

export interface ClassifierEvalRequest {
  readonly graph: Graph;
  readonly params: ReadonlyMap<string, Float32Array | Int32Array>;
  readonly dataset: ClipDataset;
  readonly batch: number;
  readonly engine: Engine;
  readonly seed?: number;
  readonly onNote?: (line: string) => void;
}

/** Cross-entropy of one row of logits and whether its argmax is the label. */
function scoreRow(logits: Float32Array, offset: number, classes: number, label: number): { loss: number; correct: boolean } {
  let best = 0;
  let max = -Infinity;
  for (let c = 0; c < classes; c++) {
    const v = logits[offset + c]!;
    if (v > max) {
      max = v;
      best = c;
    }
  }
  let sum = 0;
  for (let c = 0; c < classes; c++) sum += Math.exp(logits[offset + c]! - max);
  return { loss: Math.log(sum) + max - logits[offset + label]!, correct: best === label };
}

export async function evaluateClassifier(req: ClassifierEvalRequest): Promise<ClassifierScore> {
  const clipInput = req.graph.inputs.find((i) => i.name === "clip") ?? req.graph.inputs[0];
  const others = req.graph.inputs.filter((i) => i !== clipInput);
  if (!clipInput || others.length > 0) {
    throw new UserError(
      `this forward takes ${req.graph.inputs.map((i) => `\`${i.name}\``).join(", ") || "no input"}; evaluation feeds a clip only`,
      "pick a classifier forward that takes one clip and returns logits [B, classes] (--forward NAME)",
    );
  }
  const output = req.graph.outputs[0];
  if (!output || req.graph.outputs.length !== 1) throw new UserError("this forward has several outputs; evaluation needs one logits output [B, classes]", "pick a classifier forward with --forward NAME");
  const perClip = req.dataset.frames * req.dataset.size * req.dataset.size * 3;
  const session = await openForward({ graph: req.graph, params: req.params, dims: { B: req.batch }, engine: req.engine, ...(req.onNote ? { onNote: req.onNote } : {}) });
  try {
    const loader = new ClipLoader(req.dataset, { batchSize: req.batch, shuffle: false, dropLast: false, seed: req.seed ?? 0, prefetch: 1 });
    let lossSum = 0;
    let correct = 0;
    let clips = 0;
    for await (const batch of loader.epoch(0)) {
      // The session is compiled for `req.batch` clips: a short last batch is padded with zeros and the padding ignored.
      const clip = batch.batchSize === req.batch ? batch.clips : new Float32Array(req.batch * perClip);
      if (clip !== batch.clips) clip.set(batch.clips);
      const out = (await session.run({ [clipInput.name]: clip })).get(output.name)!;
      if (out.shape.length !== 2 || out.shape[0] !== req.batch || !(out.data instanceof Float32Array)) {
        throw new UserError(`this forward returns [${out.shape.join(", ")}], not logits [B, classes]`, "pick a classifier forward with --forward NAME");
      }
      const classes = out.shape[1]!;
      for (let i = 0; i < batch.batchSize; i++) {
        const label = batch.labels[i]!;
        if (label < 0 || label >= classes) {
          throw new UserError(`clip ${batch.indices[i]} has label ${label}, but the model has ${classes} classes`, "evaluate with the class count the model was trained with (--set classes=N)");
        }
        const s = scoreRow(out.data, i * classes, classes, label);
        lossSum += s.loss;
        if (s.correct) correct++;
      }
      clips += batch.batchSize;
    }
    if (clips === 0) throw new UserError("the held-out set is empty", "give a data set with held-out clips (--data) or a positive --clips");
    return { accuracy: correct / clips, loss: lossSum / clips, clips, engine: session.engine, ...(session.adapter !== undefined ? { adapter: session.adapter } : {}) };
  } finally {
    session.close();
  }
}
