/**
 * A WGSL compile failure that a person can act on: which kernel, what the compiler said, the
 * offending WGSL line with a caret, and the `.ivm` lines the kernel was generated from.
 */
import type { Kernel } from "../compiler/codegen/kernel.ts";

export interface CompilerMessage {
  readonly message: string;
  /** 1-based; 0 when the compiler gave no position. */
  readonly line: number;
  readonly column: number;
}

export class KernelCompileError extends Error {
  readonly kernelName: string;
  readonly messages: readonly CompilerMessage[];
  readonly source: readonly string[];

  constructor(kernel: Kernel, messages: readonly CompilerMessage[]) {
    super(formatCompileError(kernel, messages));
    this.name = "KernelCompileError";
    this.kernelName = kernel.name;
    this.messages = messages;
    this.source = kernel.source;
  }
}

export function formatCompileError(kernel: Kernel, messages: readonly CompilerMessage[]): string {
  const wgslLines = kernel.wgsl.split("\n");
  const out = [`WGSL compile error in kernel '${kernel.name}':`];
  for (const m of messages) {
    out.push(`  ${m.line ? `line ${m.line}:${m.column}: ` : ""}${m.message.trim()}`);
    const text = m.line ? wgslLines[m.line - 1] : undefined;
    if (text !== undefined) {
      out.push(`    ${text}`);
      out.push(`    ${" ".repeat(Math.max(0, m.column - 1))}^`);
    }
  }
  if (kernel.source.length) {
    out.push("  generated from:");
    for (const s of kernel.source) out.push(`    ${s}`);
  }
  return out.join("\n");
}
