/**
 * Expression and type nodes of the .ivm AST (see ast.ts for the conventions); import them from
 * ast.ts, which re-exports this file.
 */
import type { Span } from "../diagnostics/span.ts";
import type { Identifier } from "./ast.ts";

// ─── Expressions ────────────────────────────────────────────────────────────────────────────────

export type Expr =
  | IntLiteral
  | FloatLiteral
  | StringLiteral
  | BoolLiteral
  | NameExpr
  | MemberExpr
  | CallExpr
  | IndexExpr
  | BinaryExpr
  | UnaryExpr
  | ListExpr
  | TupleExpr
  | RangeExpr
  | ErrorExpr;

export interface IntLiteral {
  readonly kind: "int";
  readonly value: number;
  readonly raw: string;
  readonly span: Span;
}

export interface FloatLiteral {
  readonly kind: "float";
  readonly value: number;
  readonly raw: string;
  readonly span: Span;
}

/** `value` has its escapes decoded. */
export interface StringLiteral {
  readonly kind: "string";
  readonly value: string;
  readonly span: Span;
}

export interface BoolLiteral {
  readonly kind: "bool";
  readonly value: boolean;
  readonly span: Span;
}

export interface NameExpr {
  readonly kind: "name";
  readonly name: string;
  readonly span: Span;
}

/** `cfg.width` */
export interface MemberExpr {
  readonly kind: "member";
  readonly object: Expr;
  readonly property: Identifier;
  readonly span: Span;
}

/** `softmax(x, axis=-1)`, `blocks[i](x)`; keyword arguments follow positional ones. */
export interface CallExpr {
  readonly kind: "call";
  readonly callee: Expr;
  readonly args: readonly Argument[];
  readonly span: Span;
}

/** A positional (`x`) or keyword (`axis = -1`) argument. */
export interface Argument {
  readonly kind: "argument";
  readonly name?: Identifier;
  readonly value: Expr;
  readonly span: Span;
}

/** `x[:, 0]`, `x[..., :dim]`, `x[:, ::2]`, `blocks[i]` */
export interface IndexExpr {
  readonly kind: "index";
  readonly object: Expr;
  readonly indices: readonly IndexItem[];
  readonly span: Span;
}

export type IndexItem = Expr | SliceItem | EllipsisItem;

/** `start:stop:step`, each part optional: `:`, `1:`, `:dim`, `::2`. */
export interface SliceItem {
  readonly kind: "slice";
  readonly start?: Expr;
  readonly stop?: Expr;
  readonly step?: Expr;
  readonly span: Span;
}

/** `...` in an index: all the axes not otherwise named. */
export interface EllipsisItem {
  readonly kind: "ellipsis";
  readonly span: Span;
}

export type BinaryOperator = "+" | "-" | "*" | "/" | "%" | "@" | "**" | "<" | "<=" | ">" | ">=" | "==" | "!=" | "and" | "or";

export interface BinaryExpr {
  readonly kind: "binary";
  readonly op: BinaryOperator;
  readonly left: Expr;
  readonly right: Expr;
  readonly opSpan: Span;
  readonly span: Span;
}

export type UnaryOperator = "-" | "+" | "not";

export interface UnaryExpr {
  readonly kind: "unary";
  readonly op: UnaryOperator;
  readonly operand: Expr;
  readonly span: Span;
}

export interface ListExpr {
  readonly kind: "list";
  readonly elements: readonly Expr[];
  readonly span: Span;
}

/** `(a, b)`; a parenthesised single expression is that expression, `(a,)` is a one-tuple. */
export interface TupleExpr {
  readonly kind: "tuple";
  readonly elements: readonly Expr[];
  readonly span: Span;
}

/** `0..layers`: half-open integer range; only written as the iterable of a `for`. */
export interface RangeExpr {
  readonly kind: "range";
  readonly start: Expr;
  readonly end: Expr;
  readonly span: Span;
}

/** Stands where the parser could not read an expression; a syntax diagnostic covers it. */
export interface ErrorExpr {
  readonly kind: "error";
  readonly span: Span;
}

// ─── Types ──────────────────────────────────────────────────────────────────────────────────────

export type TypeExpr = TensorType | NamedType | TupleType | ErrorType;

export type TensorDType = "f32" | "i32" | "bool";

/** `f32[B, T*H*W, dim]`, `f32[..., in_dim]`, `bool[B, N]`; dims are integer/name arithmetic. */
export interface TensorType {
  readonly kind: "tensorType";
  readonly dtype: TensorDType;
  readonly dtypeSpan: Span;
  /** Present when the dims begin with `...` (any leading dims). */
  readonly leadingEllipsis?: Span;
  readonly dims: readonly Expr[];
  readonly span: Span;
}

/** `int`, `float`, `bool`, `string`, `list[int]`, or a config name (`VideoMAEConfig`). */
export interface NamedType {
  readonly kind: "namedType";
  readonly name: Identifier;
  readonly args: readonly TypeExpr[];
  readonly span: Span;
}

/** `(f32[B, N, C], f32[B, C])` as a forward result. */
export interface TupleType {
  readonly kind: "tupleType";
  readonly elements: readonly TypeExpr[];
  readonly span: Span;
}

export interface ErrorType {
  readonly kind: "errorType";
  readonly span: Span;
}
