/**
 * The chevrotain grammar of .ivm (a CstParser with error recovery): declarations, module members,
 * forward statements and train stages on top of the expression rules in parser-expr.ts.
 *
 * Only grammar/ sees this parser; everything else gets the AST from parseIvm.
 */
import { EOF, type IRecognitionException, type IToken, type TokenType } from "chevrotain";
import { alt, ExpressionParser } from "./parser-expr.ts";
import * as T from "./tokens.ts";

export type { EncodedError, LayoutFacts } from "./parser-expr.ts";

const STAGE_ITEM_CONTINUATIONS: readonly TokenType[] = [T.Dot, T.Comma, T.RBrace, T.Semicolon, EOF];

/**
 * Thrown out of a parse once a declaration has this many syntax errors. Chevrotain's resynchronizing
 * recovery rescans the input after each error, which turns a long run of garbage quadratic; only
 * the first few errors of a declaration are ever shown, so the rest need not be found.
 */
export class TooManyErrors extends Error {}
export const MAX_ERRORS_PER_DECLARATION = 25;

export class IvmParser extends ExpressionParser {
  constructor() {
    super();
    this.performSelfAnalysis();
    // SAVE_ERROR is chevrotain-internal; without it the cap is lost, not the parser.
    const recognizer = this as unknown as { SAVE_ERROR?: (e: IRecognitionException) => IRecognitionException };
    if (typeof recognizer.SAVE_ERROR !== "function") return;
    const save = recognizer.SAVE_ERROR.bind(this);
    recognizer.SAVE_ERROR = (e) => {
      const saved = save(e);
      if (this.errors.length >= MAX_ERRORS_PER_DECLARATION) throw new TooManyErrors();
      return saved;
    };
  }

  /** In `freeze a,\n steps 200` the comma is a trailing one: `steps` starts the next item. */
  private startsStageItem(name: IToken, next: IToken): boolean {
    return (
      this.layout.lineStarts.has(name) && next.startLine === name.startLine && !STAGE_ITEM_CONTINUATIONS.includes(next.tokenType)
    );
  }

  // ─── Top level ────────────────────────────────────────────────────────────────────────────────

  public topDecl = this.RULE("topDecl", () => {
    this.OR([
      alt(() => this.SUBRULE(this.importDecl)),
      alt(() => this.SUBRULE(this.configDecl)),
      alt(() => this.SUBRULE(this.presetDecl)),
      alt(() => this.SUBRULE(this.moduleDecl)),
      alt(() => this.SUBRULE(this.trainStageDecl)),
    ]);
  });

  private importDecl = this.RULE("importDecl", () => {
    this.CONSUME(T.Import);
    this.CONSUME(T.LBrace);
    this.OPTION(() => {
      this.SUBRULE(this.importName);
      this.MANY(() => {
        this.CONSUME(T.Comma);
        this.SUBRULE2(this.importName);
      });
      this.OPTION2(() => this.CONSUME2(T.Comma, { LABEL: "trailingComma" }));
    });
    this.CONSUME(T.RBrace);
    this.CONSUME(T.From);
    this.CONSUME(T.StringLit);
  });

  private importName = this.RULE("importName", () => {
    this.CONSUME(T.Identifier, { LABEL: "name" });
    this.OPTION(() => {
      this.CONSUME(T.As);
      this.CONSUME2(T.Identifier, { LABEL: "alias" });
    });
  });

  private configDecl = this.RULE("configDecl", () => {
    this.CONSUME(T.Config);
    this.CONSUME(T.Identifier, { LABEL: "name" });
    this.CONSUME(T.LBrace);
    this.MANY(() => {
      this.SUBRULE(this.configField);
      this.OPTION(() => this.OR([alt(() => this.CONSUME(T.Comma)), alt(() => this.CONSUME(T.Semicolon))]));
    });
    this.CONSUME(T.RBrace);
  });

  private configField = this.RULE("configField", () => {
    this.CONSUME(T.Identifier, { LABEL: "name" });
    this.CONSUME(T.Colon);
    this.SUBRULE(this.typeExpr);
    this.OPTION(() => {
      this.CONSUME(T.Assign);
      this.SUBRULE(this.expression, { LABEL: "default" });
    });
  });

