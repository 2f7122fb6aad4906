/**
 * The WGSL kernel library the code generator targets. Every generator returns a `Kernel` (or a few,
 * run in order) whose bindings the executor (runtime/executor.ts) matches to arena buffers by name.
 * Sizes are baked in; `AdapterProfile` picks lavapipe-shaped or discrete-GPU-shaped code.
 */
export { DISCRETE_PROFILE, LAVAPIPE_PROFILE, profileFor, type AdapterProfile, type Grid, type Kernel, type KernelBinding } from "./kernel.ts";
export { DYNAMIC_WGSL, encodeDynamic, type DynamicValues } from "./dynamic.ts";
export { contiguous, contiguousStrides, linear, type IndexMap } from "./index-map.ts";
export { chain, epilogue, type Epilogue } from "./epilogue.ts";
export { matmul, resolveMatmul, type MatmulParams, type OperandMap } from "./matmul.ts";
export { elementwise, type ElementwiseParams, type EwExpr, type EwInput, type EwOutput } from "./elementwise.ts";
export { rowProgram, type RowPass, type RowProgram } from "./row-program.ts";
export { stridedReduce, columnPartials, type StridedReduceParams } from "./reduce.ts";
export { layerNorm, layerNormBackward, softmax, softmaxBackward, type LayerNormBackwardKernels, type LayerNormParams } from "./normalization.ts";
export { attentionBackward, attentionForward } from "./attention.ts";
export type { AttentionShape, HeadLayout } from "./attention-common.ts";
export {
  depthwiseConv3d,
  depthwiseConv3dBackwardInput,
  depthwiseConv3dBackwardWeight,
  convOutputSize,
  type DepthwiseConv3dParams,
} from "./depthwise-conv3d.ts";
export { conv3d, conv3dDirect, isPatchEmbedding, patchEmbedding, patchEmbeddingWeightGrad, type Conv3dParams } from "./conv3d.ts";
export { adamw, gradNorm, sgdMomentum, type AdamWParams, type PackedParam, type SgdParams } from "./optimizer.ts";
export { randomExpr, randomFill, RNG_WGSL, type RandomDist } from "./rng.ts";
