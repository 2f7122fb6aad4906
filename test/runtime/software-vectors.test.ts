// What `ivc doctor` says about lavapipe's vector width, from the CPU flags and the environment.
import { describe, expect, it } from "vitest";
import { cpuHasAvx512, softwareVectorNote } from "../../runtime/software-vectors.ts";

const AVX512 = "fpu sse sse2 avx avx2 fma avx512f avx512dq avx512cd avx512bw avx512vl";
const AVX2 = "fpu sse sse2 avx avx2 fma";

describe("software vector width", () => {
  it("needs AVX-512 F, BW, DQ and VL", () => {
    expect(cpuHasAvx512(AVX512)).toBe(true);
    expect(cpuHasAvx512(AVX2)).toBe(false);
    expect(cpuHasAvx512("avx2 avx512f avx512cd")).toBe(false);
    expect(cpuHasAvx512("")).toBe(false);
  });

  it("suggests 512-bit vectors only at 8 lanes on an AVX-512 CPU with no width chosen", () => {
    expect(softwareVectorNote(8, {}, AVX512)).toMatch(/^256-bit vectors \(subgroups of 8\); this CPU has AVX-512: LP_NATIVE_VECTOR_WIDTH=512 gives subgroups of 16/);
    expect(softwareVectorNote(8, {}, AVX2)).toBe("256-bit vectors (subgroups of 8)");
    expect(softwareVectorNote(8, { LP_NATIVE_VECTOR_WIDTH: "256" }, AVX512)).toBe("256-bit vectors (subgroups of 8)");
    expect(softwareVectorNote(16, { LP_NATIVE_VECTOR_WIDTH: "512" }, AVX512)).toBe("512-bit vectors (subgroups of 16)");
  });
});
