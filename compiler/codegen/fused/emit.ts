/**
 * IR -> WGSL expressions. A value is emitted at an index: one u32 WGSL expression per axis of its
 * shape. Stored values become buffer reads; pointwise ops become arithmetic on their inputs at the
 * (broadcast-adjusted) same index; views rewrite the index (permute reorders it, slice scales and
 * shifts it, reshape goes through the linear index, broadcast pins size-1 axes to 0). Each distinct
 * (value, index) is computed once per scope and bound with `let`.
 */
import type { DType, Node, ValueId } from "../../ir/types.ts";
import { numel } from "../index-map.ts";
import { f32Lit } from "../kernel.ts";
import { randomExpr } from "../rng.ts";
import { IndexScope } from "./index-algebra.ts";

export type Index = readonly string[];

/** How the kernel names the buffer of a stored value. */
export type BufferNamer = (id: ValueId) => string;

function u32(n: number): string {
  return `${n >>> 0}u`;
}

function strides(shape: readonly number[]): number[] {
  const s = new Array<number>(shape.length);
  let acc = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    s[i] = acc;
    acc *= shape[i]!;
  }
  return s;
}

/** Flat row-major offset of `idx` in `shape`, skipping size-1 axes. */
export function linearIndex(idx: Index, shape: readonly number[]): string {
  const st = strides(shape);
  const terms = idx.map((e, i) => (shape[i] === 1 ? "" : st[i] === 1 ? `(${e})` : `(${e}) * ${u32(st[i]!)}`)).filter(Boolean);
  return terms.length ? terms.join(" + ") : "0u";
}

/** Per-axis index of the flat offset `flat` (a WGSL u32 expression or name) in `shape`. */
export function unflatten(flat: string, shape: readonly number[]): string[] {
  const st = strides(shape);
  return shape.map((d, i) => {
    if (d === 1) return "0u";
    const q = st[i] === 1 ? flat : `(${flat} / ${u32(st[i]!)})`;
    return i === 0 ? q : `(${q} % ${u32(d)})`;
  });
}

export function literal(value: number, dtype: DType): string {
  if (dtype === "bool") return value ? "true" : "false";
  if (dtype === "i32") return `${Math.trunc(value)}i`;
  return f32Lit(value);
}

/** The WGSL storage element of a dtype: bools are stored as i32 0/1. */
export function storageElem(dtype: DType): "f32" | "i32" {
  return dtype === "f32" ? "f32" : "i32";
}

export function loadAs(dtype: DType, raw: string): string {
  return dtype === "bool" ? `(${raw} != 0i)` : raw;
}

export function storeAs(dtype: DType, value: string): string {
  return dtype === "bool" ? `select(0i, 1i, ${value})` : value;
}

/** Scalar WGSL of each unary op (the vec4 emitter has its own table). */
export const UNARY: Record<string, (x: string, t: DType) => string> = {
  neg: (x) => `(-${x})`,
  abs: (x) => `abs(${x})`,
  exp: (x) => `exp(${x})`,
  log: (x) => `log(${x})`,
  sqrt: (x) => `sqrt(${x})`,
  rsqrt: (x) => `inverseSqrt(${x})`,
  recip: (x) => `(1.0 / ${x})`,
  tanh: (x) => `ivc_tanh(${x})`,
  sigmoid: (x) => `ivc_sigmoid(${x})`,
  erf: (x) => `ivc_erf(${x})`,
  sin: (x) => `sin(${x})`,
  cos: (x) => `cos(${x})`,
  floor: (x, t) => (t === "i32" ? x : `floor(${x})`),
  sign: (x) => `sign(${x})`,
  relu: (x, t) => `max(${x}, ${t === "i32" ? "0i" : "0.0"})`,
};

export const BINARY: Record<string, (a: string, b: string, t: DType) => string> = {
  add: (a, b) => `(${a} + ${b})`,
  sub: (a, b) => `(${a} - ${b})`,
  mul: (a, b) => `(${a} * ${b})`,
  div: (a, b) => `(${a} / ${b})`,
  max: (a, b) => `max(${a}, ${b})`,
  min: (a, b) => `min(${a}, ${b})`,
  pow: (a, b) => `ivc_pow(${a}, ${b})`,
};

