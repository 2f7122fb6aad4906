/**
 * Chevrotain's recognition errors, rewritten as human diagnostics: expected tokens by their
 * spelling, unclosed brackets named with where they were opened, and follow-on errors of one
 * mistake suppressed.
 */
import type { IRecognitionException, IToken, TokenType } from "chevrotain";
import type { Diagnostic } from "../diagnostics/diagnostic.ts";
import { makeDiagnostic } from "../diagnostics/diagnostic.ts";
import type { Span } from "../diagnostics/span.ts";
import type { EncodedError } from "./parser.ts";
import { spanAfter, tokenSpan } from "./spans.ts";
import * as T from "./tokens.ts";
import { closest, suggestKeyword } from "./suggest.ts";

export interface ChunkContext {
  readonly file: string;
  readonly tokens: readonly IToken[];
  /** The first token after this declaration, standing in for chevrotain's end-of-input token. */
  readonly following?: IToken;
  /** Where the file ends, for errors at the very end. */
  readonly endOfFile: Span;
}

const TOKEN_BY_NAME = new Map<string, TokenType>(T.ALL_TOKENS.map((t) => [t.name, t]));

/** What kind of bracketed thing a rule opens, for "expected `}` to close the module body ...". */
function bracketNoun(rule: string, closer: TokenType): string {
  const byRule: Record<string, string> = {
    moduleDecl: closer === T.RBrace ? "module body" : "parameter list",
    configDecl: "config body",
    presetDecl: "preset body",
    trainStageDecl: "stage body",
    importDecl: "import list",
    memberBody: "block",
    block: "block",
    forwardMember: "parameter list",
    annotation: "annotation arguments",
    memberTarget: "index",
    pattern: "tuple pattern",
    parenExpr: "parentheses",
    listExpr: "list",
    typeExpr: closer === T.RBracket ? "tensor type" : "tuple type",
  };
  if (rule === "postfixOp") return closer === T.RParen ? "argument list" : "index";
  return byRule[rule] ?? `\`${T.tokenSpelling(T.CLOSERS.get(closer)!)}\``;
}

function describeFound(tok: IToken | undefined): string {
  if (!tok || tok.tokenType.name === "EOF") return "end of file";
  const image = tok.image.length > 32 ? `${tok.image.slice(0, 29)}...` : tok.image;
  if (tok.tokenType === T.StringLit) return `string ${image}`;
  return `\`${image}\``;
}

function isEof(tok: IToken | undefined): boolean {
  return !tok || tok.tokenType.name === "EOF" || Number.isNaN(tok.startOffset);
}

function describeExpected(names: readonly string[]): string {
  const words = [
    ...new Set(
      names.map((n) => (TOKEN_BY_NAME.has(n) ? T.describeTokenType(TOKEN_BY_NAME.get(n)!) : n === "EOF" ? "end of file" : n)),
    ),
  ];
  if (words.length <= 1) return words[0] ?? "something else";
  return `${words.slice(0, -1).join(", ")} or ${words.at(-1)}`;
}

/** The innermost bracket still open just before token index `upTo`. */
function innermostOpen(tokens: readonly IToken[], upTo: number): IToken | undefined {
  const stack: IToken[] = [];
  for (let i = 0; i < upTo && i < tokens.length; i++) {
    const t = tokens[i]!;
    if (T.OPENERS.has(t.tokenType)) stack.push(t);
    else if (T.CLOSERS.has(t.tokenType) && stack.length > 0 && T.OPENERS.get(stack.at(-1)!.tokenType) === t.tokenType)
      stack.pop();
  }
  return stack.at(-1);
}

const GRAMMAR_NOUNS: Record<string, "IV1013" | "IV1014" | "IV1015" | "IV1016" | "IV1017" | "IV1018"> = {
  expression: "IV1013",
  unary: "IV1013",
  postfix: "IV1013",
  primary: "IV1013",
  indexItem: "IV1013",
  typeArg: "IV1013",
  forIterable: "IV1013",
  topDecl: "IV1014",
  member: "IV1015",
  annotatedMember: "IV1015",
  statement: "IV1016",
  stageItem: "IV1017",
  typeExpr: "IV1018",
};

/**
 * Rules whose body is a list closed by `}`: when the `}` is "missing" but the declaration goes on,
 * the real mistake is an item that cannot start a member, statement, stage item or field.
 */
const BODY_ITEMS: Record<string, "IV1015" | "IV1016" | "IV1017" | "IV1036" | "IV1037"> = {
  moduleDecl: "IV1015",
  memberBody: "IV1015",
  block: "IV1016",
  trainStageDecl: "IV1017",
  configDecl: "IV1036",
  presetDecl: "IV1037",
};