  private presetDecl = this.RULE("presetDecl", () => {
    this.CONSUME(T.Preset);
    this.CONSUME(T.Identifier, { LABEL: "name" });
    this.CONSUME(T.Colon);
    this.CONSUME2(T.Identifier, { LABEL: "base" });
    this.CONSUME(T.LBrace);
    this.MANY(() => {
      this.SUBRULE(this.presetOverride);
      this.OPTION(() => this.OR([alt(() => this.CONSUME(T.Comma)), alt(() => this.CONSUME(T.Semicolon))]));
    });
    this.CONSUME(T.RBrace);
  });

  private presetOverride = this.RULE("presetOverride", () => {
    this.SUBRULE(this.dottedPath);
    this.CONSUME(T.Assign);
    this.SUBRULE(this.expression);
  });

  // ─── Modules ──────────────────────────────────────────────────────────────────────────────────

  private moduleDecl = this.RULE("moduleDecl", () => {
    this.OR([alt(() => this.CONSUME(T.Module, { LABEL: "role" })), alt(() => this.CONSUME(T.Model, { LABEL: "role" }))]);
    this.CONSUME(T.Identifier, { LABEL: "name" });
    this.OPTION(() => {
      this.CONSUME(T.LParen);
      this.SUBRULE(this.paramList);
      this.CONSUME(T.RParen);
    });
    this.CONSUME(T.LBrace);
    this.MANY(() => {
      this.SUBRULE(this.member);
      this.OPTION2(() => this.CONSUME(T.Semicolon));
    });
    this.CONSUME(T.RBrace);
  });

  private paramList = this.RULE("paramList", () => {
    this.OPTION(() => {
      this.SUBRULE(this.parameter);
      this.MANY(() => {
        this.CONSUME(T.Comma);
        this.SUBRULE2(this.parameter);
      });
      this.OPTION2(() => this.CONSUME2(T.Comma, { LABEL: "trailingComma" }));
    });
  });

  private parameter = this.RULE("parameter", () => {
    this.CONSUME(T.Identifier, { LABEL: "name" });
    this.CONSUME(T.Colon);
    this.SUBRULE(this.typeExpr);
    this.OPTION(() => {
      this.CONSUME(T.Assign);
      this.SUBRULE(this.expression, { LABEL: "default" });
    });
  });

  private member = this.RULE("member", () => {
    this.OR([
      alt(() => this.SUBRULE(this.letMember)),
      alt(() => this.SUBRULE(this.annotatedMember)),
      alt(() => this.SUBRULE(this.ifMember)),
      alt(() => this.SUBRULE(this.forMember)),
      alt(() => this.SUBRULE(this.forwardMember)),
    ]);
  });

  private letMember = this.RULE("letMember", () => {
    this.CONSUME(T.Let);
    this.SUBRULE(this.pattern);
    this.CONSUME(T.Assign);
    this.SUBRULE(this.expression);
  });

  private annotatedMember = this.RULE("annotatedMember", () => {
    this.MANY(() => this.SUBRULE(this.annotation, { LABEL: "before" }));
    this.OR([
      alt(() => {
        this.OR2([alt(() => this.CONSUME(T.Param, { LABEL: "role" })), alt(() => this.CONSUME(T.Buffer, { LABEL: "role" }))]);
        this.SUBRULE(this.memberTarget);
        this.CONSUME(T.Colon);
        this.SUBRULE(this.typeExpr);
        this.MANY2({
          GATE: () => !this.layout.lineStarts.has(this.LA(1)),
          DEF: () => this.SUBRULE2(this.annotation, { LABEL: "after" }),
        });
      }),
      alt(() => {
        this.SUBRULE2(this.memberTarget);
        this.CONSUME(T.Assign);
        this.SUBRULE(this.expression);
      }),
    ]);
  });

  private annotation = this.RULE("annotation", () => {
    this.CONSUME(T.At);
    this.CONSUME(T.Identifier, { LABEL: "name" });
    this.OPTION(() => {
      this.CONSUME(T.LParen);
      this.SUBRULE(this.callArgs);
      this.CONSUME(T.RParen);
    });
  });

