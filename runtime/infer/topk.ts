/** Top-k classes per clip from logits [B, K]: softmax in float64 (stable), ties broken by the lower index. */
export interface Prediction {
  readonly index: number;
  readonly probability: number;
  readonly logit: number;
}

export function topK(logits: ArrayLike<number>, batch: number, classes: number, k: number): Prediction[][] {
  if (logits.length !== batch * classes) throw new RangeError(`${logits.length} logits do not form [${batch}, ${classes}]`);
  const result: Prediction[][] = [];
  for (let b = 0; b < batch; b++) {
    const row = Array.from({ length: classes }, (_, c) => logits[b * classes + c]!);
    const max = Math.max(...row);
    const exps = row.map((x) => Math.exp(x - max));
    const sum = exps.reduce((a, x) => a + x, 0);
    const order = row.map((_, c) => c).sort((x, y) => row[y]! - row[x]! || x - y);
    result.push(order.slice(0, Math.min(k, classes)).map((c) => ({ index: c, probability: exps[c]! / sum, logit: row[c]! })));
  }
  return result;
}
