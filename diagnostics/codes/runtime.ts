/** IV6xxx: runtime, data and checkpoints. */
import type { CodeTable } from "./def.ts";

export const RUNTIME_CODES = {
  IV6001: {
    severity: "error",
    message: "cannot read data file `{path}`: {reason}",
  },
  IV6002: {
    severity: "error",
    message: "checkpoint `{file}` has no tensor `{key}`",
    help: "{help}",
  },
  IV6003: {
    severity: "error",
    message: "checkpoint tensor `{key}` has shape {found}, the model expects {expected}",
  },
  IV6004: {
    severity: "error",
    message: "checkpoint `{file}` is corrupt: {reason}",
  },
} as const satisfies CodeTable;