  private memberTarget = this.RULE("memberTarget", () => {
    this.CONSUME(T.Identifier, { LABEL: "name" });
    this.OPTION(() => {
      this.CONSUME(T.LBracket);
      this.SUBRULE(this.expression, { LABEL: "index" });
      this.CONSUME(T.RBracket);
    });
  });

  private memberBody = this.RULE("memberBody", () => {
    this.CONSUME(T.LBrace);
    this.MANY(() => {
      this.SUBRULE(this.member);
      this.OPTION(() => this.CONSUME(T.Semicolon));
    });
    this.CONSUME(T.RBrace);
  });

  private ifMember = this.RULE("ifMember", () => {
    this.CONSUME(T.If);
    this.SUBRULE(this.expression, { LABEL: "condition" });
    this.SUBRULE(this.memberBody, { LABEL: "then" });
    this.OPTION(() => {
      this.CONSUME(T.Else);
      this.OR([
        alt(() => this.SUBRULE(this.ifMember, { LABEL: "elseIf" })),
        alt(() => this.SUBRULE2(this.memberBody, { LABEL: "else" })),
      ]);
    });
  });

  private forMember = this.RULE("forMember", () => {
    this.CONSUME(T.For);
    this.CONSUME(T.Identifier, { LABEL: "variable" });
    this.CONSUME(T.In);
    this.SUBRULE(this.forIterable);
    this.SUBRULE(this.memberBody);
  });

  private forIterable = this.RULE("forIterable", () => {
    this.SUBRULE(this.expression, { LABEL: "start" });
    this.OPTION(() => {
      this.CONSUME(T.DotDot);
      this.SUBRULE2(this.expression, { LABEL: "end" });
    });
  });

  private forwardMember = this.RULE("forwardMember", () => {
    this.CONSUME(T.Forward);
    this.OPTION(() => this.CONSUME(T.Identifier, { LABEL: "name" }));
    this.CONSUME(T.LParen);
    this.SUBRULE(this.paramList);
    this.CONSUME(T.RParen);
    this.CONSUME(T.Arrow);
    this.SUBRULE(this.typeExpr, { LABEL: "returnType" });
    this.OR([
      alt(() => {
        this.CONSUME(T.Assign);
        this.SUBRULE(this.expression, { LABEL: "bodyExpr" });
      }),
      alt(() => this.SUBRULE(this.block)),
    ]);
  });

  // ─── Forward statements ───────────────────────────────────────────────────────────────────────

  private block = this.RULE("block", () => {
    this.CONSUME(T.LBrace);
    this.MANY(() => {
      this.SUBRULE(this.statement);
      this.OPTION(() => this.CONSUME(T.Semicolon));
    });
    this.CONSUME(T.RBrace);
  });

  private statement = this.RULE("statement", () => {
    this.OR([
      alt(() => this.SUBRULE(this.letStmt)),
      alt(() => this.SUBRULE(this.ifStmt)),
      alt(() => this.SUBRULE(this.forStmt)),
      alt(() => this.SUBRULE(this.returnStmt)),
      alt(() => this.SUBRULE(this.exprStmt)),
    ]);
  });

  private letStmt = this.RULE("letStmt", () => {
    this.CONSUME(T.Let);
    this.SUBRULE(this.pattern);
    this.CONSUME(T.Assign);
    this.SUBRULE(this.expression);
  });

  private pattern = this.RULE("pattern", () => {
    this.OR([
      alt(() => this.CONSUME(T.Identifier, { LABEL: "name" })),
      alt(() => {
        this.CONSUME(T.LParen);
        this.SUBRULE(this.pattern, { LABEL: "elements" });
        this.MANY(() => {
          this.CONSUME(T.Comma);
          this.SUBRULE2(this.pattern, { LABEL: "elements" });
        });
        this.OPTION(() => this.CONSUME2(T.Comma, { LABEL: "trailingComma" }));
        this.CONSUME(T.RParen);
      }),
    ]);
  });

  private ifStmt = this.RULE("ifStmt", () => {
    this.CONSUME(T.If);
    this.SUBRULE(this.expression, { LABEL: "condition" });
    this.SUBRULE(this.block, { LABEL: "then" });
    this.OPTION(() => {
      this.CONSUME(T.Else);
      this.OR([
        alt(() => this.SUBRULE(this.ifStmt, { LABEL: "elseIf" })),
        alt(() => this.SUBRULE2(this.block, { LABEL: "else" })),
      ]);
    });
  });

