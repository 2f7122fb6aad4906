/**
 * Token types of the .ivm lexer. Hard keywords can never be names; contextual keywords (`model`,
 * `data`, `loss`, `freeze`, ...) are keywords only where the grammar expects them and names
 * everywhere else, because they are tokens in the `Identifier` category.
 */
import { createToken, Lexer, type TokenType } from "chevrotain";

export const WhiteSpace = createToken({ name: "WhiteSpace", pattern: /[ \t\r\n\f\v\uFEFF]+/, group: Lexer.SKIPPED });
export const LineComment = createToken({ name: "LineComment", pattern: /\/\/[^\n\r]*/, group: Lexer.SKIPPED });
export const BlockComment = createToken({ name: "BlockComment", pattern: /\/\*[\s\S]*?\*\//, group: Lexer.SKIPPED });
/** Reported and dropped by the lexer wrapper. */
export const UnterminatedBlockComment = createToken({ name: "UnterminatedBlockComment", pattern: /\/\*[\s\S]*/ });

export const StringLit = createToken({ name: "StringLit", pattern: /"(?:[^"\\\n\r]|\\[^\n\r])*"/ });
/** Reported and turned into a StringLit by the lexer wrapper, so that parsing goes on. */
export const UnterminatedString = createToken({ name: "UnterminatedString", pattern: /"(?:[^"\\\n\r]|\\[^\n\r])*\\?/ });
export const FloatLit = createToken({ name: "FloatLit", pattern: /\d+\.\d+(?:[eE][+-]?\d+)?|\d+[eE][+-]?\d+/ });
export const IntLit = createToken({ name: "IntLit", pattern: /\d+/ });

export const Identifier = createToken({ name: "Identifier", pattern: /[A-Za-z_][A-Za-z0-9_]*/ });

/** All binary operators share this category; the parser consumes it and folds precedence later. */
export const BinaryOp = createToken({ name: "BinaryOp", pattern: Lexer.NA });

function hardKeyword(word: string, categories: TokenType[] = []): TokenType {
  return createToken({ name: `Kw_${word}`, pattern: new RegExp(word), longer_alt: Identifier, categories });
}
function contextualKeyword(word: string): TokenType {
  return createToken({ name: `Ckw_${word}`, pattern: new RegExp(word), longer_alt: Identifier, categories: [Identifier] });
}

export const Import = hardKeyword("import");
export const Module = hardKeyword("module");
export const Forward = hardKeyword("forward");
export const Let = hardKeyword("let");
export const Return = hardKeyword("return");
export const If = hardKeyword("if");
export const Else = hardKeyword("else");
export const For = hardKeyword("for");
export const In = hardKeyword("in");
export const Param = hardKeyword("param");
export const Buffer = hardKeyword("buffer");
export const True = hardKeyword("true");
export const False = hardKeyword("false");
export const And = hardKeyword("and", [BinaryOp]);
export const Or = hardKeyword("or", [BinaryOp]);
export const Not = hardKeyword("not");

export const From = contextualKeyword("from");
export const As = contextualKeyword("as");
export const Config = contextualKeyword("config");
export const Preset = contextualKeyword("preset");
export const Model = contextualKeyword("model");
export const Train = contextualKeyword("train");
export const Stage = contextualKeyword("stage");
export const Extends = contextualKeyword("extends");
export const Freeze = contextualKeyword("freeze");
export const Unfreeze = contextualKeyword("unfreeze");

const binary = (name: string, pattern: RegExp) => createToken({ name, pattern, categories: [BinaryOp] });

