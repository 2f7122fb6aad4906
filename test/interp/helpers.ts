import { GraphBuilder } from "../../compiler/ir/builder.ts";
import type { Shape } from "../../compiler/ir/dims.ts";
import type { DType, ValueId } from "../../compiler/ir/types.ts";
import { interpret, type HostArray, type Precision } from "../../compiler/interp/index.ts";

export interface Feed {
  readonly shape: Shape;
  readonly data: readonly number[];
  readonly dtype?: DType;
}

function hostArray(data: readonly number[], dtype: DType): HostArray {
  return dtype === "i32" ? Int32Array.from(data) : dtype === "bool" ? Uint8Array.from(data) : Float64Array.from(data);
}

/** Builds `body` over graph inputs named a, b, c... and runs it; returns shape and plain numbers. */
export function run(
  feeds: readonly Feed[],
  body: (b: GraphBuilder, ...xs: ValueId[]) => ValueId,
  opts: { precision?: Precision; dims?: Record<string, number>; seed?: number } = {},
): { shape: number[]; data: number[] } {
  const b = new GraphBuilder();
  const names = feeds.map((_, i) => String.fromCharCode(97 + i));
  const xs = feeds.map((f, i) => b.input(names[i]!, f.shape, f.dtype ?? "f32"));
  b.output("out", body(b, ...xs));
  const inputs: Record<string, HostArray> = {};
  feeds.forEach((f, i) => (inputs[names[i]!] = hostArray(f.data, f.dtype ?? "f32")));
  const r = interpret(b.build(), { inputs, params: {}, precision: opts.precision ?? "f64", dims: opts.dims, seed: opts.seed })["out"]!;
  return { shape: [...r.shape], data: Array.from(r.data) };
}
