/**
 * The `.ivm` abstract syntax tree: the only thing the parser hands to the rest of the compiler.
 *
 * Every node is a plain object with a `kind` discriminant (unique across the whole tree, so a generic
 * walker can switch on it) and a `span`. Lists are never absent: an empty body is `[]`.
 *
 * When the source has syntax errors the parser still returns a tree: pieces it could not read become
 * `ErrorExpr` / `ErrorType` nodes. Passes after the parser may assume there are none when the parse
 * produced no error diagnostics.
 */
import type { Span } from "../diagnostics/span.ts";
import type { Argument, EllipsisItem, Expr, SliceItem, TypeExpr } from "./ast-expr.ts";

export type { Span };
export type * from "./ast-expr.ts";

// ─── Names and paths ────────────────────────────────────────────────────────────────────────────

export interface Identifier {
  readonly kind: "identifier";
  readonly name: string;
  readonly span: Span;
}

/** One segment of a dotted path: a name, an index (`blocks.3`), or the wildcard `*`. */
export interface PathSegment {
  readonly kind: "pathSegment";
  readonly text: string;
  readonly span: Span;
}

/** `backbone`, `head.norm`, `blocks.3.attn`, `blocks.*.norm1` (freeze lists, preset keys). */
export interface DottedPath {
  readonly kind: "path";
  readonly segments: readonly PathSegment[];
  readonly span: Span;
}

// ─── Program and top-level declarations ─────────────────────────────────────────────────────────

export interface Program {
  readonly kind: "program";
  readonly file: string;
  readonly imports: readonly ImportDecl[];
  readonly decls: readonly TopDecl[];
  readonly span: Span;
}

/** `import { LayerNorm, Linear as Dense } from "std/nn"` */
export interface ImportDecl {
  readonly kind: "import";
  readonly names: readonly ImportName[];
  /** The module specifier as written, without quotes: `std/nn`, `./blocks.ivm`. */
  readonly from: string;
  readonly fromSpan: Span;
  readonly span: Span;
}

export interface ImportName {
  readonly kind: "importName";
  readonly name: Identifier;
  /** `Linear as Dense`: the local name is `alias` when present. */
  readonly alias?: Identifier;
  readonly span: Span;
}

export type TopDecl = ConfigDecl | PresetDecl | ModuleDecl | TrainStageDecl;

/** `config UniFormerV2 { frames: int = 8, ... }` */
export interface ConfigDecl {
  readonly kind: "config";
  readonly name: Identifier;
  readonly fields: readonly ConfigField[];
  readonly span: Span;
}

/** `frames: int = 8`, `return_list: list[int] = [8, 9, 10, 11]`, `mae: VideoMAEConfig` */
export interface ConfigField {
  readonly kind: "configField";
  readonly name: Identifier;
  readonly type: TypeExpr;
  readonly default?: Expr;
  readonly span: Span;
}

/** `preset tiny: UniFormerV2 { size = 32, width = 64 }`; `base` names a config or another preset. */
export interface PresetDecl {
  readonly kind: "preset";
  readonly name: Identifier;
  readonly base: Identifier;
  readonly overrides: readonly PresetOverride[];
  readonly span: Span;
}

/** `size = 32`, or `mae.width = 64` for a nested config. */
export interface PresetOverride {
  readonly kind: "presetOverride";
  readonly key: DottedPath;
  readonly value: Expr;
  readonly span: Span;
}

/** `module Name(dim: int, ratio: float = 1.5) { ... }` or `model Net(cfg: Config) { ... }`. */
export interface ModuleDecl {
  readonly kind: "module";
  readonly role: "module" | "model";
  readonly name: Identifier;
  readonly params: readonly Parameter[];
  readonly members: readonly Member[];
  readonly span: Span;
}

/** A module parameter (`ratio: float = 1.5`) or a forward input (`x: f32[B, N, C]`). */
export interface Parameter {
  readonly kind: "parameter";
  readonly name: Identifier;
  readonly type: TypeExpr;
  readonly default?: Expr;
  readonly span: Span;
}

// ─── Module members ─────────────────────────────────────────────────────────────────────────────

export type Member = LetMember | SubmoduleMember | TensorMember | IfMember | ForMember | ForwardMember;

/** `let hidden = floor(dim / ratio)`: a compile-time value. */
export interface LetMember {
  readonly kind: "letMember";
  readonly name: Identifier;
  readonly value: Expr;
  readonly span: Span;
}

/** Where a member is stored: `norm`, or `blocks[i]` inside a `for` member loop. */
export interface MemberTarget {
  readonly kind: "memberTarget";
  readonly name: Identifier;
  readonly index?: Expr;
  readonly span: Span;
}

/** `@frozen @init(zeros) proj = Linear(dim, dim)`; `value` is normally a call. */
export interface SubmoduleMember {
  readonly kind: "submodule";
  readonly annotations: readonly Annotation[];
  readonly target: MemberTarget;
  readonly value: Expr;
  readonly span: Span;
}

