/**
 * A pointwise group as a vec4 kernel: each item is 4 consecutive elements along the innermost axis,
 * read with 16-byte loads and computed on vec4s. lavapipe pays per load instruction (~2.6 ns for an
 * f32, 8-10 ns for a vec4: shared/design/lavapipe.md), so a 16-byte load moves 4 floats for the price
 * of about 3.
 *
 * A group qualifies when every value it computes along the way has an innermost size that is a
 * multiple of 4 and keeps the output's innermost index (up to a multiple of 4): elementwise ops,
 * broadcasts, permutes that leave the last axis in place, slices that start it at a multiple of 4
 * with step 1, reshapes. Values whose innermost axis has size 1 and is broadcast (row statistics,
 * scalars) are computed as scalars and splatted. Anything else (gathers, pads, concats, random
 * draws, iota along the last axis) makes `pointwiseVec4Kernel` return undefined, and the scalar
 * kernel runs.
 */
import type { DType, Node, ValueId } from "../../ir/types.ts";
import { numel } from "../index-map.ts";
import { storage, type ElemType, type KernelBinding } from "../kernel.ts";
import { alignedIndex, BINARY, COMPARE, indexName, linearIndex, literal, storageElem, UNARY, unflatten, type Index } from "./emit.ts";
import { IndexScope } from "./index-algebra.ts";
import { assembleItems, boundValues, Namer, type GroupContext, type GroupKernel } from "./kernels.ts";

const VEC: Record<DType, string> = { f32: "vec4<f32>", i32: "vec4<i32>", bool: "vec4<bool>" };

