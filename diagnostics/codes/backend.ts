/** IV5xxx: back end and adapter limits. */
import type { CodeTable } from "./def.ts";

export const BACKEND_CODES = {
  IV5001: {
    severity: "error",
    message: "tensor `{name}` needs {bytes} bytes, over this adapter's {limitName} of {limit}",
    help: "use a smaller preset or batch, or run on an adapter with a larger limit",
  },
  IV5002: {
    severity: "error",
    message: "the WebGPU device rejected kernel `{kernel}`: {reason}",
    help: "this is a bug in ivc's code generation; report it with the kernel's WGSL (`ivc compile --dump-wgsl`)",
  },
} as const satisfies CodeTable;