export const CompoundAssign = createToken({ name: "CompoundAssign", pattern: /(?:\*\*|[+\-*/%@])=/ });
export const Arrow = createToken({ name: "Arrow", pattern: /->/ });
export const Ellipsis = createToken({ name: "Ellipsis", pattern: /\.\.\./ });
export const DotDot = createToken({ name: "DotDot", pattern: /\.\./ });
export const Dot = createToken({ name: "Dot", pattern: /\./ });
export const Power = binary("Power", /\*\*/);
export const Star = binary("Star", /\*/);
export const Slash = binary("Slash", /\//);
export const Percent = binary("Percent", /%/);
export const Plus = binary("Plus", /\+/);
export const Minus = binary("Minus", /-/);
export const At = binary("At", /@/);
export const LessEq = binary("LessEq", /<=/);
export const GreaterEq = binary("GreaterEq", />=/);
export const EqEq = binary("EqEq", /==/);
export const NotEq = binary("NotEq", /!=/);
export const Less = binary("Less", /</);
export const Greater = binary("Greater", />/);
export const Assign = createToken({ name: "Assign", pattern: /=/ });
export const Colon = createToken({ name: "Colon", pattern: /:/ });
export const Comma = createToken({ name: "Comma", pattern: /,/ });
export const Semicolon = createToken({ name: "Semicolon", pattern: /;/ });
export const LParen = createToken({ name: "LParen", pattern: /\(/ });
export const RParen = createToken({ name: "RParen", pattern: /\)/ });
export const LBracket = createToken({ name: "LBracket", pattern: /\[/ });
export const RBracket = createToken({ name: "RBracket", pattern: /\]/ });
export const LBrace = createToken({ name: "LBrace", pattern: /\{/ });
export const RBrace = createToken({ name: "RBrace", pattern: /\}/ });

export const KEYWORD_TOKENS: readonly TokenType[] = [
  Import,
  Module,
  Forward,
  Let,
  Return,
  If,
  Else,
  For,
  In,
  Param,
  Buffer,
  True,
  False,
  And,
  Or,
  Not,
  From,
  As,
  Config,
  Preset,
  Model,
  Train,
  Stage,
  Extends,
  Freeze,
  Unfreeze,
];

/**
 * A run of ASCII characters that start no token (`#`, `$`, `'`, control characters, ...). Without it
 * chevrotain reports each such character as its own lexing error, which is slow on binary junk;
 * lexer.ts reports the run once. Other unknown characters (non-ASCII) still arrive as lexing errors.
 */
export const BadRun = createToken({ name: "BadRun", pattern: /[!#$&'?\\^`|~\x00-\x08\x0e-\x1f\x7f]+/ });

export const ALL_TOKENS: readonly TokenType[] = [
  WhiteSpace,
  LineComment,
  BlockComment,
  UnterminatedBlockComment,
  StringLit,
  UnterminatedString,
  FloatLit,
  IntLit,
  ...KEYWORD_TOKENS,
  Identifier,
  CompoundAssign,
  Arrow,
  Ellipsis,
  DotDot,
  Dot,
  Power,
  Star,
  Slash,
  Percent,
  Plus,
  Minus,
  At,
  LessEq,
  GreaterEq,
  EqEq,
  NotEq,
  Less,
  Greater,
  Assign,
  Colon,
  Comma,
  Semicolon,
  LParen,
  RParen,
  LBracket,
  RBracket,
  LBrace,
  RBrace,
  BinaryOp,
  BadRun,
];

/** Parser-facing vocabulary (no skipped or lexer-internal tokens). */
export const PARSER_TOKENS: readonly TokenType[] = ALL_TOKENS.filter(
  (t) =>
    t !== WhiteSpace &&
    t !== LineComment &&
    t !== BlockComment &&
    t !== UnterminatedBlockComment &&
    t !== UnterminatedString &&
    t !== BadRun,
);

export const OPENERS = new Map<TokenType, TokenType>([
  [LParen, RParen],
  [LBracket, RBracket],
  [LBrace, RBrace],
]);
export const CLOSERS = new Map<TokenType, TokenType>([
  [RParen, LParen],
  [RBracket, LBracket],
  [RBrace, LBrace],
]);

const SPELLING: Record<string, string> = {
  CompoundAssign: "a compound assignment",
  Arrow: "`->`",
  Ellipsis: "`...`",
  DotDot: "`..`",
  Dot: "`.`",
  Power: "`**`",
  Star: "`*`",
  Slash: "`/`",
  Percent: "`%`",
  Plus: "`+`",
  Minus: "`-`",
  At: "`@`",
  LessEq: "`<=`",
  GreaterEq: "`>=`",
  EqEq: "`==`",
  NotEq: "`!=`",
  Less: "`<`",
  Greater: "`>`",
  Assign: "`=`",
  Colon: "`:`",
  Comma: "`,`",
  Semicolon: "`;`",
  LParen: "`(`",
  RParen: "`)`",
  LBracket: "`[`",
  RBracket: "`]`",
  LBrace: "`{`",
  RBrace: "`}`",
  BinaryOp: "an operator",
  Identifier: "a name",
  IntLit: "an integer",
  FloatLit: "a number",
  StringLit: "a string",
  EOF: "end of file",
};

/** How an expected token type reads in a message: "`}`", "a name", "`forward`". */
export function describeTokenType(t: TokenType): string {
  if (SPELLING[t.name]) return SPELLING[t.name]!;
  const kw = /^C?kw_(.*)$/i.exec(t.name);
  if (kw) return `\`${kw[1]}\``;
  return t.name;
}

/** The bare spelling of a punctuation token type, e.g. "}" for RBrace. */
export function tokenSpelling(t: TokenType): string {
  const described = describeTokenType(t);
  return described.startsWith("`") ? described.slice(1, -1) : described;
}
