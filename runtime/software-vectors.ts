/**
 * lavapipe's vector width. llvmpipe vectorises at 256 bits (subgroups of 8 lanes) unless
 * LP_NATIVE_VECTOR_WIDTH says otherwise, even on an AVX-512 CPU; at 512 its subgroups are 16 lanes,
 * and the software kernels have 16-lane forms (compiler/codegen/kernel.ts `simdLanes`). It is not our
 * default: on a 2-vCPU Xeon with AVX-512 (Mesa 25.0.7, LLVM 15; 2026-11-27) 512 bits took matmul
 * 1024^3 from 52 to 67 GFLOP/s and the UniFormerV2 B/16 forward from 6.6 to 6.1 s, but the tiny
 * UniFormerV2 training step from 69 to 75 ms, and a cold compile of its kernels 43 -> 154 s. `ivc doctor`
 * says how to opt in where the CPU allows it.
 */
import { readFileSync } from "node:fs";

const AVX512 = ["avx512f", "avx512bw", "avx512dq", "avx512vl"];

function linuxCpuFlags(): string {
  try {
    return /^flags\s*:(.*)$/m.exec(readFileSync("/proc/cpuinfo", "utf8"))?.[1] ?? "";
  } catch {
    return "";
  }
}

/** The CPU has AVX-512 F, BW, DQ and VL (what llvmpipe's 512-bit vectors use); false where unknown. */
export function cpuHasAvx512(flags: string = linuxCpuFlags()): boolean {
  const have = new Set(flags.trim().split(/\s+/));
  return AVX512.every((f) => have.has(f));
}

/** A line for `ivc doctor` on a software adapter: the width in use and, where it applies, how to widen it. */
export function softwareVectorNote(subgroupSize: number, env: NodeJS.ProcessEnv = process.env, flags?: string): string {
  const bits = subgroupSize * 32;
  const inUse = `${bits}-bit vectors (subgroups of ${subgroupSize})`;
  if (subgroupSize !== 8 || env.LP_NATIVE_VECTOR_WIDTH !== undefined || !cpuHasAvx512(flags)) return inUse;
  return `${inUse}; this CPU has AVX-512: LP_NATIVE_VECTOR_WIDTH=512 gives subgroups of 16 (large matmuls ~30% faster, small training steps ~10% slower, a cold kernel compile 3-4x as long)`;
}
