/**
 * Shape and dtype rules for every primitive. Errors are values, never exceptions: the elaborator
 * turns a ShapeError into a diagnostic located at the expression that built the node.
 *
 * Broadcasting (binary, compare, where) follows numpy, right-aligned:
 *   - shapes are aligned on their last axis; the shorter one is padded with leading 1s;
 *   - per axis, equal dims give that dim; a dim that is literally the number 1 stretches to the other;
 *   - anything else is an error naming both shapes and the axis (counted from the left of the result).
 * Symbolic dims are compared syntactically after canonicalisation (`T*B` equals `B*T`). A symbolic
 * dim is never assumed to be 1 at runtime: `B` against `8` is an error, `B` against `1` gives `B`,
 * `B` against `T` is an error. This keeps every broadcast decided at compile time, so kernels never
 * branch on runtime sizes.
 *
 * Source ops (input, param, const, random, iota) carry no shape of their own in the Op; their shape
 * and dtype come in `declared` (the builder passes them) and are validated here.
 */
import { canonDim, dimDiv, dimEq, dimMul, formatShape, numel, type Dim, type Shape } from "./dims.ts";
import type { AttentionOp, DType, Op, UnaryOp } from "./types.ts";

export interface ShapeError {
  readonly kind: "shape-error";
  readonly message: string;
}

export interface TypedShape {
  readonly shape: Shape;
  readonly dtype: DType;
}

export type ShapeResult = TypedShape | ShapeError;

export function isShapeError(r: ShapeResult): r is ShapeError {
  return (r as ShapeError).kind === "shape-error";
}

function fail(message: string): ShapeError {
  return { kind: "shape-error", message };
}

const fmt = formatShape;

/** Unary ops that are meaningful on integers too; the rest need floats. */
const INTEGER_UNARY: ReadonlySet<UnaryOp> = new Set(["neg", "abs", "sign", "relu"]);

/** Right-aligned numpy broadcast of any number of shapes (see the header for the rules). */
export function broadcastShapes(shapes: readonly Shape[]): Shape | ShapeError {
  const rank = Math.max(0, ...shapes.map((s) => s.length));
  const out: Dim[] = [];
  for (let axis = 0; axis < rank; axis++) {
    let acc: Dim = 1;
    let accFrom = -1;
    for (let k = 0; k < shapes.length; k++) {
      const s = shapes[k]!;
      const i = axis - (rank - s.length);
      if (i < 0) continue;
      const d = s[i]!;
      if (d === 1) continue;
      if (acc === 1) {
        acc = canonDim(d);
        accFrom = k;
      } else if (!dimEq(acc, d)) {
        return fail(
          `cannot broadcast ${fmt(shapes[accFrom]!)} with ${fmt(s)}: axis ${axis} of the result is ` +
            `${String(acc)} in the first and ${String(d)} in the second (only a literal 1 stretches)`,
        );
      }
    }
    out.push(acc);
  }
  return out;
}

/** Sum of two dims; symbolic sums are allowed only between like monomials (B + B = 2*B). */
export function dimAdd(a: Dim, b: Dim): Dim | undefined {
  if (typeof a === "number" && typeof b === "number") return a + b;
  if (a === 0) return canonDim(b);
  if (b === 0) return canonDim(a);
  const unit = symbolicPart(a);
  if (unit === undefined || unit !== symbolicPart(b)) return undefined;
  const ca = dimDiv(a, unit) as number;
  const cb = dimDiv(b, unit) as number;
  return dimMul(ca + cb, unit);
}

function symbolicPart(d: Dim): string | undefined {
  if (typeof d === "number") return undefined;
  const parts = String(canonDim(d)).split("*").filter((p) => !/^\d+$/.test(p));
  return parts.length ? parts.join("*") : undefined;
}

function checkAxes(axes: readonly number[], rank: number, what: string, shape: Shape): ShapeError | undefined {
  const seen = new Set<number>();
  for (const a of axes) {
    if (!Number.isInteger(a) || a < 0 || a >= rank) return fail(`${what}: axis ${a} is out of range for ${fmt(shape)}`);
    if (seen.has(a)) return fail(`${what}: axis ${a} appears twice`);
    seen.add(a);
  }
  return undefined;
}

