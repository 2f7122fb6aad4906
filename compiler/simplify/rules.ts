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
  | { kind: "alias"; to: ValueId }
  | { kind: "rewrite"; op: Op; inputs: ValueId[]; absorbed: readonly MutableNode[] }
  | { kind: "emit-then-alias"; op: Op; inputs: ValueId[] };

const KEEP: RuleResult = { kind: "keep" };

function constValues(n: MutableNode): readonly number[] | undefined {
  return n.op.kind === "const" ? n.op.value : undefined;
}

function isConstAll(n: MutableNode, v: number): boolean {
  const values = constValues(n);
  return values !== undefined && values.length > 0 && values.every((x) => x === v);
}

/** Replace `node` by `other`, broadcasting when the other operand is smaller than the result. */
function passThrough(node: MutableNode, other: MutableNode): RuleResult {
  if (shapeEq(other.shape, node.shape) && other.dtype === node.dtype) return { kind: "alias", to: other.id };
  if (other.dtype !== node.dtype) return KEEP;
  return { kind: "emit-then-alias", op: { kind: "broadcast", shape: node.shape }, inputs: [other.id] };
}

function zeroOf(): RuleResult {
  return { kind: "emit-then-alias", op: { kind: "const", value: [0] }, inputs: [] };
}

function binaryRule(node: MutableNode, a: MutableNode, b: MutableNode): RuleResult {
  const op = (node.op as Extract<Op, { kind: "binary" }>).op;
  switch (op) {
    case "mul":
      if (isConstAll(b, 1)) return passThrough(node, a);
      if (isConstAll(a, 1)) return passThrough(node, b);
      if (isConstAll(b, 0) && zeroSafe(a)) return zeroOf();
      if (isConstAll(a, 0) && zeroSafe(b)) return zeroOf();
      return KEEP;
    case "add":
      if (isConstAll(b, 0)) return passThrough(node, a);
      if (isConstAll(a, 0)) return passThrough(node, b);
      return KEEP;
    case "sub":
      return isConstAll(b, 0) ? passThrough(node, a) : KEEP;
    case "div":
      return isConstAll(b, 1) ? passThrough(node, a) : KEEP;
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
  switch (op.kind) {
    case "reshape": {
      const x = ins[0]!;
      if (shapeEq(x.shape, node.shape)) return { kind: "alias", to: x.id };
      if (x.op.kind === "reshape") return { kind: "rewrite", op, inputs: [x.inputs[0]!], absorbed: [x] };
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
      if (op.op === "neg" && x.op.kind === "unary" && x.op.op === "neg") return { kind: "alias", to: x.inputs[0]! };
      return KEEP;
    }
    case "binary":
      return binaryRule(node, ins[0]!, ins[1]!);
    default:
      return KEEP;
  }
}
