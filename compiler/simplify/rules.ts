/**
 * Local rewrite rules for simplify(). Each rule looks at one candidate node (inputs already
 * simplified) and either leaves it, replaces it with an existing value (`alias`), or rewrites it into
 * a different op over possibly different inputs (`rewrite`, which goes through the rules again).
 *
 * Float-safety: x*1, x/1, x+0, x-0 are exact for every x, including inf and NaN (only the sign of
 * a zero can change: -0 + 0 = +0, which no model depends on). x*0 is folded to 0 only when x is
 * an i32 value or a constant whose values are all finite, because inf*0 and NaN*0 are NaN.
 */
import { shapeEq, type Shape } from "../ir/dims.ts";
import type { DType, Op, ValueId } from "../ir/types.ts";
import type { Span } from "../../diagnostics/span.ts";

export interface MutableNode {
  id: ValueId;
  op: Op;
  inputs: ValueId[];
  shape: Shape;
  dtype: DType;
  spans: Span[];
  name?: string;
}

export type RuleResult =
  | { kind: "keep" }
  | { kind: "alias"; to: ValueId; absorbed?: readonly MutableNode[] }
  | { kind: "rewrite"; op: Op; inputs: ValueId[]; absorbed: readonly MutableNode[] }
  | { kind: "emit-then-alias"; op: Op; inputs: ValueId[]; absorbed?: readonly MutableNode[] };

const KEEP: RuleResult = { kind: "keep" };

function constValues(n: MutableNode): readonly number[] | undefined {
  return n.op.kind === "const" ? n.op.value : undefined;
}

function splatValue(n: MutableNode): number | undefined {
  const values = constValues(n);
  return values?.length === 1 ? values[0] : undefined;
}

function isConstAll(n: MutableNode, v: number): boolean {
  const values = constValues(n);
  return values !== undefined && values.length > 0 && values.every((x) => x === v);
}

/** Replace `node` by `other`, broadcasting when the other operand is smaller than the result. */
function passThrough(node: MutableNode, other: MutableNode, identity: MutableNode): RuleResult {
  if (shapeEq(other.shape, node.shape) && other.dtype === node.dtype) return { kind: "alias", to: other.id, absorbed: [identity] };
  if (other.dtype !== node.dtype) return KEEP;
  return { kind: "emit-then-alias", op: { kind: "broadcast", shape: node.shape }, inputs: [other.id], absorbed: [identity] };
}

function zeroOf(a: MutableNode, b: MutableNode): RuleResult {
  return { kind: "emit-then-alias", op: { kind: "const", value: [0] }, inputs: [], absorbed: [a, b] };
}

function binaryRule(node: MutableNode, a: MutableNode, b: MutableNode): RuleResult {
  const op = (node.op as Extract<Op, { kind: "binary" }>).op;
  switch (op) {
    case "mul":
      if (isConstAll(b, 1)) return passThrough(node, a, b);
      if (isConstAll(a, 1)) return passThrough(node, b, a);
      if (isConstAll(b, 0) && zeroSafe(a)) return zeroOf(a, b);
      if (isConstAll(a, 0) && zeroSafe(b)) return zeroOf(a, b);
      return KEEP;
    case "add":
      if (isConstAll(b, 0)) return passThrough(node, a, b);
      if (isConstAll(a, 0)) return passThrough(node, b, a);
      return KEEP;
    case "sub":
      return isConstAll(b, 0) ? passThrough(node, a, b) : KEEP;
    case "div":
      return isConstAll(b, 1) ? passThrough(node, a, b) : KEEP;
    default:
      return KEEP;
  }
}

function zeroSafe(x: MutableNode): boolean {
  if (x.dtype === "i32") return true;
  const values = constValues(x);
  return values !== undefined && values.every(Number.isFinite);
}

/** The algebraic and view-folding rules; `def` resolves an input id to its (already simplified) node. */
export function applyRules(node: MutableNode, def: (id: ValueId) => MutableNode): RuleResult {
  const ins = node.inputs.map(def);
  const op = node.op;
  const splat = ins[0] !== undefined ? splatValue(ins[0]) : undefined;
  if (splat !== undefined && (op.kind === "reshape" || op.kind === "broadcast" || op.kind === "permute")) {
    // A view of a splat constant is the same splat at the new shape, whatever its size or symbols.
    return { kind: "rewrite", op: { kind: "const", value: [splat] }, inputs: [], absorbed: [ins[0]!] };
  }
  switch (op.kind) {
    case "reshape": {
      const x = ins[0]!;
      if (shapeEq(x.shape, node.shape)) return { kind: "alias", to: x.id };
      if (x.op.kind === "reshape") return { kind: "rewrite", op, inputs: [x.inputs[0]!], absorbed: [x] };
      if (x.op.kind === "reduce" && x.op.keepdims) {
        // reduce(keepdims) followed by a reshape that drops exactly the reduced axes is a plain reduce.
        const axes = x.op.axes;
        const dropped = x.shape.filter((_, i) => !axes.includes(i));
        if (shapeEq(dropped, node.shape))
          return { kind: "rewrite", op: { ...x.op, keepdims: false }, inputs: [x.inputs[0]!], absorbed: [x] };
      }
      return KEEP;
    }
    case "permute": {
      const x = ins[0]!;
      if (op.perm.every((p, i) => p === i)) return { kind: "alias", to: x.id };
      if (x.op.kind === "permute") {
        const inner = x.op.perm;
        return { kind: "rewrite", op: { kind: "permute", perm: op.perm.map((p) => inner[p]!) }, inputs: [x.inputs[0]!], absorbed: [x] };
      }
      return KEEP;
    }
    case "broadcast": {
      const x = ins[0]!;
      if (shapeEq(x.shape, node.shape)) return { kind: "alias", to: x.id };
      if (x.op.kind === "broadcast") return { kind: "rewrite", op, inputs: [x.inputs[0]!], absorbed: [x] };
      return KEEP;
    }
    case "unary": {
      const x = ins[0]!;
      if (op.op === "neg" && x.op.kind === "unary" && x.op.op === "neg") return { kind: "alias", to: x.inputs[0]!, absorbed: [x] };
      return KEEP;
    }
    case "binary":
      return binaryRule(node, ins[0]!, ins[1]!);
    default:
      return KEEP;
  }
}
