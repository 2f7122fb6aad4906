/**
 * CST to AST for expressions, arguments and types. Operator precedence is applied here, with an
 * explicit operator stack (no recursion per operator), from lowest to highest:
 *   or < and < not < comparisons < + - < * / % @ < unary - + < ** (right-associative)
 */
import type { CstNode, IToken } from "chevrotain";
import { makeDiagnostic } from "../diagnostics/diagnostic.ts";
import { joinSpans, type Span } from "../diagnostics/span.ts";
import type { Argument, BinaryOperator, Expr, IndexItem, NamedType, TensorDType, TypeExpr, UnaryOperator } from "./ast.ts";
import {
  childNode,
  childNodes,
  childToken,
  childTokens,
  identifier,
  nodeSpan,
  pointAt,
  report,
  tokSpan,
  type BuildContext,
} from "./cst-util.ts";
import { closest } from "./suggest.ts";

/** Longer chains would build trees deep enough to overflow recursive passes downstream. */
export const MAX_OPERATORS = 2000;

interface OperatorInfo {
  readonly precedence: number;
  readonly rightAssoc: boolean;
}

const BINARY: Record<string, OperatorInfo & { op: BinaryOperator }> = {
  or: { op: "or", precedence: 1, rightAssoc: false },
  and: { op: "and", precedence: 2, rightAssoc: false },
  "<": { op: "<", precedence: 4, rightAssoc: false },
  "<=": { op: "<=", precedence: 4, rightAssoc: false },
  ">": { op: ">", precedence: 4, rightAssoc: false },
  ">=": { op: ">=", precedence: 4, rightAssoc: false },
  "==": { op: "==", precedence: 4, rightAssoc: false },
  "!=": { op: "!=", precedence: 4, rightAssoc: false },
  "+": { op: "+", precedence: 5, rightAssoc: false },
  "-": { op: "-", precedence: 5, rightAssoc: false },
  "*": { op: "*", precedence: 6, rightAssoc: false },
  "/": { op: "/", precedence: 6, rightAssoc: false },
  "%": { op: "%", precedence: 6, rightAssoc: false },
  "@": { op: "@", precedence: 6, rightAssoc: false },
  "**": { op: "**", precedence: 8, rightAssoc: true },
};
const PREFIX_PRECEDENCE: Record<UnaryOperator, number> = { not: 3, "-": 7, "+": 7 };

type StackEntry =
  | { readonly kind: "binary"; readonly op: BinaryOperator; readonly precedence: number; readonly opSpan: Span }
  | { readonly kind: "prefix"; readonly op: UnaryOperator; readonly precedence: number; readonly start: Span };

export class ExprBuilder {
  constructor(private readonly ctx: BuildContext) {}

  private error(at: Span): Expr {
    return { kind: "error", span: at };
  }

  expression(n: CstNode | undefined, at: Span): Expr {
    if (!n) return this.error(pointAt(at));
    const span = nodeSpan(this.ctx, n, at);
    const operands = childNodes(n, "unary");
    const ops = childTokens(n, "BinaryOp");
    const unaryAndPostfix = operands.reduce(
      (sum, u) => sum + childTokens(u, "prefix").length + childNodes(childNode(u, "postfix"), "postfixOp").length,
      0,
    );
    if (ops.length + unaryAndPostfix > MAX_OPERATORS) {
      report(this.ctx, () => makeDiagnostic("IV1023", span, { limit: MAX_OPERATORS }));
      return this.error(span);
    }
    const values: Expr[] = [];
    const stack: StackEntry[] = [];
    const reduce = () => {
      const top = stack.pop()!;
      if (top.kind === "prefix") {
        const operand = values.pop() ?? this.error(top.start);
        values.push({ kind: "unary", op: top.op, operand, span: joinSpans(top.start, operand.span) });
      } else {
        const right = values.pop() ?? this.error(top.opSpan);
        const left = values.pop() ?? this.error(top.opSpan);
        values.push({ kind: "binary", op: top.op, left, right, opSpan: top.opSpan, span: joinSpans(left.span, right.span) });
      }
    };
    operands.forEach((unary, i) => {
      const opToken = i > 0 ? ops[i - 1] : undefined;
      if (opToken) {
        const info = BINARY[opToken.image]!;
        while (stack.length > 0) {
          const top = stack.at(-1)!;
          if (top.precedence > info.precedence || (top.precedence === info.precedence && !info.rightAssoc)) reduce();
          else break;
        }
        stack.push({ kind: "binary", op: info.op, precedence: info.precedence, opSpan: tokSpan(this.ctx, opToken, span) });
      }
      for (const p of childTokens(unary, "prefix")) {
        const op = p.image as UnaryOperator;
        stack.push({ kind: "prefix", op, precedence: PREFIX_PRECEDENCE[op], start: tokSpan(this.ctx, p, span) });
      }
      values.push(this.postfix(childNode(unary, "postfix"), nodeSpan(this.ctx, unary, span)));
    });
    while (stack.length > 0) reduce();
    return values[0] ?? this.error(span);
  }

