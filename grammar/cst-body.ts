/** CST to AST for module members and forward statements. */
import type { CstNode } from "chevrotain";
import { makeDiagnostic } from "../diagnostics/diagnostic.ts";
import type { Span } from "../diagnostics/span.ts";
import type {
  Annotation,
  BinaryOperator,
  Expr,
  ForwardMember,
  Member,
  MemberTarget,
  Parameter,
  Pattern,
  Statement,
} from "./ast.ts";
import { checkAnnotations } from "./annotations.ts";
import { ExprBuilder } from "./cst-expr.ts";
import { childNode, childNodes, childToken, identifier, nodeSpan, report, tokSpan, type BuildContext } from "./cst-util.ts";

export class BodyBuilder {
  readonly expr: ExprBuilder;

  constructor(private readonly ctx: BuildContext) {
    this.expr = new ExprBuilder(ctx);
  }

  params(n: CstNode | undefined, at: Span): Parameter[] {
    return childNodes(n, "parameter").map((p) => {
      const span = nodeSpan(this.ctx, p, at);
      const def = childNode(p, "default");
      return {
        kind: "parameter",
        name: identifier(this.ctx, childToken(p, "name"), span),
        type: this.expr.typeExpr(childNode(p, "typeExpr"), span),
        ...(def ? { default: this.expr.expression(def, span) } : {}),
        span,
      };
    });
  }

  members(nodes: readonly CstNode[], at: Span): Member[] {
    return nodes.map((m) => this.member(m, at)).filter((m): m is Member => m !== undefined);
  }

  private memberBody(n: CstNode | undefined, at: Span): Member[] {
    return this.members(childNodes(n, "member"), nodeSpan(this.ctx, n, at));
  }

  private member(n: CstNode, at: Span): Member | undefined {
    const span = nodeSpan(this.ctx, n, at);
    const letM = childNode(n, "letMember");
    if (letM) return this.letMember(letM, span);
    const annotated = childNode(n, "annotatedMember");
    if (annotated) return this.annotatedMember(annotated, span);
    const ifM = childNode(n, "ifMember");
    if (ifM) return this.ifMember(ifM, span);
    const forM = childNode(n, "forMember");
    if (forM) {
      const s = nodeSpan(this.ctx, forM, span);
      return {
        kind: "forMember",
        variable: identifier(this.ctx, childToken(forM, "variable"), s),
        iterable: this.iterable(childNode(forM, "forIterable"), s),
        body: this.memberBody(childNode(forM, "memberBody"), s),
        span: s,
      };
    }
    const fwd = childNode(n, "forwardMember");
    if (fwd) return this.forward(fwd, span);
    return undefined;
  }

  private letMember(n: CstNode, at: Span): Member {
    const span = nodeSpan(this.ctx, n, at);
    const pattern = this.pattern(childNode(n, "pattern"), span);
    if (pattern.kind !== "namePattern") report(this.ctx, () => makeDiagnostic("IV1029", pattern.span));
    const name = pattern.kind === "namePattern" ? pattern.name : identifier(this.ctx, undefined, pattern.span);
    return { kind: "letMember", name, value: this.expr.expression(childNode(n, "expression"), span), span };
  }

  private annotations(nodes: readonly CstNode[], at: Span): Annotation[] {
    return nodes.map((a) => {
      const span = nodeSpan(this.ctx, a, at);
      const hasArgs = childToken(a, "LParen") !== undefined;
      return {
        kind: "annotation",
        name: identifier(this.ctx, childToken(a, "name"), span),
        ...(hasArgs ? { args: this.expr.callArgs(childNode(a, "callArgs"), span) } : {}),
        span,
      };
    });
  }

  private target(n: CstNode | undefined, at: Span): MemberTarget {
    const span = nodeSpan(this.ctx, n, at);
    const index = childNode(n, "index");
    return {
      kind: "memberTarget",
      name: identifier(this.ctx, childToken(n, "name"), span),
      ...(index ? { index: this.expr.expression(index, span) } : {}),
      span,
    };
  }

  private annotatedMember(n: CstNode, at: Span): Member {
    const span = nodeSpan(this.ctx, n, at);
    const before = this.annotations(childNodes(n, "before"), span);
    const roleTok = childToken(n, "role");
    if (roleTok || childNode(n, "typeExpr")) {
      const annotations = [...before, ...this.annotations(childNodes(n, "after"), span)];
      checkAnnotations(this.ctx, annotations);
      return {
        kind: "tensorMember",
        role: roleTok?.image === "buffer" ? "buffer" : "param",
        annotations,
        target: this.target(childNode(n, "memberTarget"), span),
        type: this.expr.typeExpr(childNode(n, "typeExpr"), span),
        span,
      };
    }
    checkAnnotations(this.ctx, before);
    return {
      kind: "submodule",
      annotations: before,
      target: this.target(childNode(n, "memberTarget"), span),
      value: this.expr.expression(childNode(n, "expression"), span),
      span,
    };
  }