  private forStmt = this.RULE("forStmt", () => {
    this.CONSUME(T.For);
    this.CONSUME(T.Identifier, { LABEL: "variable" });
    this.CONSUME(T.In);
    this.SUBRULE(this.forIterable);
    this.SUBRULE(this.block);
  });

  private returnStmt = this.RULE("returnStmt", () => {
    this.CONSUME(T.Return);
    this.SUBRULE(this.expression);
  });

  /** `x = ...` or a bare expression, which cst-stmt.ts reports as unused. */
  private exprStmt = this.RULE("exprStmt", () => {
    this.SUBRULE(this.expression, { LABEL: "target" });
    this.OPTION(() => {
      this.OR([alt(() => this.CONSUME(T.Assign)), alt(() => this.CONSUME(T.CompoundAssign))]);
      this.SUBRULE2(this.expression, { LABEL: "value" });
    });
  });

  // ─── Train stages ─────────────────────────────────────────────────────────────────────────────

  private trainStageDecl = this.RULE("trainStageDecl", () => {
    this.CONSUME(T.Train);
    this.CONSUME(T.Stage);
    this.CONSUME(T.Identifier, { LABEL: "name" });
    this.CONSUME(T.For);
    this.CONSUME2(T.Identifier, { LABEL: "model" });
    this.OPTION(() => {
      this.CONSUME(T.Extends);
      this.CONSUME3(T.Identifier, { LABEL: "parent" });
    });
    this.CONSUME(T.LBrace);
    this.MANY(() => {
      this.SUBRULE(this.stageItem);
      this.OPTION2(() => this.CONSUME(T.Semicolon));
    });
    this.CONSUME(T.RBrace);
  });

  private stageItem = this.RULE("stageItem", () => {
    this.OR({
      IGNORE_AMBIGUITIES: true,
      DEF: [
        alt(() => this.SUBRULE(this.freezeItem)),
        alt(() => {
          this.CONSUME(T.Identifier, { LABEL: "name" });
          this.SUBRULE(this.expression, { LABEL: "value" });
        }),
      ],
    });
  });

  private freezeItem = this.RULE("freezeItem", () => {
    this.OR([alt(() => this.CONSUME(T.Freeze, { LABEL: "mode" })), alt(() => this.CONSUME(T.Unfreeze, { LABEL: "mode" }))]);
    // An empty list (`freeze` alone on its line) is reported by cst-decl.ts, not read into the next item.
    this.OPTION({
      GATE: () => !this.startsStageItem(this.LA(1), this.LA(2)),
      DEF: () => {
        this.SUBRULE(this.dottedPath, { LABEL: "paths" });
        this.MANY({
          GATE: () => !this.startsStageItem(this.LA(2), this.LA(3)),
          DEF: () => {
            this.CONSUME(T.Comma);
            this.SUBRULE2(this.dottedPath, { LABEL: "paths" });
          },
        });
        this.OPTION2(() => this.CONSUME2(T.Comma, { LABEL: "trailingComma" }));
      },
    });
  });

  private dottedPath = this.RULE("dottedPath", () => {
    this.SUBRULE(this.pathSegment, { LABEL: "segments" });
    this.MANY(() => {
      this.CONSUME(T.Dot);
      this.SUBRULE2(this.pathSegment, { LABEL: "segments" });
    });
  });

  private pathSegment = this.RULE("pathSegment", () => {
    this.OR([
      alt(() => this.CONSUME(T.Identifier, { LABEL: "part" })),
      alt(() => this.CONSUME(T.IntLit, { LABEL: "part" })),
      alt(() => this.CONSUME(T.FloatLit, { LABEL: "part" })),
      alt(() => this.CONSUME(T.Star, { LABEL: "part" })),
    ]);
  });
}

let shared: IvmParser | undefined;
/** Building the parser runs chevrotain's grammar analysis (tens of ms), so it is done once. */
export function ivmParser(): IvmParser {
  shared ??= new IvmParser();
  return shared;
}
