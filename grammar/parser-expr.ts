/**
 * The expression and type half of the chevrotain grammar; parser.ts extends it with declarations,
 * members, statements and stages. Precedence is not encoded here: an expression is a flat
 * `unary (op unary)*` chain that cst-expr.ts folds, which keeps the rule stack shallow (deeply
 * nested input costs few frames) and the grammar small.
 */
import "./node-compat.ts";
import { CstParser, type IParserErrorMessageProvider, type IToken } from "chevrotain";
import * as T from "./tokens.ts";

/** Chevrotain error messages are replaced later (errors.ts); the provider only records what it knew. */
export interface EncodedError {
  readonly expected: string[];
}

const ENCODING_PROVIDER: IParserErrorMessageProvider = {
  buildMismatchTokenMessage: ({ expected }) => JSON.stringify({ expected: [expected.name] }),
  buildNotAllInputParsedMessage: () => JSON.stringify({ expected: [] }),
  buildNoViableAltMessage: ({ expectedPathsPerAlt }) =>
    JSON.stringify({ expected: [...new Set(expectedPathsPerAlt.flat().map((path) => path[0]?.name ?? "EOF"))] }),
  buildEarlyExitMessage: ({ expectedIterationPaths }) =>
    JSON.stringify({ expected: [...new Set(expectedIterationPaths.map((path) => path[0]?.name ?? "EOF"))] }),
};

/** Facts about the token stream the grammar's gates need (line breaks matter in two places). */
export interface LayoutFacts {
  /** Tokens that are the first on their line. */
  readonly lineStarts: ReadonlySet<IToken>;
}

/** Alternatives built through a call, so no closure gets a name-preserving wrapper from the TS loader. */
export function alt(fn: () => unknown): { ALT: () => unknown } {
  return { ALT: fn };
}

/** Rules shared by every part of the grammar. Subclasses call performSelfAnalysis. */
export class ExpressionParser extends CstParser {
  protected layout: LayoutFacts = { lineStarts: new Set() };

  constructor() {
    super([...T.PARSER_TOKENS], {
      recoveryEnabled: true,
      maxLookahead: 3,
      errorMessageProvider: ENCODING_PROVIDER,
      nodeLocationTracking: "full",
    });
  }

  setInput(tokens: IToken[], layout: LayoutFacts): void {
    this.layout = layout;
    this.input = tokens;
  }

  /**
   * `@name` (no space) at the start of a line begins an annotated member; `@ b` there continues a
   * matmul from the line before.
   */
  private startsAnnotation(at: IToken, next: IToken): boolean {
    return at.tokenType === T.At && this.layout.lineStarts.has(at) && next.startOffset === at.endOffset! + 1;
  }

  // ─── Expressions ──────────────────────────────────────────────────────────────────────────────

  public expression = this.RULE("expression", () => {
    this.SUBRULE(this.unary);
    this.MANY({
      GATE: () => !this.startsAnnotation(this.LA(1), this.LA(2)),
      DEF: () => {
        this.CONSUME(T.BinaryOp);
        this.SUBRULE2(this.unary);
      },
    });
  });

  protected unary = this.RULE("unary", () => {
    this.MANY(() =>
      this.OR([
        alt(() => this.CONSUME(T.Minus, { LABEL: "prefix" })),
        alt(() => this.CONSUME(T.Plus, { LABEL: "prefix" })),
        alt(() => this.CONSUME(T.Not, { LABEL: "prefix" })),
      ]),
    );
    this.SUBRULE(this.postfix);
  });

  protected postfix = this.RULE("postfix", () => {
    this.SUBRULE(this.primary);
    this.MANY(() => this.SUBRULE(this.postfixOp));
  });

  protected postfixOp = this.RULE("postfixOp", () => {
    this.OR([
      alt(() => {
        this.CONSUME(T.Dot);
        this.CONSUME(T.Identifier, { LABEL: "property" });
      }),
      alt(() => {
        this.CONSUME(T.LParen);
        this.SUBRULE(this.callArgs);
        this.CONSUME(T.RParen);
      }),
      alt(() => {
        this.CONSUME(T.LBracket);
        this.SUBRULE(this.indexItem, { LABEL: "items" });
        this.MANY(() => {
          this.CONSUME(T.Comma);
          this.SUBRULE2(this.indexItem, { LABEL: "items" });
        });
        this.OPTION(() => this.CONSUME2(T.Comma, { LABEL: "trailingComma" }));
        this.CONSUME(T.RBracket);
      }),
    ]);
  });

