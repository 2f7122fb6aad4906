/** CST to AST for top-level declarations and train stages. */
import type { CstNode, IToken } from "chevrotain";
import { makeDiagnostic } from "../diagnostics/diagnostic.ts";
import type { Span } from "../diagnostics/span.ts";
import type {
  ConfigDecl,
  DottedPath,
  ImportDecl,
  ModuleDecl,
  PathSegment,
  PresetDecl,
  StageCallKey,
  StageItem,
  TopDecl,
  TrainStageDecl,
} from "./ast.ts";
import { BodyBuilder } from "./cst-body.ts";
import { decodeString } from "./cst-expr.ts";
import {
  childNode,
  childNodes,
  childToken,
  childTokens,
  identifier,
  nodeSpan,
  report,
  tokSpan,
  type BuildContext,
} from "./cst-util.ts";

const STAGE_CALL_KEYS: ReadonlySet<string> = new Set<StageCallKey>(["data", "loss", "optim", "schedule"]);

export class DeclBuilder {
  private readonly body: BodyBuilder;

  constructor(private readonly ctx: BuildContext) {
    this.body = new BodyBuilder(ctx);
  }

  topDecl(n: CstNode, at: Span): ImportDecl | TopDecl | undefined {
    const imp = childNode(n, "importDecl");
    if (imp) return this.importDecl(imp, at);
    const config = childNode(n, "configDecl");
    if (config) return this.configDecl(config, at);
    const preset = childNode(n, "presetDecl");
    if (preset) return this.presetDecl(preset, at);
    const mod = childNode(n, "moduleDecl");
    if (mod) return this.moduleDecl(mod, at);
    const stage = childNode(n, "trainStageDecl");
    if (stage) return this.stageDecl(stage, at);
    return undefined;
  }

  private importDecl(n: CstNode, at: Span): ImportDecl {
    const span = nodeSpan(this.ctx, n, at);
    const from = childToken(n, "StringLit");
    return {
      kind: "import",
      names: childNodes(n, "importName").map((m) => {
        const s = nodeSpan(this.ctx, m, span);
        const alias = childToken(m, "alias");
        return {
          kind: "importName",
          name: identifier(this.ctx, childToken(m, "name"), s),
          ...(alias ? { alias: identifier(this.ctx, alias, s) } : {}),
          span: s,
        };
      }),
      from: from ? decodeString(from.image) : "",
      fromSpan: tokSpan(this.ctx, from, span),
      span,
    };
  }

  private configDecl(n: CstNode, at: Span): ConfigDecl {
    const span = nodeSpan(this.ctx, n, at);
    return {
      kind: "config",
      name: identifier(this.ctx, childToken(n, "name"), span),
      fields: childNodes(n, "configField").map((f) => {
        const s = nodeSpan(this.ctx, f, span);
        const def = childNode(f, "default");
        return {
          kind: "configField",
          name: identifier(this.ctx, childToken(f, "name"), s),
          type: this.body.expr.typeExpr(childNode(f, "typeExpr"), s),
          ...(def ? { default: this.body.expr.expression(def, s) } : {}),
          span: s,
        };
      }),
      span,
    };
  }

  private presetDecl(n: CstNode, at: Span): PresetDecl {
    const span = nodeSpan(this.ctx, n, at);
    return {
      kind: "preset",
      name: identifier(this.ctx, childToken(n, "name"), span),
      base: identifier(this.ctx, childToken(n, "base"), span),
      overrides: childNodes(n, "presetOverride").map((o) => {
        const s = nodeSpan(this.ctx, o, span);
        return {
          kind: "presetOverride",
          key: this.path(childNode(o, "dottedPath"), s),
          value: this.body.expr.expression(childNode(o, "expression"), s),
          span: s,
        };
      }),
      span,
    };
  }

  private moduleDecl(n: CstNode, at: Span): ModuleDecl {
    const span = nodeSpan(this.ctx, n, at);
    return {
      kind: "module",
      role: childToken(n, "role")?.image === "model" ? "model" : "module",
      name: identifier(this.ctx, childToken(n, "name"), span),
      params: this.body.params(childNode(n, "paramList"), span),
      members: this.body.members(childNodes(n, "member"), span),
      span,
    };
  }

  private stageDecl(n: CstNode, at: Span): TrainStageDecl {
    const span = nodeSpan(this.ctx, n, at);
    const parent = childToken(n, "parent");
    return {
      kind: "trainStage",
      name: identifier(this.ctx, childToken(n, "name"), span),
      model: identifier(this.ctx, childToken(n, "model"), span),
      ...(parent ? { extends: identifier(this.ctx, parent, span) } : {}),
      items: childNodes(n, "stageItem").map((i) => this.stageItem(i, span)),
      span,
    };
  }

  private stageItem(n: CstNode, at: Span): StageItem {
    const span = nodeSpan(this.ctx, n, at);
    const freeze = childNode(n, "freezeItem");
    if (freeze) {
      const mode = childToken(freeze, "mode");
      if (childNodes(freeze, "paths").length === 0 && mode) {
        report(this.ctx, () => makeDiagnostic("IV1050", tokSpan(this.ctx, mode, span), { mode: mode.image }));
      }
      const trailing = childToken(freeze, "trailingComma");
      if (trailing) this.body.expr.trailingComma(trailing, "after the last path of a `freeze` list", span);
      return {
        kind: mode?.image === "unfreeze" ? "unfreeze" : "freeze",
        paths: childNodes(freeze, "paths").map((p) => this.path(p, span)),
        span,
      };
    }
    const name = identifier(this.ctx, childToken(n, "name"), span);
    const value = this.body.expr.expression(childNode(n, "value"), span);
    if (STAGE_CALL_KEYS.has(name.name))
      return { kind: "stageCall", key: name.name as StageCallKey, keySpan: name.span, value, span };
    return { kind: "stageSetting", name, value, span };
  }

  /** `blocks.3.5` lexes `3.5` as one number; it is split back into two segments here. */
  path(n: CstNode | undefined, at: Span): DottedPath {
    const span = nodeSpan(this.ctx, n, at);
    const segments: PathSegment[] = [];
    for (const seg of childNodes(n, "segments")) {
      const tok: IToken | undefined = childTokens(seg, "part")[0];
      if (!tok) continue;
      const s = tokSpan(this.ctx, tok, span);
      if (tok.tokenType.name === "FloatLit" && /^\d+\.\d+$/.test(tok.image)) {
        const [a, b] = tok.image.split(".") as [string, string];
        segments.push({ kind: "pathSegment", text: a, span: { ...s, endOffset: s.offset + a.length, endCol: s.col + a.length } });
        segments.push({
          kind: "pathSegment",
          text: b,
          span: { ...s, offset: s.offset + a.length + 1, col: s.col + a.length + 1 },
        });
      } else if (tok.tokenType.name === "FloatLit") {
        report(this.ctx, () =>
          makeDiagnostic("IV1010", s, { expected: "a path segment (a name, an index or `*`)", found: `\`${tok.image}\`` }),
        );
      } else {
        segments.push({ kind: "pathSegment", text: tok.image, span: s });
      }
    }
    return { kind: "path", segments, span };
  }
}
