/**
 * A kernel's identity: a hash of its WGSL without comment lines, its entry point and its binding
 * layout. Kernels that differ only in their names and source notes hash alike, so the runtime compiles
 * them once, and the autotuner's table (keyed by the default kernel's hash) survives renames.
 */
import { createHash } from "node:crypto";
import type { Kernel, KernelBinding } from "./kernel.ts";

function layoutSignature(bindings: readonly KernelBinding[]): string {
  return bindings.map((b) => (b.kind === "storage" ? `${b.kind}:${b.access}` : b.kind)).join(",");
}

function codeOf(wgsl: string): string {
  return wgsl
    .split("\n")
    .filter((line) => !line.trimStart().startsWith("//"))
    .join("\n");
}

export function kernelHash(kernel: Kernel): string {
  return createHash("sha256")
    .update(codeOf(kernel.wgsl))
    .update("\0" + kernel.entryPoint + "\0" + layoutSignature(kernel.bindings))
    .digest("hex")
    .slice(0, 24);
}