/** `param weight: f32[o, i] @init(xavier_uniform)` / `buffer mean: f32[dim] @init(zeros)`. */
export interface TensorMember {
  readonly kind: "tensorMember";
  readonly role: "param" | "buffer";
  /** Annotations written before and after the declaration, in source order. */
  readonly annotations: readonly Annotation[];
  readonly target: MemberTarget;
  readonly type: TypeExpr;
  readonly span: Span;
}

/** `if qkv_bias { ... } else { ... }`; an `else if` is an `IfMember` as the only else member. */
export interface IfMember {
  readonly kind: "ifMember";
  readonly condition: Expr;
  readonly then: readonly Member[];
  readonly else: readonly Member[];
  /** True when an `else` clause was written (possibly empty). */
  readonly hasElse: boolean;
  readonly span: Span;
}

/** `for i in 0..layers { blocks[i] = Block(width) }` */
export interface ForMember {
  readonly kind: "forMember";
  readonly variable: Identifier;
  readonly iterable: Expr;
  readonly body: readonly Member[];
  readonly span: Span;
}

/**
 * `forward(x: f32[B, N, C]) -> f32[B, N, C] { ... }`. The expression form `-> T = expr` is stored
 * as a body holding one `return`, with `expressionBody` set.
 */
export interface ForwardMember {
  readonly kind: "forward";
  /** `forward encode_text(...)`: a named entry point; the default forward has none. */
  readonly name?: Identifier;
  readonly params: readonly Parameter[];
  readonly returnType: TypeExpr;
  readonly body: readonly Statement[];
  readonly expressionBody: boolean;
  readonly span: Span;
}

/** `@frozen`, `@init(zeros)`, `@init(trunc_normal(std=0.02))`; `args` is absent without parentheses. */
export interface Annotation {
  readonly kind: "annotation";
  readonly name: Identifier;
  readonly args?: readonly Argument[];
  readonly span: Span;
}

// ─── Forward statements ─────────────────────────────────────────────────────────────────────────

export type Statement = LetStmt | AssignStmt | IfStmt | ForStmt | ReturnStmt;

export type Pattern = NamePattern | TuplePattern;

export interface NamePattern {
  readonly kind: "namePattern";
  readonly name: Identifier;
  readonly span: Span;
}

/** `(q, k, v)` in `let (q, k, v) = split(qkv, 3, axis=-1)` */
export interface TuplePattern {
  readonly kind: "tuplePattern";
  readonly elements: readonly Pattern[];
  readonly span: Span;
}

export interface LetStmt {
  readonly kind: "let";
  readonly pattern: Pattern;
  readonly value: Expr;
  readonly span: Span;
}

/** `x = x + attn(norm1(x))`: rebinds an existing name. */
export interface AssignStmt {
  readonly kind: "assign";
  readonly target: Identifier;
  readonly value: Expr;
  readonly span: Span;
}

/** Compile-time `if`; an `else if` is an `IfStmt` as the only else statement. */
export interface IfStmt {
  readonly kind: "if";
  readonly condition: Expr;
  readonly then: readonly Statement[];
  readonly else: readonly Statement[];
  readonly hasElse: boolean;
  readonly span: Span;
}

/** Unrolled at compile time. */
export interface ForStmt {
  readonly kind: "for";
  readonly variable: Identifier;
  readonly iterable: Expr;
  readonly body: readonly Statement[];
  readonly span: Span;
}

export interface ReturnStmt {
  readonly kind: "return";
  readonly value: Expr;
  readonly span: Span;
}

// ─── Train stages ───────────────────────────────────────────────────────────────────────────────

/** `train stage interaction for InternVideo extends finetune { ... }` */
export interface TrainStageDecl {
  readonly kind: "trainStage";
  readonly name: Identifier;
  readonly model: Identifier;
  readonly extends?: Identifier;
  readonly items: readonly StageItem[];
  readonly span: Span;
}

export type StageItem = FreezeItem | StageCallItem | StageSettingItem;

/** `freeze backbone, head.norm` / `unfreeze blocks.11` */
export interface FreezeItem {
  readonly kind: "freeze" | "unfreeze";
  readonly paths: readonly DottedPath[];
  readonly span: Span;
}

export type StageCallKey = "data" | "loss" | "optim" | "schedule";

/** `data synthetic_motion(...)`, `loss cross_entropy(model(clip), label)`, `optim adamw(...)`, `schedule cosine(...)`. */
export interface StageCallItem {
  readonly kind: "stageCall";
  readonly key: StageCallKey;
  readonly keySpan: Span;
  readonly value: Expr;
  readonly span: Span;
}

/** Any other `name value` item: `steps 200`, `batch 4`, `ema 0.9999`. */
export interface StageSettingItem {
  readonly kind: "stageSetting";
  readonly name: Identifier;
  readonly value: Expr;
  readonly span: Span;
}

export type AstNode =
  | Program
  | ImportDecl
  | ImportName
  | TopDecl
  | ConfigField
  | PresetOverride
  | Parameter
  | Member
  | MemberTarget
  | Annotation
  | Statement
  | Pattern
  | Expr
  | Argument
  | SliceItem
  | EllipsisItem
  | TypeExpr
  | StageItem
  | Identifier
  | DottedPath
  | PathSegment;