function arity(op: Op, shapes: readonly Shape[], n: number): ShapeError | undefined {
  return shapes.length === n ? undefined : fail(`${op.kind} takes ${n} inputs, got ${shapes.length}`);
}

/** Output size of one convolution axis, or undefined when a symbolic size makes it unknowable. */
function convAxis(size: Dim, k: number, stride: number, pad: number, dil: number): Dim | undefined {
  const span = dil * (k - 1) + 1;
  if (typeof size === "number") return Math.floor((size + 2 * pad - span) / stride) + 1;
  return stride === 1 && 2 * pad === span - 1 ? size : undefined;
}

export function inferShape(
  op: Op,
  shapes: readonly Shape[],
  dtypes: readonly DType[],
  declared?: TypedShape,
): ShapeResult {
  switch (op.kind) {
    case "input":
    case "param":
    case "const":
    case "random":
    case "iota":
      return sourceShape(op, shapes, declared);
    case "unary": {
      const e = arity(op, shapes, 1);
      if (e) return e;
      if (dtypes[0] === "bool") return fail(`${op.op} is not defined on bool`);
      if (dtypes[0] === "i32" && !INTEGER_UNARY.has(op.op)) return fail(`${op.op} needs f32, got i32`);
      return { shape: shapes[0]!, dtype: dtypes[0]! };
    }
    case "binary":
    case "compare": {
      const e = arity(op, shapes, 2);
      if (e) return e;
      if (dtypes[0] !== dtypes[1]) return fail(`${op.op} mixes ${dtypes[0]} and ${dtypes[1]}; cast one side`);
      if (dtypes[0] === "bool" && op.kind === "binary") return fail(`${op.op} is not defined on bool`);
      if (op.kind === "binary" && op.op === "pow" && dtypes[0] !== "f32") return fail("pow needs f32");
      const s = broadcastShapes(shapes);
      if (!Array.isArray(s)) return s as ShapeError;
      return { shape: s, dtype: op.kind === "compare" ? "bool" : dtypes[0]! };
    }
    case "where": {
      const e = arity(op, shapes, 3);
      if (e) return e;
      if (dtypes[0] !== "bool") return fail(`where needs a bool condition, got ${dtypes[0]}`);
      if (dtypes[1] !== dtypes[2]) return fail(`where branches differ: ${dtypes[1]} and ${dtypes[2]}`);
      const s = broadcastShapes(shapes);
      if (!Array.isArray(s)) return s as ShapeError;
      return { shape: s, dtype: dtypes[1]! };
    }
    case "cast":
      return arity(op, shapes, 1) ?? { shape: shapes[0]!, dtype: op.to };
    case "reduce": {
      const e = arity(op, shapes, 1) ?? checkAxes(op.axes, shapes[0]!.length, "reduce", shapes[0]!);
      if (e) return e;
      if (dtypes[0] === "bool") return fail("reduce is not defined on bool; cast first");
      const x = shapes[0]!;
      const shape = op.keepdims
        ? x.map((d, i) => (op.axes.includes(i) ? 1 : d))
        : x.filter((_, i) => !op.axes.includes(i));
      return { shape, dtype: dtypes[0]! };
    }
    case "matmul":
      return matmulShape(shapes, dtypes);
    case "conv3d":
      return conv3dShape(op, shapes, dtypes);
    case "reshape": {
      const e = arity(op, shapes, 1);
      if (e) return e;
      if (!dimEq(numel(shapes[0]!), numel(op.shape)))
        return fail(`cannot reshape ${fmt(shapes[0]!)} (${String(numel(shapes[0]!))} elements) to ${fmt(op.shape)} (${String(numel(op.shape))} elements)`);
      return { shape: op.shape.map(canonDim), dtype: dtypes[0]! };
    }
    case "permute": {
      const e = arity(op, shapes, 1);
      if (e) return e;
      const x = shapes[0]!;
      if (op.perm.length !== x.length || checkAxes(op.perm, x.length, "permute", x))
        return fail(`permute [${op.perm.join(", ")}] is not a permutation of the ${x.length} axes of ${fmt(x)}`);
      return { shape: op.perm.map((p) => x[p]!), dtype: dtypes[0]! };
    }
    case "slice":
      return sliceShape(op, shapes, dtypes);
    case "concat":
      return concatShape(op, shapes, dtypes);
    case "pad": {
      const e = arity(op, shapes, 1);
      if (e) return e;
      const x = shapes[0]!;
      if (op.before.length !== x.length || op.after.length !== x.length)
        return fail(`pad needs ${x.length} before/after counts for ${fmt(x)}`);
      const out: Dim[] = [];
      for (let i = 0; i < x.length; i++) {
        const b = op.before[i]!;
        const a = op.after[i]!;
        if (!Number.isInteger(b) || !Number.isInteger(a) || b < 0 || a < 0)
          return fail(`pad counts must be non-negative integers (axis ${i}: ${b}, ${a})`);
        const d = dimAdd(x[i]!, a + b);
        if (d === undefined) return fail(`cannot pad symbolic axis ${i} (${String(x[i])}) of ${fmt(x)}`);
        out.push(d);
      }
      return { shape: out, dtype: dtypes[0]! };
    }
    case "broadcast": {
      const e = arity(op, shapes, 1);
      if (e) return e;
      const x = shapes[0]!;
      const off = op.shape.length - x.length;
      if (off < 0) return fail(`cannot broadcast ${fmt(x)} to the lower-rank ${fmt(op.shape)}`);
      for (let i = 0; i < x.length; i++) {
        if (x[i] !== 1 && !dimEq(x[i]!, op.shape[off + i]!))
          return fail(`cannot broadcast ${fmt(x)} to ${fmt(op.shape)}: axis ${off + i} is ${String(x[i])}, not 1 or ${String(op.shape[off + i])}`);
      }
      return { shape: op.shape.map(canonDim), dtype: dtypes[0]! };
    }
    case "gather": {
      const e = arity(op, shapes, 2);
      if (e) return e;
      const [t, idx] = shapes as [Shape, Shape];
      if (dtypes[1] !== "i32") return fail(`gather index must be i32, got ${dtypes[1]}`);
      if (!Number.isInteger(op.axis) || op.axis < 0 || op.axis >= t.length)
        return fail(`gather axis ${op.axis} is out of range for ${fmt(t)}`);
      return { shape: [...t.slice(0, op.axis), ...idx, ...t.slice(op.axis + 1)], dtype: dtypes[0]! };
    }
    case "attention":
    case "attention_stats":
    case "attention_grad_q":
    case "attention_grad_kv":
      return attentionShape(op, shapes, dtypes);
    case "scatter_add": {
      const e = arity(op, shapes, 2);
      if (e) return e;
      const [src, idx] = shapes as [Shape, Shape];
      if (dtypes[1] !== "i32") return fail(`scatter_add index must be i32, got ${dtypes[1]}`);
      if (dtypes[0] === "bool") return fail("scatter_add is not defined on bool");
      const t = op.shape;
      if (!Number.isInteger(op.axis) || op.axis < 0 || op.axis >= t.length)
        return fail(`scatter_add axis ${op.axis} is out of range for ${fmt(t)}`);
      const expect = [...t.slice(0, op.axis), ...idx, ...t.slice(op.axis + 1)];
      if (expect.length !== src.length || !expect.every((d, i) => dimEq(d, src[i]!)))
        return fail(`scatter_add source ${fmt(src)} does not match ${fmt(expect)} (target ${fmt(t)}, index ${fmt(idx)}, axis ${op.axis})`);
      return { shape: t.map(canonDim), dtype: dtypes[0]! };
    }
  }
}

