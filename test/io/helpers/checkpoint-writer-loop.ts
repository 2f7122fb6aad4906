/**
 * Child process for the kill test: writes checkpoint after checkpoint to argv[2] until killed.
 * Checkpoint n holds a large tensor whose every element is derived from n, and metadata step=n,
 * so a reader can tell a complete file from a torn one.
 */
import { pathToFileURL } from "node:url";
import { readSafetensors, writeSafetensors } from "../../../runtime/io/safetensors.ts";

export const ELEMENTS = 4 * 1024 * 1024;

export function expectedValue(step: number, index: number): number {
  return step * 1000 + (index % 997);
}

const target = process.argv[2];
if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href && target) {
  let step = Number(readSafetensors(target).metadata.step);
  const data = new Float32Array(ELEMENTS);
  for (;;) {
    step += 1;
    for (let i = 0; i < ELEMENTS; i++) data[i] = expectedValue(step, i);
    process.stdout.write(`writing ${step}\n`);
    writeSafetensors(target, { weights: { dtype: "F32", shape: [ELEMENTS], data }, step_count: { dtype: "I64", shape: [1], data: BigInt64Array.of(BigInt(step)) } }, { step: String(step) });
  }
}