  private postfix(n: CstNode | undefined, at: Span): Expr {
    let expr = this.primary(childNode(n, "primary"), at);
    for (const op of childNodes(n, "postfixOp")) {
      const opSpan = nodeSpan(this.ctx, op, expr.span);
      const span = joinSpans(expr.span, opSpan);
      if (childToken(op, "Dot") || op.children.property) {
        expr = { kind: "member", object: expr, property: identifier(this.ctx, childToken(op, "property"), opSpan), span };
      } else if (op.children.LParen) {
        expr = { kind: "call", callee: expr, args: this.callArgs(childNode(op, "callArgs"), opSpan), span };
      } else {
        const items = childNodes(op, "items").map((item) => this.indexItem(item, opSpan));
        const trailing = childToken(op, "trailingComma");
        if (trailing) this.trailingComma(trailing, "in an index", opSpan);
        expr = { kind: "index", object: expr, indices: items, span };
      }
    }
    return expr;
  }

  private indexItem(n: CstNode, at: Span): IndexItem {
    const span = nodeSpan(this.ctx, n, at);
    if (childToken(n, "Ellipsis")) return { kind: "ellipsis", span };
    const hasColon = n.children.firstColon !== undefined;
    const start = childNode(n, "start");
    if (!hasColon) return this.expression(start, span);
    const stop = childNode(n, "stop");
    const step = childNode(n, "step");
    return {
      kind: "slice",
      ...(start ? { start: this.expression(start, span) } : {}),
      ...(stop ? { stop: this.expression(stop, span) } : {}),
      ...(step ? { step: this.expression(step, span) } : {}),
      span,
    };
  }

  private primary(n: CstNode | undefined, at: Span): Expr {
    if (!n) return this.error(pointAt(at));
    const span = nodeSpan(this.ctx, n, at);
    const int = childToken(n, "IntLit");
    if (int) return { kind: "int", value: Number(int.image), raw: int.image, span };
    const float = childToken(n, "FloatLit");
    if (float) return { kind: "float", value: Number(float.image), raw: float.image, span };
    const str = childToken(n, "StringLit");
    if (str) return { kind: "string", value: decodeString(str.image), span };
    if (childToken(n, "Kw_true")) return { kind: "bool", value: true, span };
    if (childToken(n, "Kw_false")) return { kind: "bool", value: false, span };
    const name = childToken(n, "Identifier");
    if (name) return { kind: "name", name: name.image, span };
    const paren = childNode(n, "parenExpr");
    if (paren) {
      const elements = childNodes(paren, "elements").map((e) => this.expression(e, span));
      const trailing = childToken(paren, "trailingComma") !== undefined;
      if (elements.length === 1 && !trailing) return elements[0]!;
      return { kind: "tuple", elements, span };
    }
    const list = childNode(n, "listExpr");
    if (list) return { kind: "list", elements: childNodes(list, "elements").map((e) => this.expression(e, span)), span };
    return this.error(span);
  }

  callArgs(n: CstNode | undefined, at: Span): Argument[] {
    const args: Argument[] = [];
    const seen = new Set<string>();
    let sawKeyword = false;
    for (const a of childNodes(n, "argument")) {
      const span = nodeSpan(this.ctx, a, at);
      const nameTok = childToken(a, "name");
      const value = this.expression(childNode(a, "expression"), span);
      if (nameTok) {
        const name = identifier(this.ctx, nameTok, span);
        if (seen.has(name.name)) report(this.ctx, () => makeDiagnostic("IV1033", name.span, { name: name.name }));
        seen.add(name.name);
        sawKeyword = true;
        args.push({ kind: "argument", name, value, span });
      } else {
        if (sawKeyword) report(this.ctx, () => makeDiagnostic("IV1024", span));
        args.push({ kind: "argument", value, span });
      }
    }
    return args;
  }

  trailingComma(t: IToken, where: string, at: Span): void {
    report(this.ctx, () => makeDiagnostic("IV1021", tokSpan(this.ctx, t, at), { where }));
  }

  // ─── Types ────────────────────────────────────────────────────────────────────────────────────