function sourceShape(op: Op, shapes: readonly Shape[], declared: TypedShape | undefined): ShapeResult {
  if (shapes.length !== 0) return fail(`${op.kind} takes no inputs`);
  if (!declared) return fail(`${op.kind} needs a declared shape`);
  const { shape, dtype } = declared;
  for (const d of shape) {
    if (typeof d === "number" && (!Number.isInteger(d) || d < 0)) return fail(`invalid dim ${d} in ${fmt(shape)}`);
  }
  if (op.kind === "const") {
    const n = numel(shape);
    if (op.value.length !== 1 && !(typeof n === "number" && n === op.value.length))
      return fail(`constant has ${op.value.length} values but shape ${fmt(shape)} holds ${String(n)}`);
  }
  if (op.kind === "random") {
    if (dtype !== "f32") return fail("random produces f32");
    if (op.dist === "bernoulli" && !(op.p >= 0 && op.p <= 1)) return fail(`bernoulli p=${op.p} is outside [0, 1]`);
  }
  if (op.kind === "iota") {
    if (dtype === "bool") return fail("iota produces i32 or f32");
    if (!Number.isInteger(op.axis) || op.axis < 0 || op.axis >= shape.length)
      return fail(`iota axis ${op.axis} is out of range for ${fmt(shape)}`);
  }
  return { shape: shape.map(canonDim), dtype };
}