  protected callArgs = this.RULE("callArgs", () => {
    this.OPTION(() => {
      this.SUBRULE(this.argument);
      this.MANY(() => {
        this.CONSUME(T.Comma);
        this.SUBRULE2(this.argument);
      });
      this.OPTION2(() => this.CONSUME2(T.Comma, { LABEL: "trailingComma" }));
    });
  });

  protected argument = this.RULE("argument", () => {
    this.OPTION(() => {
      this.CONSUME(T.Identifier, { LABEL: "name" });
      this.CONSUME(T.Assign);
    });
    this.SUBRULE(this.expression);
  });

  protected indexItem = this.RULE("indexItem", () => {
    this.OR([
      alt(() => this.CONSUME(T.Ellipsis)),
      alt(() => {
        this.CONSUME(T.Colon, { LABEL: "firstColon" });
        this.OPTION(() => this.SUBRULE(this.expression, { LABEL: "stop" }));
        this.OPTION2(() => {
          this.CONSUME2(T.Colon, { LABEL: "secondColon" });
          this.OPTION3(() => this.SUBRULE2(this.expression, { LABEL: "step" }));
        });
      }),
      alt(() => {
        this.SUBRULE3(this.expression, { LABEL: "start" });
        this.OPTION4(() => {
          this.CONSUME3(T.Colon, { LABEL: "firstColon" });
          this.OPTION5(() => this.SUBRULE4(this.expression, { LABEL: "stop" }));
          this.OPTION6(() => {
            this.CONSUME4(T.Colon, { LABEL: "secondColon" });
            this.OPTION7(() => this.SUBRULE5(this.expression, { LABEL: "step" }));
          });
        });
      }),
    ]);
  });

  protected primary = this.RULE("primary", () => {
    this.OR([
      alt(() => this.CONSUME(T.IntLit)),
      alt(() => this.CONSUME(T.FloatLit)),
      alt(() => this.CONSUME(T.StringLit)),
      alt(() => this.CONSUME(T.True)),
      alt(() => this.CONSUME(T.False)),
      alt(() => this.CONSUME(T.Identifier)),
      alt(() => this.SUBRULE(this.parenExpr)),
      alt(() => this.SUBRULE(this.listExpr)),
    ]);
  });

  protected parenExpr = this.RULE("parenExpr", () => {
    this.CONSUME(T.LParen);
    this.OPTION(() => {
      this.SUBRULE(this.expression, { LABEL: "elements" });
      this.MANY(() => {
        this.CONSUME(T.Comma);
        this.SUBRULE2(this.expression, { LABEL: "elements" });
      });
      this.OPTION2(() => this.CONSUME2(T.Comma, { LABEL: "trailingComma" }));
    });
    this.CONSUME(T.RParen);
  });

  protected listExpr = this.RULE("listExpr", () => {
    this.CONSUME(T.LBracket);
    this.OPTION(() => {
      this.SUBRULE(this.expression, { LABEL: "elements" });
      this.MANY(() => {
        this.CONSUME(T.Comma);
        this.SUBRULE2(this.expression, { LABEL: "elements" });
      });
      this.OPTION2(() => this.CONSUME2(T.Comma, { LABEL: "trailingComma" }));
    });
    this.CONSUME(T.RBracket);
  });

  // ─── Types ────────────────────────────────────────────────────────────────────────────────────

  protected typeExpr = this.RULE("typeExpr", () => {
    this.OR([
      alt(() => {
        this.CONSUME(T.Identifier, { LABEL: "name" });
        this.OPTION(() => {
          this.CONSUME(T.LBracket);
          this.OPTION2(() => {
            this.SUBRULE(this.typeArg, { LABEL: "args" });
            this.MANY(() => {
              this.CONSUME(T.Comma);
              this.SUBRULE2(this.typeArg, { LABEL: "args" });
            });
            this.OPTION3(() => this.CONSUME2(T.Comma, { LABEL: "trailingComma" }));
          });
          this.CONSUME(T.RBracket);
        });
      }),
      alt(() => {
        this.CONSUME(T.LParen);
        this.OPTION4(() => {
          this.SUBRULE(this.typeExpr, { LABEL: "elements" });
          this.MANY2(() => {
            this.CONSUME3(T.Comma);
            this.SUBRULE2(this.typeExpr, { LABEL: "elements" });
          });
          this.OPTION5(() => this.CONSUME4(T.Comma, { LABEL: "tupleTrailingComma" }));
        });
        this.CONSUME(T.RParen);
      }),
    ]);
  });

  protected typeArg = this.RULE("typeArg", () => {
    this.OR([alt(() => this.CONSUME(T.Ellipsis)), alt(() => this.SUBRULE(this.expression))]);
  });
}