  typeExpr(n: CstNode | undefined, at: Span): TypeExpr {
    if (!n) return { kind: "errorType", span: pointAt(at) };
    const span = nodeSpan(this.ctx, n, at);
    const nameTok = childToken(n, "name");
    if (!nameTok) {
      if (!childToken(n, "LParen")) return { kind: "errorType", span };
      const elements = childNodes(n, "elements").map((e) => this.typeExpr(e, span));
      const trailing = childToken(n, "tupleTrailingComma") !== undefined;
      if (elements.length === 1 && !trailing) return elements[0]!;
      if (elements.length < 2) {
        report(this.ctx, () => makeDiagnostic("IV1034", span));
        return { kind: "errorType", span };
      }
      return { kind: "tupleType", elements, span };
    }
    const name = identifier(this.ctx, nameTok, span);
    if (!childToken(n, "LBracket")) return { kind: "namedType", name, args: [], span };
    const trailing = childToken(n, "trailingComma");
    const argNodes = childNodes(n, "args");
    if (isTensorDType(name.name)) {
      if (trailing) this.trailingComma(trailing, "in a tensor type", span);
      return this.tensorType(name.name, name.span, argNodes, span);
    }
    if (name.name === "list") {
      const args = argNodes.map((a) =>
        this.exprToType(this.expression(childNode(a, "expression"), span), nodeSpan(this.ctx, a, span)),
      );
      return { kind: "namedType", name, args, span } satisfies NamedType;
    }
    const suggestion = TENSOR_SUGGESTIONS[name.name] ?? closest(name.name, ["f32", "i32", "bool", "list"]);
    report(this.ctx, () =>
      makeDiagnostic("IV1031", span, { name: name.name, suggestion: suggestion ? `; did you mean \`${suggestion}[...]\`?` : "" }),
    );
    return { kind: "errorType", span };
  }

  private tensorType(dtype: TensorDType, dtypeSpan: Span, argNodes: readonly CstNode[], span: Span): TypeExpr {
    let leadingEllipsis: Span | undefined;
    const dims: Expr[] = [];
    argNodes.forEach((a, i) => {
      const argSpan = nodeSpan(this.ctx, a, span);
      if (childToken(a, "Ellipsis")) {
        if (i === 0) leadingEllipsis = argSpan;
        else report(this.ctx, () => makeDiagnostic("IV1025", argSpan));
        return;
      }
      const dim = this.expression(childNode(a, "expression"), argSpan);
      this.checkDim(dim);
      dims.push(dim);
    });
    return { kind: "tensorType", dtype, dtypeSpan, ...(leadingEllipsis ? { leadingEllipsis } : {}), dims, span };
  }

  /** Dims are integer arithmetic on names; literals of other kinds are certainly wrong. */
  private checkDim(dim: Expr): void {
    const what: Partial<Record<Expr["kind"], string>> = {
      string: "a string",
      float: "a float",
      bool: "a boolean",
      list: "a list",
      tuple: "a tuple",
    };
    const bad = what[dim.kind];
    if (bad) report(this.ctx, () => makeDiagnostic("IV1032", dim.span, { what: bad }));
  }

  /** Type arguments of `list[...]` are parsed as expressions; read them back as types. */
  private exprToType(e: Expr, at: Span): TypeExpr {
    if (e.kind === "name")
      return { kind: "namedType", name: { kind: "identifier", name: e.name, span: e.span }, args: [], span: e.span };
    if (e.kind === "index" && e.object.kind === "name") {
      const name = e.object.name;
      if (isTensorDType(name)) {
        const items = e.indices;
        const leading = items[0]?.kind === "ellipsis" ? items[0].span : undefined;
        const dims = items.filter((d, i) => !(i === 0 && d.kind === "ellipsis")) as Expr[];
        return {
          kind: "tensorType",
          dtype: name,
          dtypeSpan: e.object.span,
          ...(leading ? { leadingEllipsis: leading } : {}),
          dims,
          span: e.span,
        };
      }
      if (name === "list") {
        const args = e.indices.map((i) =>
          i.kind === "slice" || i.kind === "ellipsis" ? this.badType(i.span) : this.exprToType(i, i.span),
        );
        return { kind: "namedType", name: { kind: "identifier", name, span: e.object.span }, args, span: e.span };
      }
    }
    if (e.kind === "tuple" && e.elements.length >= 2) {
      return { kind: "tupleType", elements: e.elements.map((x) => this.exprToType(x, x.span)), span: e.span };
    }
    return this.badType(e.kind === "error" ? at : e.span);
  }

  private badType(span: Span): TypeExpr {
    report(this.ctx, () => makeDiagnostic("IV1018", span, { found: "an expression" }));
    return { kind: "errorType", span };
  }
}

const TENSOR_SUGGESTIONS: Record<string, string> = {
  float: "f32",
  f16: "f32",
  f64: "f32",
  bf16: "f32",
  int: "i32",
  i64: "i32",
  u8: "i32",
};

export function isTensorDType(name: string): name is TensorDType {
  return name === "f32" || name === "i32" || name === "bool";
}

const ESCAPES: Record<string, string> = { n: "\n", t: "\t", '"': '"', "\\": "\\" };

/** The value of a string token; unknown escapes (already reported by the lexer) keep their character. */
export function decodeString(image: string): string {
  const terminated = /^"(?:[^"\\\n\r]|\\[^\n\r])*"$/.test(image);
  const body = terminated ? image.slice(1, -1) : image.slice(1);
  return body.replace(/\\(.)/g, (_m, c: string) => ESCAPES[c] ?? c);
}