function matmulShape(shapes: readonly Shape[], dtypes: readonly DType[]): ShapeResult {
  if (shapes.length !== 2) return fail(`matmul takes 2 inputs, got ${shapes.length}`);
  const [a, b] = shapes as [Shape, Shape];
  if (dtypes[0] !== "f32" || dtypes[1] !== "f32") return fail(`matmul needs f32 operands, got ${dtypes[0]} and ${dtypes[1]}`);
  if (a.length < 2 || b.length < 2) return fail(`matmul needs rank >= 2 operands, got ${fmt(a)} and ${fmt(b)}`);
  const k1 = a[a.length - 1]!;
  const k2 = b[b.length - 2]!;
  if (!dimEq(k1, k2))
    return fail(`matmul ${fmt(a)} x ${fmt(b)}: contracted dims differ (${String(k1)} vs ${String(k2)})`);
  const batch = broadcastShapes([a.slice(0, -2), b.slice(0, -2)]);
  if (!Array.isArray(batch)) return fail(`matmul ${fmt(a)} x ${fmt(b)}: batch dims: ${(batch as ShapeError).message}`);
  return { shape: [...batch, canonDim(a[a.length - 2]!), canonDim(b[b.length - 1]!)], dtype: "f32" };
}

function conv3dShape(op: Extract<Op, { kind: "conv3d" }>, shapes: readonly Shape[], dtypes: readonly DType[]): ShapeResult {
  if (shapes.length !== 2) return fail(`conv3d takes 2 inputs, got ${shapes.length}`);
  const [x, w] = shapes as [Shape, Shape];
  if (dtypes[0] !== "f32" || dtypes[1] !== "f32") return fail("conv3d needs f32 operands");
  if (x.length !== 5) return fail(`conv3d input must be [N, C, T, H, W], got ${fmt(x)}`);
  if (w.length !== 5) return fail(`conv3d weight must be [O, C/groups, kT, kH, kW], got ${fmt(w)}`);
  const g = op.groups;
  if (!Number.isInteger(g) || g < 1) return fail(`conv3d groups must be a positive integer, got ${g}`);
  if (!dimEq(x[1]!, dimMul(w[1]!, g)))
    return fail(`conv3d input ${fmt(x)} has ${String(x[1])} channels but weight ${fmt(w)} expects ${String(w[1])} x ${g} groups`);
  if (dimDiv(w[0]!, g) === undefined) return fail(`conv3d out channels ${String(w[0])} are not divisible by groups ${g}`);
  const out: Dim[] = [canonDim(x[0]!), canonDim(w[0]!)];
  for (let i = 0; i < 3; i++) {
    const k = w[2 + i]!;
    const s = op.stride[i]!;
    const p = op.padding[i]!;
    const d = op.dilation[i]!;
    if (typeof k !== "number") return fail(`conv3d kernel size must be concrete, got ${fmt(w)}`);
    if (!(s >= 1 && d >= 1 && p >= 0)) return fail(`conv3d needs stride >= 1, dilation >= 1, padding >= 0 (axis ${2 + i})`);
    const o = convAxis(x[2 + i]!, k, s, p, d);
    if (o === undefined) return fail(`conv3d cannot size symbolic axis ${2 + i} (${String(x[2 + i])}) of ${fmt(x)}`);
    if (typeof o === "number" && o < 1)
      return fail(`conv3d input ${fmt(x)} axis ${2 + i} is too small for kernel ${k} (dilation ${d}, padding ${p})`);
    out.push(o);
  }
  return { shape: out, dtype: "f32" };
}