  private ifMember(n: CstNode, at: Span): Member {
    const span = nodeSpan(this.ctx, n, at);
    const elseIf = childNode(n, "elseIf");
    const elseBody = childNode(n, "else");
    return {
      kind: "ifMember",
      condition: this.expr.expression(childNode(n, "condition"), span),
      then: this.memberBody(childNode(n, "then"), span),
      else: elseIf ? [this.ifMember(elseIf, span)] : elseBody ? this.memberBody(elseBody, span) : [],
      hasElse: childToken(n, "Kw_else") !== undefined,
      span,
    };
  }

  /** `a..b` becomes a RangeExpr; anything else is the iterable expression itself. */
  private iterable(n: CstNode | undefined, at: Span): Expr {
    const span = nodeSpan(this.ctx, n, at);
    const start = this.expr.expression(childNode(n, "start"), span);
    if (!childToken(n, "DotDot")) return start;
    return { kind: "range", start, end: this.expr.expression(childNode(n, "end"), span), span };
  }

  private forward(n: CstNode, at: Span): ForwardMember {
    const span = nodeSpan(this.ctx, n, at);
    const nameTok = childToken(n, "name");
    const bodyExpr = childNode(n, "bodyExpr");
    const body: Statement[] = bodyExpr
      ? [{ kind: "return", value: this.expr.expression(bodyExpr, span), span: nodeSpan(this.ctx, bodyExpr, span) }]
      : this.block(childNode(n, "block"), span);
    return {
      kind: "forward",
      ...(nameTok ? { name: identifier(this.ctx, nameTok, span) } : {}),
      params: this.params(childNode(n, "paramList"), span),
      returnType: this.expr.typeExpr(childNode(n, "returnType"), span),
      body,
      expressionBody: bodyExpr !== undefined,
      span,
    };
  }

  // ─── Statements ───────────────────────────────────────────────────────────────────────────────

  block(n: CstNode | undefined, at: Span): Statement[] {
    const span = nodeSpan(this.ctx, n, at);
    return childNodes(n, "statement")
      .map((s) => this.statement(s, span))
      .filter((s): s is Statement => s !== undefined);
  }

  private pattern(n: CstNode | undefined, at: Span): Pattern {
    const span = nodeSpan(this.ctx, n, at);
    const name = childToken(n, "name");
    if (name || !childToken(n, "LParen")) return { kind: "namePattern", name: identifier(this.ctx, name, span), span };
    return { kind: "tuplePattern", elements: childNodes(n, "elements").map((e) => this.pattern(e, span)), span };
  }

  private statement(n: CstNode, at: Span): Statement | undefined {
    const span = nodeSpan(this.ctx, n, at);
    const letS = childNode(n, "letStmt");
    if (letS) {
      const s = nodeSpan(this.ctx, letS, span);
      return {
        kind: "let",
        pattern: this.pattern(childNode(letS, "pattern"), s),
        value: this.expr.expression(childNode(letS, "expression"), s),
        span: s,
      };
    }
    const ifS = childNode(n, "ifStmt");
    if (ifS) return this.ifStmt(ifS, span);
    const forS = childNode(n, "forStmt");
    if (forS) {
      const s = nodeSpan(this.ctx, forS, span);
      return {
        kind: "for",
        variable: identifier(this.ctx, childToken(forS, "variable"), s),
        iterable: this.iterable(childNode(forS, "forIterable"), s),
        body: this.block(childNode(forS, "block"), s),
        span: s,
      };
    }
    const ret = childNode(n, "returnStmt");
    if (ret) {
      const s = nodeSpan(this.ctx, ret, span);
      return { kind: "return", value: this.expr.expression(childNode(ret, "expression"), s), span: s };
    }
    const exprS = childNode(n, "exprStmt");
    return exprS ? this.exprStmt(exprS, span) : undefined;
  }

  private ifStmt(n: CstNode, at: Span): Statement {
    const span = nodeSpan(this.ctx, n, at);
    const elseIf = childNode(n, "elseIf");
    const elseBody = childNode(n, "else");
    return {
      kind: "if",
      condition: this.expr.expression(childNode(n, "condition"), span),
      then: this.block(childNode(n, "then"), span),
      else: elseIf ? [this.ifStmt(elseIf, span)] : elseBody ? this.block(elseBody, span) : [],
      hasElse: childToken(n, "Kw_else") !== undefined,
      span,
    };
  }

  private exprStmt(n: CstNode, at: Span): Statement | undefined {
    const span = nodeSpan(this.ctx, n, at);
    const target = this.expr.expression(childNode(n, "target"), span);
    const valueNode = childNode(n, "value");
    const assign = childToken(n, "Assign");
    const compound = childToken(n, "CompoundAssign");
    if (!assign && !compound) {
      if (target.kind !== "error") report(this.ctx, () => makeDiagnostic("IV1027", target.span));
      return undefined;
    }
    let value = this.expr.expression(valueNode, span);
    if (target.kind !== "name") {
      if (target.kind !== "error") report(this.ctx, () => makeDiagnostic("IV1026", target.span));
      return undefined;
    }
    if (compound) {
      const op = compound.image.slice(0, -1) as BinaryOperator;
      const opSpan = tokSpan(this.ctx, compound, span);
      report(this.ctx, () => makeDiagnostic("IV1028", opSpan, { op, name: target.name }));
      value = { kind: "binary", op, left: target, right: value, opSpan, span };
    }
    return { kind: "assign", target: { kind: "identifier", name: target.name, span: target.span }, value, span };
  }
}
