/** The workloads of `npm run bench`, in the order they run, with their default sample counts. */
import type { Workload } from "../harness.ts";
import { compileInternVideo, elementwiseWorkload, uniformerB16Forward } from "./compiled.ts";
import { matmulWorkload } from "./kernels.ts";
import { uniformerTinyStep, uniformerTinyStepF16, vitBlockStep, vitBlockStepF16 } from "./train.ts";

export interface Registered {
  readonly workload: Workload;
  readonly runs: number;
  readonly warmup: number;
}

// Long workloads get fewer samples: the B/16 forward is ~150 GFLOP (seconds per run here). The 4 ms
// elementwise kernel gets 51: nine such runs last 40 ms, so one scheduler hiccup moved their median.
export const WORKLOADS: readonly Registered[] = [
  { workload: matmulWorkload(1024), runs: 9, warmup: 2 },
  { workload: elementwiseWorkload(), runs: 51, warmup: 5 },
  { workload: vitBlockStep, runs: 9, warmup: 3 },
  { workload: vitBlockStepF16, runs: 9, warmup: 3 },
  { workload: uniformerTinyStep, runs: 7, warmup: 3 },
  { workload: uniformerTinyStepF16, runs: 7, warmup: 3 },
  { workload: uniformerB16Forward, runs: 3, warmup: 1 },
  { workload: compileInternVideo, runs: 3, warmup: 1 },
];

export { compileWorkload, elementwiseWorkload, forwardWorkload } from "./compiled.ts";
export { matmulWorkload } from "./kernels.ts";
export { trainWorkload } from "./train.ts";