function sliceShape(op: Extract<Op, { kind: "slice" }>, shapes: readonly Shape[], dtypes: readonly DType[]): ShapeResult {
  if (shapes.length !== 1) return fail(`slice takes 1 input, got ${shapes.length}`);
  const x = shapes[0]!;
  if (op.starts.length !== x.length || op.ends.length !== x.length || op.steps.length !== x.length)
    return fail(`slice needs ${x.length} starts/ends/steps for ${fmt(x)}`);
  const out: Dim[] = [];
  for (let i = 0; i < x.length; i++) {
    const start = op.starts[i]!;
    const end = op.ends[i]!;
    const step = op.steps[i]!;
    const d = x[i]!;
    if (!Number.isInteger(step) || step < 1) return fail(`slice step must be a positive integer (axis ${i}: ${step})`);
    if (!Number.isInteger(start) || start < 0) return fail(`slice start must be a non-negative integer (axis ${i}: ${start})`);
    if (typeof end === "number") {
      if (typeof d === "number" && (end > d || start > end))
        return fail(`slice [${start}:${end}] is out of range on axis ${i} of ${fmt(x)}`);
      if (start > end) return fail(`slice [${start}:${end}] is empty-reversed on axis ${i} of ${fmt(x)}`);
      out.push(Math.ceil((end - start) / step));
    } else {
      if (!dimEq(end, d)) return fail(`slice end ${String(end)} on axis ${i} must equal the axis size ${String(d)}`);
      if (start !== 0 || step !== 1) return fail(`slice on symbolic axis ${i} (${String(d)}) must take the whole axis`);
      out.push(canonDim(d));
    }
  }
  return { shape: out, dtype: dtypes[0]! };
}

function concatShape(op: Extract<Op, { kind: "concat" }>, shapes: readonly Shape[], dtypes: readonly DType[]): ShapeResult {
  if (shapes.length < 1) return fail("concat needs at least one input");
  const first = shapes[0]!;
  const axis = op.axis;
  if (!Number.isInteger(axis) || axis < 0 || axis >= first.length)
    return fail(`concat axis ${axis} is out of range for ${fmt(first)}`);
  let total: Dim = 0;
  for (let k = 0; k < shapes.length; k++) {
    const s = shapes[k]!;
    if (dtypes[k] !== dtypes[0]) return fail(`concat mixes ${dtypes[0]} and ${dtypes[k]}`);
    if (s.length !== first.length) return fail(`concat ${fmt(first)} with ${fmt(s)}: ranks differ`);
    for (let i = 0; i < s.length; i++) {
      if (i !== axis && !dimEq(s[i]!, first[i]!))
        return fail(`concat along axis ${axis}: ${fmt(first)} and ${fmt(s)} differ on axis ${i}`);
    }
    const t = dimAdd(total, s[axis]!);
    if (t === undefined) return fail(`concat along axis ${axis} cannot add ${String(total)} and ${String(s[axis])}`);
    total = t;
  }
  return { shape: first.map((d, i) => (i === axis ? total : canonDim(d))), dtype: dtypes[0]! };
}

/** The permutation between an attention result's [..., H, M, Dv] and heads-last [..., M, H, Dv] layouts (its own inverse). */
export function headsLastPerm(rank: number): number[] {
  return [...Array(rank).keys()].map((i) => (i === rank - 3 ? rank - 2 : i === rank - 2 ? rank - 3 : i));
}