const HARD_KEYWORDS: ReadonlySet<TokenType> = new Set(T.KEYWORD_TOKENS.filter((t) => !t.CATEGORIES?.includes(T.Identifier)));

const MEMBER_KEYWORDS = ["forward", "param", "buffer", "let"];

/** Rules whose brackets hold a comma-separated list. */
const COMMA_LISTS: ReadonlySet<string> = new Set([
  "importDecl",
  "moduleDecl",
  "forwardMember",
  "annotation",
  "postfixOp",
  "parenExpr",
  "listExpr",
  "typeExpr",
  "pattern",
]);

/** After these, the bracket structure is off and what follows in the declaration is unreliable. */
const DESYNCHRONIZING = new Set(["IV1011", "IV1012"]);

interface Located {
  readonly diagnostic: Diagnostic;
  /** Position in the chunk's token list, for cascade suppression. */
  readonly tokenIndex: number;
  /** Tokens left over after the declaration; after an earlier error they are recovery debris. */
  readonly leftover: boolean;
}

export class SyntaxErrorMapper {
  private indexOfToken: Map<IToken, number> | undefined;

  constructor(private readonly ctx: ChunkContext) {}

  /** Built on the first error only: most declarations have none. */
  private get indexOf(): Map<IToken, number> {
    this.indexOfToken ??= new Map(this.ctx.tokens.map((t, i) => [t, i]));
    return this.indexOfToken;
  }

  private foundToken(err: IRecognitionException): IToken | undefined {
    return isEof(err.token) ? this.ctx.following : err.token;
  }

  private tokenIndex(err: IRecognitionException): number {
    return isEof(err.token) ? this.ctx.tokens.length : (this.indexOf.get(err.token) ?? this.ctx.tokens.length);
  }

  /** A missing token belongs right after the previous one when the next token is on a later line or absent. */
  private where(err: IRecognitionException, preferAfterPrevious: boolean): Span {
    const previous = (err as { previousToken?: IToken }).previousToken;
    const found = err.token;
    const hasPrevious = previous !== undefined && !isEof(previous);
    if (hasPrevious && (isEof(found) || (preferAfterPrevious && found.startLine! > previous.endLine!))) {
      const after = spanAfter(this.ctx.file, previous);
      const end = this.ctx.endOfFile;
      if (after.offset >= end.offset) return end;
      return after;
    }
    if (isEof(found)) return this.ctx.following ? tokenSpan(this.ctx.file, this.ctx.following) : this.ctx.endOfFile;
    return tokenSpan(this.ctx.file, found);
  }

  private toDiagnostic(err: IRecognitionException): Diagnostic {
    const file = this.ctx.file;
    let expected: string[] = [];
    try {
      expected = (JSON.parse(err.message) as EncodedError).expected;
    } catch {
      expected = [];
    }
    const rule = err.context?.ruleStack?.at(-1) ?? "";
    const found = this.foundToken(err);
    const foundText = describeFound(found);

    if (found?.tokenType === T.DotDot) return makeDiagnostic("IV1030", this.where(err, false));
    if (found?.tokenType === T.Else && (rule === "statement" || rule === "member" || rule === "annotatedMember")) {
      return makeDiagnostic("IV1035", this.where(err, false));
    }

    if (found && HARD_KEYWORDS.has(found.tokenType) && expected.includes("Identifier")) {
      return makeDiagnostic("IV1038", tokenSpan(file, found), { word: found.image });
    }

    if (err.name === "NotAllInputParsedException") {
      if (found && T.CLOSERS.has(found.tokenType)) return this.unmatched(found);
      return this.unexpectedDeclaration(found);
    }

    if (err.name === "MismatchedTokenException") {
      const want = TOKEN_BY_NAME.get(expected[0] ?? "");
      const bodyItem = BODY_ITEMS[rule];
      if (want === T.RBrace && rule === "configDecl" && found?.tokenType === T.Colon) {
        const missing = this.missingDefault(this.tokenIndex(err));
        if (missing) return missing;
      }
      if (want === T.RBrace && bodyItem && found && !isEof(err.token)) {
        if (T.CLOSERS.has(found.tokenType)) return this.unmatched(found);
        if (found.tokenType === T.Else) return makeDiagnostic("IV1035", tokenSpan(file, found));
        return makeDiagnostic(bodyItem, tokenSpan(file, found), { found: foundText });
      }
      if (want && T.CLOSERS.has(want)) {
        const previous = (err as { previousToken?: IToken }).previousToken;
        const sameLine = found && !isEof(err.token) && previous && !isEof(previous) && found.startLine === previous.endLine;
        if (sameLine && COMMA_LISTS.has(rule) && !T.CLOSERS.has(found.tokenType) && found.tokenType !== T.LBrace) {
          // `[1 2]`, `f(a b)`: the list goes on, so a comma is missing rather than the bracket.
          return makeDiagnostic("IV1010", tokenSpan(file, found), { expected: `\`,\` or \`${T.tokenSpelling(want)}\``, found: foundText });
        }
        const opener = innermostOpen(this.ctx.tokens, this.tokenIndex(err));
        if (opener) {
          const what = bracketNoun(rule, want);
          return makeDiagnostic("IV1011", this.where(err, true), {
            close: T.tokenSpelling(want),
            what,
            line: opener.startLine!,
            col: opener.startColumn!,
            found: foundText,
          });
        }
      }
      if (want === T.Arrow) return makeDiagnostic("IV1019", this.where(err, true), { found: foundText });
      if (want === T.In) return makeDiagnostic("IV1020", this.where(err, false), { found: foundText });
      const misspelled = want === T.Assign ? this.misspelledMemberKeyword(err) : undefined;
      return makeDiagnostic(
        "IV1010",
        this.where(err, true),
        { expected: describeExpected(expected), found: foundText },
        misspelled ? { help: `did you mean \`${misspelled}\`?` } : {},
      );
    }

    const noun = GRAMMAR_NOUNS[rule];
    if (noun === "IV1014") return this.unexpectedDeclaration(found);
    if (noun) return makeDiagnostic(noun, this.where(err, false), { found: foundText });
    return makeDiagnostic("IV1010", this.where(err, false), { expected: describeExpected(expected), found: foundText });
  }