export const COMPARE: Record<string, string> = { lt: "<", le: "<=", gt: ">", ge: ">=", eq: "==", ne: "!=" };

/**
 * A constant 1-D index that is an arithmetic progression inside [0, size) (a reversal, a stride) as
 * arithmetic on the position, so a gather through it reads no index buffer (the conv3d input
 * gradient flips its kernel this way, once per tap).
 */
function arithmeticIndex(index: Node, size: number): ((at: string) => string) | undefined {
  if (index.op.kind !== "const" || index.shape.length !== 1) return undefined;
  const v = index.op.value;
  if (v.length < 2 || v.length !== index.shape[0]) return undefined;
  const step = v[1]! - v[0]!;
  if (!v.every((x, i) => Number.isInteger(x) && x >= 0 && x < size && x === v[0]! + i * step)) return undefined;
  const scaled = (at: string) => (Math.abs(step) === 1 ? at : `${at} * ${u32(Math.abs(step))}`);
  if (step >= 0) return (at) => (v[0] === 0 ? `(${scaled(at)})` : `(${u32(v[0]!)} + ${scaled(at)})`);
  return (at) => `(${u32(v[0]!)} - ${scaled(at)})`;
}

/**
 * The name of index expression `expr` in an emitter scope: simplified through `scope` (index-algebra.ts);
 * then the expression itself when it is a name or a u32 literal, else the `let` that `bind` makes for it,
 * once per distinct expression (remembered in `cache` under `#expr`), its definition recorded in `scope`.
 */
export function indexName(expr: string, scope: IndexScope, cache: Map<string, string>, bind: (expr: string) => string): string {
  const simple = scope.simplify(expr);
  if (/^[A-Za-z_][A-Za-z0-9_]*$|^\d+u$/.test(simple)) return simple;
  const key = `#${simple}`;
  let name = cache.get(key);
  if (!name) {
    cache.set(key, (name = bind(simple)));
    scope.define(name, simple);
  }
  return name;
}

/** The index of a broadcasting op's input of `inShape` at output index `idx`: broadcast size-1 axes pinned to 0. */
export function alignedIndex(inShape: readonly number[], outShape: readonly number[], idx: Index): string[] {
  const lead = outShape.length - inShape.length;
  return inShape.map((d, i) => (d === 1 && outShape[i + lead] !== 1 ? "0u" : idx[i + lead]!));
}

/** What an emitter and its child scopes share: the buffers read, in-register values, seed use. */
interface Shared {
  readonly reads: ValueId[];
  /** Values held in registers (a matmul's accumulator, a row's reduction), read by name at any index. */
  readonly locals: Map<ValueId, string>;
  usesSeed: boolean;
}

export class Emitter {
  /** Statements of the current scope, in order. */
  readonly lines: string[] = [];
  private readonly cache = new Map<string, string>();
  /** Names bound in this scope (a child hoists expressions whose index uses only these). */
  private readonly names = new Set<string>();
  private counter = 0;
  private readonly shared: Shared;
  /** What this scope's index names stand for, so later index expressions simplify through them. */
  private readonly indices: IndexScope;

  constructor(
    private readonly byId: ReadonlyMap<ValueId, Node>,
    /** Values read from memory; everything else is computed from its inputs. */
    private readonly stored: { has(id: ValueId): boolean },
    private readonly bufferName: BufferNamer,
    private readonly prefix = "t",
    private readonly parent?: { readonly emitter: Emitter; readonly hoist: boolean },
  ) {
    this.shared = parent?.emitter.shared ?? { reads: [], locals: new Map(), usesSeed: false };
    this.indices = new IndexScope(parent?.emitter.indices);
  }

  /** Stored values read, in first-read order (the kernel binds each). */
  get reads(): readonly ValueId[] {
    return this.shared.reads;
  }

  get usesSeed(): boolean {
    return this.shared.usesSeed;
  }

