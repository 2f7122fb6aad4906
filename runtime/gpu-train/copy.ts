/** Small whole-buffer kernels the engine adds around a program: copies and the weight EMA. */
import { bindingDecls, f32Lit, grid1d, kernelHeader, LINEAR_WORKGROUP, storage, type Kernel, type KernelBinding } from "../../compiler/codegen/kernel.ts";

const LANES = 64;

function elementwise(name: string, description: string, count: number, bindings: KernelBinding[], body: string): Kernel {
  const main = `@compute @workgroup_size(${LANES})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let i = ${LINEAR_WORKGROUP} * ${LANES}u + lid;
  if (i >= ${count}u) { return; }
  ${body}
}`;
  const wgsl = [kernelHeader(name, description, []), bindingDecls(bindings), main].join("\n\n");
  return { name, wgsl, entryPoint: "main", workgroupSize: [LANES, 1, 1], dispatch: () => grid1d(Math.ceil(count / LANES)), bindings, source: [] };
}

/** DST[i] = SRC[i]: writes a step's new buffer values (BatchNorm statistics, shared gradients) in place. */
export function copyKernel(count: number, elem: "f32" | "i32" = "f32"): Kernel {
  return elementwise(`copy_${elem}_${count}`, `copy ${count} elements`, count, [storage("SRC", "read", elem), storage("DST", "read_write", elem)], "DST[i] = SRC[i];");
}

/** E <- d * E + (1 - d) * P over the packed parameter arena (timm ModelEmaV2). */
export function emaKernel(count: number, decay: number): Kernel {
  return elementwise(
    `ema_${count}`,
    `EMA of ${count} packed weights, decay ${decay}`,
    count,
    [storage("P", "read"), storage("E", "read_write")],
    `E[i] = ${f32Lit(decay)} * E[i] + ${f32Lit(1 - decay)} * P[i];`,
  );
}