/** Operand roles of each attention op, in input order; `o` and `dO` are [..., M, Dv] like the output. */
export const ATTENTION_OPERANDS: Record<AttentionOp, readonly ("q" | "k" | "v" | "o" | "dO" | "stats")[]> = {
  attention: ["q", "k", "v"],
  attention_stats: ["q", "k", "o", "dO"],
  attention_grad_q: ["q", "k", "v", "dO", "stats"],
  attention_grad_kv: ["q", "k", "v", "dO", "stats"],
};

function attentionShape(op: Extract<Op, { kind: AttentionOp }>, shapes: readonly Shape[], dtypes: readonly DType[]): ShapeResult {
  const roles = ATTENTION_OPERANDS[op.kind];
  const e = arity(op, shapes, roles.length);
  if (e) return e;
  if (!Number.isFinite(op.scale)) return fail(`${op.kind} needs a finite scale, got ${op.scale}`);
  if (dtypes.some((t) => t !== "f32")) return fail(`${op.kind} needs f32 operands, got ${dtypes.join(", ")}`);
  const q = shapes[0]!;
  if (shapes.some((s) => s.length !== q.length) || q.length < 2)
    return fail(`${op.kind} needs operands of one rank >= 2, got ${shapes.map(fmt).join(", ")}`);
  const lead = q.slice(0, -2);
  for (const [i, s] of shapes.entries()) {
    const axis = s.findIndex((d, a) => a < lead.length && !dimEq(d, lead[a]!));
    if (axis >= 0) return fail(`${op.kind} ${roles[i]} ${fmt(s)} and q ${fmt(q)} differ on leading axis ${axis} (leading dims must be equal)`);
  }
  const rows = (s: Shape) => s[s.length - 2]!;
  const width = (s: Shape) => s[s.length - 1]!;
  const named = Object.fromEntries(roles.map((r, i) => [r, shapes[i]!])) as Record<string, Shape>;
  const [M, D] = [rows(q), width(q)];
  const k = named.k!;
  if (!dimEq(width(k), D)) return fail(`${op.kind} q ${fmt(q)} and k ${fmt(k)} differ in width (${String(D)} vs ${String(width(k))})`);
  const v = named.v;
  if (v && !dimEq(rows(v), rows(k))) return fail(`${op.kind} k ${fmt(k)} and v ${fmt(v)} differ in rows (${String(rows(k))} vs ${String(rows(v))})`);
  const dO = named.dO;
  const Dv = v ? width(v) : dO ? width(dO) : D;
  for (const role of ["o", "dO"] as const) {
    const s = named[role];
    if (s && (!dimEq(rows(s), M) || !dimEq(width(s), Dv)))
      return fail(`${op.kind} ${role} ${fmt(s)} must be [..., ${String(M)}, ${String(Dv)}] (rows of q, width of ${v ? "v" : "dO"})`);
  }
  const stats = named.stats;
  if (stats && (!dimEq(rows(stats), M) || width(stats) !== 2)) return fail(`${op.kind} stats ${fmt(stats)} must be [..., ${String(M)}, 2]`);
  const result = (r: Dim, w: Dim | undefined): ShapeResult =>
    w === undefined ? fail(`${op.kind} cannot add widths ${String(D)} and ${String(Dv)}`) : { shape: [...lead, r, w].map(canonDim), dtype: "f32" };
  switch (op.kind) {
    case "attention":
      if (!op.heads_last) return result(M, Dv);
      if (lead.length === 0) return fail(`attention heads_last needs a heads axis before the rows, got q ${fmt(q)}`);
      return { shape: [...lead.slice(0, -1), M, lead[lead.length - 1]!, Dv].map(canonDim), dtype: "f32" };
    case "attention_stats":
      return result(M, 2);
    case "attention_grad_q":
      return result(M, D);
    case "attention_grad_kv":
      return result(rows(k), dimAdd(D, Dv));
  }
}