  /**
   * A child scope (a loop body) with its own `let`s. With `hoist`, values whose index does not
   * involve the child's own names (row statistics inside a loop over the row) go to this scope.
   */
  child(prefix: string, hoist = false): Emitter {
    return new Emitter(this.byId, this.stored, this.bufferName, prefix, { emitter: this, hoist });
  }

  /** `id` is held in the register (or WGSL expression) `name` wherever it is read. */
  setLocal(id: ValueId, name: string): void {
    this.shared.locals.set(id, name);
  }

  /** Statements added since the last call, removed from the scope (for code placed between loops). */
  takeLines(): string[] {
    return this.lines.splice(0, this.lines.length);
  }

  private bind(expr: string): string {
    const name = `${this.prefix}${this.counter++}`;
    this.lines.push(`let ${name} = ${expr};`);
    this.names.add(name);
    return name;
  }

  /** Binds an index component, simplified, to a name when it is not already one (once per distinct expression). */
  index(expr: string): string {
    return indexName(expr, this.indices, this.cache, (e) => this.bind(e));
  }

  /** Per-axis indices of the flat offset `flat` in `shape`, named in this scope. */
  split(flat: string, shape: readonly number[]): string[] {
    return unflatten(flat, shape).map((x) => this.index(x));
  }

  /** `name` (a loop counter) takes values in [0, count): index rules may rely on it. */
  range(name: string, count: number): void {
    this.indices.range(name, count);
  }

  /** Per-axis indices of `counter` (the item index, a loop counter), which runs over every element of `shape`. */
  indexOf(counter: string, shape: readonly number[]): string[] {
    this.range(counter, numel(shape));
    return this.split(counter, shape);
  }

  /** Declares names bound outside the emitter (loop counters, function parameters) as this scope's. */
  declare(...names: string[]): void {
    for (const n of names) this.names.add(n);
  }

  private invariant(idx: Index): boolean {
    return idx.every((e) => /^\d+u$/.test(e) || this.names.has(e) || (this.parent?.emitter.invariant([e]) ?? false));
  }

  read(id: ValueId, idx: Index): string {
    if (!this.shared.reads.includes(id)) this.shared.reads.push(id);
    const n = this.byId.get(id)!;
    return loadAs(n.dtype, `${this.bufferName(id)}[${this.indices.simplify(linearIndex(idx, n.shape as number[]))}]`);
  }

  private readFlat(id: ValueId, flat: string): string {
    if (!this.shared.reads.includes(id)) this.shared.reads.push(id);
    return loadAs(this.byId.get(id)!.dtype, `${this.bufferName(id)}[${flat}]`);
  }

  value(id: ValueId, idx: Index): string {
    const local = this.shared.locals.get(id);
    if (local !== undefined) return local;
    if (this.parent?.hoist && this.parent.emitter.invariant(idx)) return this.parent.emitter.value(id, idx);
    const key = `${id}|${idx.join(",")}`;
    const hit = this.cache.get(key);
    if (hit) return hit;
    const n = this.byId.get(id)!;
    const expr = this.stored.has(id) ? this.read(id, idx) : this.compute(n, idx.map((e) => this.index(e)));
    const name = /^[A-Za-z_][A-Za-z0-9_]*$/.test(expr) ? expr : this.bind(expr);
    this.cache.set(key, name);
    return name;
  }

  /** The index of input `k` of a broadcasting op at output index `idx`. */
  private aligned(n: Node, k: number, idx: Index): string[] {
    return alignedIndex(this.byId.get(n.inputs[k]!)!.shape as number[], n.shape as number[], idx);
  }

