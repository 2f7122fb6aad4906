/** IV3xxx: types, dtypes and tensor shapes. */
import type { CodeTable } from "./def.ts";

export const SHAPE_CODES = {
  IV3001: {
    severity: "error",
    message: "shapes do not match: {left} vs {right}",
  },
  IV3002: {
    severity: "error",
    message: "dimension `{dim}` is bound twice: {first} and {second}",
  },
  IV3003: {
    severity: "error",
    message: "expected a tensor of rank {expected}, found rank {found}: {shape}",
  },
  IV3004: {
    severity: "error",
    message: "element types do not match: {left} vs {right}",
    help: "convert one side with `cast(x, {left})`",
  },
  IV3005: {
    severity: "error",
    message: "{op}: {message}",
  },
  IV3006: {
    severity: "error",
    message: "expected {expected}, found {found}",
    help: "{help}",
  },
  IV3007: {
    severity: "error",
    message: "this forward returns {found} but its signature declares {expected}",
  },
  IV3008: {
    severity: "error",
    message: "{message}",
    help: "{help}",
  },
} as const satisfies CodeTable;
