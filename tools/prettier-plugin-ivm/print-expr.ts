/**
 * Expressions, types and patterns. The AST keeps no parentheses, so they are put back from the
 * precedence table of docs/language.md section 5: a child is wrapped exactly when printing it bare
 * would parse differently. Binary chains break after the operator, never before it, because a line
 * that starts with `@name` is an annotation (docs/language.md section 1.1).
 */
import { doc, type Doc } from "prettier";
import type { Argument, DottedPath, Expr, IndexItem, Pattern, TypeExpr } from "../../grammar/ast.ts";
import { PrinterBase } from "./print-base.ts";

const { group, indent, line } = doc.builders;

const BINARY_PRECEDENCE: Readonly<Record<string, number>> = {
  or: 1,
  and: 2,
  "<": 4,
  "<=": 4,
  ">": 4,
  ">=": 4,
  "==": 4,
  "!=": 4,
  "+": 5,
  "-": 5,
  "*": 6,
  "/": 6,
  "%": 6,
  "@": 6,
  "**": 8,
};
const NOT = 3;
const PREFIX = 7;
const POSTFIX = 10;

const KIND: Readonly<Record<string, string>> = { "+": "+", "-": "+", "*": "*", "/": "*", "%": "%", "@": "@", and: "and", or: "or" };

function sameKind(a: string, b: string): boolean {
  return KIND[a] !== undefined && KIND[a] === KIND[b];
}

function precedence(e: Expr): number {
  if (e.kind === "binary") return BINARY_PRECEDENCE[e.op]!;
  if (e.kind === "unary") return e.op === "not" ? NOT : PREFIX;
  if (e.kind === "range") return 0;
  return POSTFIX;
}

export class ExprPrinter extends PrinterBase {
  expr(e: Expr): Doc {
    return this.node(e.span, () => this.exprBody(e));
  }

  private wrapped(e: Expr, parens: boolean): Doc {
    if (!parens) return this.expr(e);
    return ["(", this.expr(e), ")"];
  }

  private exprBody(e: Expr): Doc {
    switch (e.kind) {
      case "int":
      case "float":
        return e.raw;
      case "string":
        return this.source(e.span);
      case "bool":
        return e.value ? "true" : "false";
      case "name":
        return e.name;
      case "member":
        return [this.wrapped(e.object, precedence(e.object) < POSTFIX), ".", e.property.name];
      case "call":
        return [this.wrapped(e.callee, precedence(e.callee) < POSTFIX), this.args(e.args, this.after(e.callee.span.endOffset))];
      case "index":
        return [
          this.wrapped(e.object, precedence(e.object) < POSTFIX),
          this.list("[", this.after(e.object.span.endOffset), e.indices, (i) => this.indexItem(i), "]", { trailingComma: false }),
        ];
      case "binary":
        return this.binary(e);
      case "unary": {
        const operand = e.operand;
        // `- -a` would read as a typo and `-a ** 2` as `(-a) ** 2`; `-(-a)`, `-(a ** 2)` are the same trees.
        // Likewise `not (a > b)` keeps its parentheses, though `not a > b` parses the same.
        const nested =
          e.op === "not" ? operand.kind === "binary" : (operand.kind === "unary" && operand.op !== "not") || (operand.kind === "binary" && operand.op === "**");
        const parens = precedence(operand) < (e.op === "not" ? NOT : PREFIX) || nested;
        return [e.op === "not" ? "not " : e.op, this.wrapped(operand, parens)];
      }
      case "list":
        return this.list("[", e.span.offset, e.elements, (x) => this.expr(x), "]", { trailingComma: true });
      case "tuple":
        if (e.elements.length === 1) {
          const only = e.elements[0]!;
          return ["(", this.expr(only), ",", ...this.trailing(e.span.endOffset - 1), ")"];
        }
        return this.list("(", e.span.offset, e.elements, (x) => this.expr(x), ")", { trailingComma: true });
      case "range":
        return [this.expr(e.start), "..", this.expr(e.end)];
      case "error":
        throw new Error("cannot format a file with syntax errors");
    }
  }

  /** `a + b + c` as one group that breaks after each operator of the same level. */
  private binary(e: Extract<Expr, { kind: "binary" }>): Doc {
    const level = BINARY_PRECEDENCE[e.op]!;
    const rightAssoc = e.op === "**";
    const operands: Expr[] = [e.right];
    const ops: string[] = [e.op];
    let left = e.left;
    // Flatten a left-associative chain of one kind: ((a + b) - c) + d. Like prettier, `%` and `@`
    // next to other operators of their level keep their parentheses, which cost nothing in the tree.
    while (!rightAssoc && left.kind === "binary" && sameKind(left.op, e.op)) {
      operands.unshift(left.right);
      ops.unshift(left.op);
      left = left.left;
    }
    const first = this.wrapped(left, rightAssoc ? precedence(left) <= level : precedence(left) <= level);
    // `a ** -b` reads as `a ** (-b)` (docs/language.md section 5): no parentheses needed there.
    const rightParens = (o: Expr) => (rightAssoc ? precedence(o) < level && !(o.kind === "unary" && o.op !== "not") : precedence(o) <= level);
    // A comment after an operand or operator ends the line the chain breaks there.
    const rest: Doc[] = operands.map((o, i) => [` ${ops[i]}`, ...this.beforeBreak(o.span.offset), line, this.wrapped(o, rightParens(o))]);
    return group([first, indent(rest)]);
  }

  private indexItem(i: IndexItem): Doc {
    if (i.kind === "ellipsis") return "...";
    if (i.kind !== "slice") return this.expr(i);
    const parts: Doc[] = [i.start ? this.expr(i.start) : "", ":", i.stop ? this.expr(i.stop) : ""];
    if (i.step) parts.push(":", this.expr(i.step));
    return parts;
  }

  protected args(args: readonly Argument[], openAt: number): Doc {
    return this.list("(", openAt, args, (a) => this.argument(a), ")", { trailingComma: true });
  }

  private argument(a: Argument): Doc {
    if (!a.name) return this.expr(a.value);
    return [a.name.name, " = ", this.expr(a.value)];
  }

  type(t: TypeExpr): Doc {
    return this.node(t.span, () => {
      switch (t.kind) {
        case "tensorType": {
          const openAt = this.after(t.dtypeSpan.endOffset);
          const items: { span: typeof t.span; ellipsis?: true; dim?: Expr }[] = [];
          if (t.leadingEllipsis) items.push({ span: t.leadingEllipsis, ellipsis: true });
          for (const d of t.dims) items.push({ span: d.span, dim: d });
          return [t.dtype, this.list("[", openAt, items, (x) => (x.ellipsis ? "..." : this.expr(x.dim!)), "]", { trailingComma: false })];
        }
        case "namedType":
          if (t.args.length === 0 && this.text[this.after(t.name.span.endOffset)] !== "[") return t.name.name;
          return [t.name.name, this.list("[", this.after(t.name.span.endOffset), t.args, (a) => this.type(a), "]", { trailingComma: true })];
        case "tupleType":
          return this.list("(", t.span.offset, t.elements, (a) => this.type(a), ")", { trailingComma: true });
        case "errorType":
          throw new Error("cannot format a file with syntax errors");
      }
    });
  }

  pattern(p: Pattern): Doc {
    return this.node(p.span, () =>
      p.kind === "namePattern" ? p.name.name : this.list("(", p.span.offset, p.elements, (x) => this.pattern(x), ")", { trailingComma: true }),
    );
  }

  path(p: DottedPath): Doc {
    return this.node(p.span, () => p.segments.map((s) => s.text).join("."));
  }
}