  private compute(n: Node, idx: Index): string {
    const op = n.op;
    const arg = (k: number, at: Index = this.aligned(n, k, idx)) => this.value(n.inputs[k]!, at);
    switch (op.kind) {
      case "const":
        return literal(op.value[0] ?? 0, n.dtype);
      case "iota":
        return n.dtype === "f32" ? `f32(${idx[op.axis]})` : `i32(${idx[op.axis]})`;
      case "random":
        this.shared.usesSeed = true;
        return randomExpr(op.dist, op.p, op.stream, "ivc_dyn.seed", linearIndex(idx, n.shape as number[]));
      case "unary":
        return UNARY[op.op]!(arg(0), n.dtype);
      case "binary":
        return BINARY[op.op]!(arg(0), arg(1), n.dtype);
      case "compare":
        return `(${arg(0)} ${COMPARE[op.op]} ${arg(1)})`;
      case "where":
        return `select(${arg(2)}, ${arg(1)}, ${arg(0)})`;
      case "cast": {
        const from = this.byId.get(n.inputs[0]!)!.dtype;
        const x = arg(0);
        if (from === op.to) return x;
        if (op.to === "bool") return `(${x} != ${from === "f32" ? "0.0" : "0i"})`;
        if (from === "bool") return `select(${literal(0, op.to)}, ${literal(1, op.to)}, ${x})`;
        return `${op.to}(${x})`;
      }
      case "permute": {
        const inIdx = new Array<string>(op.perm.length);
        op.perm.forEach((p, i) => (inIdx[p] = idx[i]!));
        return arg(0, inIdx);
      }
      case "slice":
        return arg(
          0,
          idx.map((e, i) => {
            const start = op.starts[i]!;
            const step = op.steps[i]!;
            const scaled = step === 1 ? e : `(${e}) * ${u32(step)}`;
            return start === 0 ? scaled : `(${scaled} + ${u32(start)})`;
          }),
        );
      case "broadcast":
        return arg(0);
      case "reshape": {
        const input = n.inputs[0]!;
        const flat = this.index(linearIndex(idx, n.shape as number[]));
        // A stored input is read at the same flat offset, without splitting it into an index first.
        if (this.stored.has(input) && !this.shared.locals.has(input)) return this.readFlat(input, flat);
        return arg(0, this.split(flat, this.byId.get(input)!.shape as number[]));
      }
      case "pad": {
        const inShape = this.byId.get(n.inputs[0]!)!.shape as number[];
        const conds: string[] = [];
        const inner = idx.map((e, i) => {
          const b = op.before[i]!;
          if (b === 0 && op.after[i] === 0) return e;
          conds.push(`(${e} >= ${u32(b)} && ${e} < ${u32(b + inShape[i]!)})`);
          return `min(select(0u, ${e} - ${u32(b)}, ${e} >= ${u32(b)}), ${u32(inShape[i]! - 1)})`;
        });
        const x = arg(0, inner);
        return conds.length ? `select(${literal(op.value, n.dtype)}, ${x}, ${conds.join(" && ")})` : x;
      }
      case "concat": {
        let offset = 0;
        const parts = n.inputs.map((input, k) => {
          const size = (this.byId.get(input)!.shape as number[])[op.axis]!;
          const at = idx.map((e, i) => (i === op.axis ? `min(select(0u, ${e} - ${u32(offset)}, ${e} >= ${u32(offset)}), ${u32(size - 1)})` : e));
          const part = { value: this.value(input, at), end: offset + size };
          offset += size;
          return part;
        });
        let expr = parts[parts.length - 1]!.value;
        for (let k = parts.length - 2; k >= 0; k--) expr = `select(${expr}, ${parts[k]!.value}, ${idx[op.axis]} < ${u32(parts[k]!.end)})`;
        return expr;
      }
      case "gather": {
        const table = this.byId.get(n.inputs[0]!)!.shape as number[];
        const index = this.byId.get(n.inputs[1]!)!.shape as number[];
        const progression = index.length === 1 ? arithmeticIndex(this.byId.get(n.inputs[1]!)!, table[op.axis]!) : undefined;
        const row = progression
          ? progression(idx[op.axis]!)
          : `min(u32(max(${this.value(n.inputs[1]!, idx.slice(op.axis, op.axis + index.length))}, 0i)), ${u32(table[op.axis]! - 1)})`;
        return arg(0, [...idx.slice(0, op.axis), row, ...idx.slice(op.axis + index.length)]);
      }
      default:
        throw new Error(`internal: ${op.kind} cannot be inlined`);
    }
  }
}