/** Helpers with a vec4 form are named with a `4` (wgsl-math.ts). */
function vectorise(scalarExpr: string): string {
  return scalarExpr.replace(/\b(ivc_[a-z]+)\(/g, (_, helper: string) => `${helper}4(`);
}

class Unsupported extends Error {}

/** Emits each value at an index as a vec4 (`vec`) or, for size-1 innermost values, as a scalar. */
class Vec4Emitter {
  readonly lines: string[] = [];
  /** Stored values read, and whether as vec4s or scalars (one form per buffer). */
  readonly reads = new Map<ValueId, "vec" | "scalar">();
  private readonly cache = new Map<string, string>();
  private readonly indices = new IndexScope();
  private counter = 0;

  constructor(
    private readonly ctx: GroupContext,
    private readonly own: ReadonlySet<ValueId>,
    private readonly names: Namer,
  ) {}

  private bind(expr: string): string {
    const name = `t${this.counter++}`;
    this.lines.push(`let ${name} = ${expr};`);
    return name;
  }

  index(expr: string): string {
    return indexName(expr, this.indices, this.cache, (e) => this.bind(e));
  }

  /** Per-axis indices of the element offset `flat` in `shape`. */
  split(flat: string, shape: readonly number[]): string[] {
    return unflatten(flat, shape).map((x) => this.index(x));
  }

  /** Per-axis indices of item `gi`'s first element in `shape` (4 elements per item). */
  itemIndex(shape: readonly number[]): string[] {
    this.indices.range("gi", numel(shape) / 4);
    return this.split("(gi * 4u)", shape);
  }

  value(id: ValueId, idx: Index, vec: boolean): string {
    const key = `${id}|${vec}|${idx.join(",")}`;
    const hit = this.cache.get(key);
    if (hit) return hit;
    const n = this.ctx.byId.get(id)!;
    if (vec && (n.shape as number[]).at(-1)! % 4 !== 0) throw new Unsupported(`${id}: innermost size not a multiple of 4`);
    const expr = this.ctx.stored.has(id) && !this.own.has(id) ? this.read(n, idx, vec) : this.compute(n, idx.map((e) => this.index(e)), vec);
    const name = /^[A-Za-z_][A-Za-z0-9_]*$/.test(expr) ? expr : this.bind(expr);
    this.cache.set(key, name);
    return name;
  }

  private read(n: Node, idx: Index, vec: boolean): string {
    const form = vec ? "vec" : "scalar";
    if ((this.reads.get(n.id) ?? form) !== form) throw new Unsupported(`${n.id} read both as vec4 and as scalar`);
    this.reads.set(n.id, form);
    const flat = linearIndex(idx, n.shape as number[]);
    const raw = `${this.names.name(n.id)}[${this.indices.simplify(vec ? `(${flat}) / 4u` : flat)}]`;
    if (n.dtype !== "bool") return raw;
    return vec ? `(${raw} != vec4<i32>(0i))` : `(${raw} != 0i)`;
  }

  /**
   * Input `k` of `n` at `at`. In vec4 form, an input of a broadcasting op whose size-1 innermost axis
   * is broadcast (`at` pins it) is the same for the 4 elements: a splat of its scalar.
   */
  private arg(n: Node, k: number, at: Index, vec: boolean, broadcasting: boolean): string {
    const input = this.ctx.byId.get(n.inputs[k]!)!;
    const shape = input.shape as number[];
    if (vec && broadcasting && (shape.length === 0 || (shape.at(-1) === 1 && at.at(-1) === "0u"))) {
      return `${VEC[input.dtype]}(${this.value(input.id, at, false)})`;
    }
    return this.value(input.id, at, vec);
  }

  private compute(n: Node, idx: Index, vec: boolean): string {
    const op = n.op;
    // Elementwise ops and broadcasts read their inputs at the aligned index; views at their own.
    const aligned = (k: number) => alignedIndex(this.ctx.byId.get(n.inputs[k]!)!.shape as number[], n.shape as number[], idx);
    const arg = (k: number, at?: Index) => this.arg(n, k, at ?? aligned(k), vec, at === undefined);
    const last = idx.length - 1;
    const lift = (scalar: string) => (vec ? vectorise(scalar) : scalar);
    switch (op.kind) {
      case "const":
        return vec ? `${VEC[n.dtype]}(${literal(op.value[0] ?? 0, n.dtype)})` : literal(op.value[0] ?? 0, n.dtype);
      case "iota": {
        if (vec && op.axis === last) throw new Unsupported("iota along the innermost axis");
        const x = n.dtype === "f32" ? `f32(${idx[op.axis]})` : `i32(${idx[op.axis]})`;
        return vec ? `${VEC[n.dtype]}(${x})` : x;
      }
      case "unary":
        // relu's literal zero is a scalar: max(vec4, f32) is not WGSL.
        if (vec && op.op === "relu") return `max(${arg(0)}, ${VEC[n.dtype]}(${n.dtype === "i32" ? "0i" : "0.0"}))`;
        return lift(UNARY[op.op]!(arg(0), n.dtype));
      case "binary":
        return lift(BINARY[op.op]!(arg(0), arg(1), n.dtype));
      case "compare":
        return `(${arg(0)} ${COMPARE[op.op]} ${arg(1)})`;
      case "where":
        return `select(${arg(2)}, ${arg(1)}, ${arg(0)})`;
      case "cast": {
        const from = this.ctx.byId.get(n.inputs[0]!)!.dtype;
        const x = arg(0);
        const t = (d: DType) => (vec ? VEC[d] : d);
        if (from === op.to) return x;
        if (op.to === "bool") return `(${x} != ${t(from)}(${from === "f32" ? "0.0" : "0i"}))`;
        if (from === "bool") return `select(${t(op.to)}(${literal(0, op.to)}), ${t(op.to)}(${literal(1, op.to)}), ${x})`;
        return `${t(op.to)}(${x})`;
      }
      case "permute": {
        if (vec && op.perm[last] !== last) throw new Unsupported("a permute that moves the innermost axis");
        const inIdx = new Array<string>(op.perm.length);
        op.perm.forEach((p, i) => (inIdx[p] = idx[i]!));
        return arg(0, inIdx);
      }
      case "slice":
        if (vec && (op.starts[last]! % 4 !== 0 || op.steps[last] !== 1)) throw new Unsupported("a strided or unaligned slice along the innermost axis");
        return arg(
          0,
          idx.map((e, i) => {
            const scaled = op.steps[i] === 1 ? e : `(${e}) * ${op.steps[i]}u`;
            return op.starts[i] === 0 ? scaled : `(${scaled} + ${op.starts[i]}u)`;
          }),
        );
      case "broadcast":
        return arg(0);
      case "reshape": {
        const flat = this.index(linearIndex(idx, n.shape as number[]));
        return arg(0, this.split(flat, this.ctx.byId.get(n.inputs[0]!)!.shape as number[]));
      }
      default:
        throw new Unsupported(`${op.kind} is not vectorised`);
    }
  }
}

/**
 * The vec4 kernel of a pointwise group (outputs of one shape), or undefined where the group does not
 * qualify (see the module comment). For software adapters, whose cost is the load instruction.
 */
export function pointwiseVec4Kernel(outputs: readonly ValueId[], ctx: GroupContext, name: string): GroupKernel | undefined {
  const shape = ctx.byId.get(outputs[0]!)!.shape as number[];
  if (shape.length === 0 || shape.at(-1)! % 4 !== 0) return undefined;
  const names = new Namer();
  const e = new Vec4Emitter(ctx, new Set(outputs), names);
  const idx = e.itemIndex(shape);
  let stores: string[];
  try {
    stores = outputs.map((id) => {
      const v = e.value(id, idx, true);
      return `${names.name(id)}[gi] = ${ctx.byId.get(id)!.dtype === "bool" ? `select(vec4<i32>(0i), vec4<i32>(1i), ${v})` : v};`;
    });
  } catch (err) {
    if (err instanceof Unsupported) return undefined;
    throw err;
  }
  const elem = (id: ValueId, vec: boolean): ElemType => {
    const scalar = storageElem(ctx.byId.get(id)!.dtype);
    return vec ? (scalar === "f32" ? "vec4f" : "vec4i") : scalar;
  };
  const bindings: KernelBinding[] = [
    ...[...e.reads].map(([id, form]) => storage(names.name(id), "read", elem(id, form === "vec"))),
    ...outputs.map((id) => storage(names.name(id), "read_write", elem(id, true))),
  ];
  const body = [...e.lines, ...stores].map((l) => `  ${l}`).join("\n");
  const kernel = assembleItems(name, `pointwise over [${shape.join(", ")}], 4 elements per item (vec4)`, ctx.source(outputs), bindings, numel(shape) / 4, body, true);
  return { kernel, buffers: boundValues(names) };
}