  private unexpectedDeclaration(found: IToken | undefined): Diagnostic {
    const span = found && !isEof(found) ? tokenSpan(this.ctx.file, found) : this.ctx.endOfFile;
    const suggestion = found ? suggestKeyword(found.image) : undefined;
    return makeDiagnostic(
      "IV1014",
      span,
      { found: describeFound(found) },
      suggestion ? { help: `did you mean \`${suggestion}\`?` } : {},
    );
  }

  /**
   * One diagnostic per mistake. Chevrotain's recovery tends to report the same spot again, or the
   * next line while it resynchronizes, so a later error is kept only when it is at least two lines
   * below the previous kept one, and never after an unbalanced bracket or for leftover tokens.
   */
  map(errors: readonly IRecognitionException[]): Diagnostic[] {
    const located: Located[] = errors
      .map((err) => ({
        diagnostic: this.toDiagnostic(err),
        tokenIndex: this.tokenIndex(err),
        leftover: err.name === "NotAllInputParsedException",
      }))
      .sort((a, b) => a.tokenIndex - b.tokenIndex);
    const kept: Diagnostic[] = [];
    for (const { diagnostic, leftover } of located) {
      const previous = kept.at(-1);
      if (previous) {
        if (leftover) break;
        if (DESYNCHRONIZING.has(previous.code)) break;
        const line = diagnostic.span?.line ?? 0;
        if (line <= (previous.span?.line ?? 0) + 1) continue;
      }
      kept.push(diagnostic);
    }
    return kept;
  }

  /**
   * `frames: int =` with nothing after the `=`: the next field's name was read as the default,
   * and the parser trips over that field's `:`. Point at the empty default instead.
   */
  private missingDefault(colonIndex: number): Diagnostic | undefined {
    const name = this.ctx.tokens[colonIndex - 1];
    const assign = this.ctx.tokens[colonIndex - 2];
    if (!name || !assign || assign.tokenType !== T.Assign || name.startLine! <= assign.endLine!) return undefined;
    return makeDiagnostic("IV1013", spanAfter(this.ctx.file, assign), { found: "the end of the line" });
  }

  /** `foward(x: ...)` reads as a sub-module named `foward` missing its `=`; suggest the keyword. */
  private misspelledMemberKeyword(err: IRecognitionException): string | undefined {
    const previous = (err as { previousToken?: IToken }).previousToken;
    if (!previous || isEof(previous) || previous.tokenType !== T.Identifier) return undefined;
    return closest(previous.image, MEMBER_KEYWORDS);
  }

  private unmatched(closer: IToken): Diagnostic {
    return makeDiagnostic("IV1012", tokenSpan(this.ctx.file, closer), {
      close: T.tokenSpelling(closer.tokenType),
      open: T.tokenSpelling(T.CLOSERS.get(closer.tokenType)!),
    });
  }

  /** A run of tokens that does not start a declaration. */
  strayTokens(first: IToken): Diagnostic {
    return T.CLOSERS.has(first.tokenType) ? this.unmatched(first) : this.unexpectedDeclaration(first);
  }
}
