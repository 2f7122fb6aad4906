/** IV4xxx: training stages, freezing and gradient flow. */
import type { CodeTable } from "./def.ts";

export const TRAIN_CODES = {
  IV4001: {
    severity: "error",
    message: "`{path}` in the freeze list names nothing in `{model}`",
    help: "{help}",
  },
  IV4002: {
    severity: "error",
    message: "stage `{stage}` has nothing to train: every parameter is frozen",
    help: "`unfreeze` the parameters this stage should update",
  },
  IV4003: {
    severity: "warning",
    message: "parameter `{path}` does not reach the loss and will never be updated",
    help: "freeze it in this stage, or check that its output is used",
  },
  IV4004: {
    severity: "error",
    message: "stage `{stage}` extends unknown stage `{parent}`",
  },
} as const satisfies CodeTable;
