/**
 * Declarations, members and statements of an .ivm file as a prettier doc.
 *
 * Layout rules (docs/editors.md): two-space blocks, one member or statement per line, `;` dropped;
 * bracketed lists stay on one line when they fit and otherwise put one item per line with a
 * trailing comma where the language allows one; a config or preset body that starts on a new line
 * in the source stays one field per line (like prettier's objects), otherwise it is kept on one line
 * when it fits; single empty lines between items are kept.
 */
import { doc, type Doc } from "prettier";
import type {
  Annotation,
  ConfigDecl,
  Expr,
  ForwardMember,
  ImportDecl,
  Member,
  ModuleDecl,
  PresetDecl,
  Program,
  StageItem,
  Statement,
  TopDecl,
  TrainStageDecl,
} from "../../grammar/ast.ts";
import type { Span } from "../../diagnostics/span.ts";
import { ExprPrinter } from "./print-expr.ts";

const { group, indent, line, hardline, join, fill } = doc.builders;

type Body = Member | Statement;

export class IvmPrinter extends ExprPrinter {
  program(p: Program): Doc {
    const decls: (ImportDecl | TopDecl)[] = [...p.imports, ...p.decls].sort((a, b) => a.span.offset - b.span.offset);
    const rows = this.rows(decls, (d) => this.decl(d), this.text.length);
    // Empty lines between declarations are kept as written (rows), so related presets stay together.
    return rows.length === 0 ? "" : [join(hardline, rows), hardline];
  }

  private decl(d: ImportDecl | TopDecl): Doc {
    switch (d.kind) {
      case "import": {
        const openAt = this.after(d.span.offset + "import".length);
        const names = this.list("{", openAt, d.names, (n) => this.node(n.span, () => (n.alias ? `${n.name.name} as ${n.alias.name}` : n.name.name)), "}", {
          trailingComma: true,
          spaced: true,
        });
        return ["import ", names, " from ", this.node(d.fromSpan, () => this.source(d.fromSpan))];
      }
      case "config":
        return this.config(d);
      case "preset":
        return this.preset(d);
      case "module":
        return this.module(d);
      case "trainStage":
        return this.stage(d);
    }
  }

  /** A config or preset body: one item per line when the source broke after `{`, else one line if it fits. */
  private object<T extends { span: Span }>(span: Span, openAt: number, items: readonly T[], print: (item: T) => Doc): Doc {
    const closeAt = span.endOffset - 1;
    const first = items[0]?.span.offset ?? closeAt;
    // With comments inside, block layout from the start, so the second run (which sees a broken body) agrees.
    if (items.length === 0 || /\n/.test(this.text.slice(openAt, first)) || this.hasComment(openAt, closeAt)) {
      // Items written on one line stay on one line (`frames = 16, size = 224` then `mae.frames = 16, ...`).
      const lines: { span: Span; items: T[] }[] = [];
      for (const item of items) {
        const row = lines.at(-1);
        if (row && !/\n/.test(this.text.slice(row.span.endOffset, item.span.offset))) {
          row.items.push(item);
          row.span = { ...row.span, endOffset: item.span.endOffset };
        } else lines.push({ span: item.span, items: [item] });
      }
      const printRow = (row: { items: T[] }) => join(", ", row.items.map((item, i) => (i === 0 ? print(item) : this.node(item.span, () => print(item)))));
      return this.block(openAt, lines, printRow, closeAt);
    }
    return this.list("{", openAt, items, print, "}", { trailingComma: false, spaced: true, lineSeparated: true });
  }

  private config(d: ConfigDecl): Doc {
    const openAt = this.after(d.name.span.endOffset);
    return [
      "config ",
      d.name.name,
      " ",
      this.object(d.span, openAt, d.fields, (f) => [
        f.name.name,
        ": ",
        this.type(f.type),
        ...(f.default ? [" = ", this.expr(f.default)] : []),
      ]),
    ];
  }

  private preset(d: PresetDecl): Doc {
    const openAt = this.after(d.base.span.endOffset);
    const body = this.object(d.span, openAt, d.overrides, (o) => this.assignment(this.path(o.key), o.value));
    return ["preset ", d.name.name, ": ", d.base.name, " ", body];
  }

  private module(d: ModuleDecl): Doc {
    let at = this.after(d.name.span.endOffset);
    const head: Doc[] = [d.role, " ", d.name.name];
    if (this.text[at] === "(") {
      if (d.params.length > 0) head.push(this.params(d.params, at));
      else this.lastEnd = at;
      at = this.after(this.after(d.params.at(-1)?.span.endOffset ?? at + 1, true) + 1);
    }
    return [...head, " ", this.block(at, d.members, (m) => this.member(m), d.span.endOffset - 1)];
  }

  private params(params: ModuleDecl["params"], openAt: number): Doc {
    return this.list("(", openAt, params, (p) => [p.name.name, ": ", this.type(p.type), ...(p.default ? [" = ", this.expr(p.default)] : [])], ")", {
      trailingComma: true,
    });
  }

  private stage(d: TrainStageDecl): Doc {
    const head: Doc[] = ["train stage ", d.name.name, " for ", d.model.name];
    if (d.extends) head.push(" extends ", d.extends.name);
    const openAt = this.after((d.extends ?? d.model).span.endOffset);
    return [...head, " ", this.block(openAt, d.items, (i) => this.stageItem(i), d.span.endOffset - 1)];
  }

  private stageItem(i: StageItem): Doc {
    switch (i.kind) {
      case "freeze":
      case "unfreeze": {
        // No trailing comma: after a freeze list it would swallow the next line (docs/language.md 1.1).
        const parts: Doc[] = [];
        i.paths.forEach((p, k) => {
          if (k > 0) parts.push([",", ...this.trailing(p.span.offset), line]);
          parts.push(this.path(p));
        });
        return group([i.kind, " ", indent(fill(parts))]);
      }
      case "stageCall":
        return [i.key, " ", this.expr(i.value)];
      case "stageSetting":
        return [i.name.name, " ", this.expr(i.value)];
    }
  }

  // ─── Members and statements ───────────────────────────────────────────────────────────────────

  /** `{ ... }` after `from` (a condition, an iterable, a signature) up to the end of the statement. */
  private bodyBlock(from: number, items: readonly Body[], print: (b: Body) => Doc): Doc {
    const openAt = this.after(from);
    const closeAt = this.after(items.at(-1)?.span.endOffset ?? openAt + 1, true);
    return this.block(openAt, items, print, closeAt);
  }

  private member(m: Member): Doc {
    switch (m.kind) {
      case "letMember":
        return this.assignment(["let ", m.name.name], m.value);
      case "submodule":
        return this.assignment([...this.annotations(m.annotations), this.target(m.target)], m.value);
      case "tensorMember": {
        const before = m.annotations.filter((a) => a.span.offset < m.target.span.offset);
        const after = m.annotations.filter((a) => a.span.offset > m.target.span.offset);
        // Printed in source order: comments are placed by where printing has got to.
        const head = [...this.annotations(before), m.role, " ", this.target(m.target), ": ", this.type(m.type)];
        return [...head, ...after.map((a) => [" ", this.annotation(a)])];
      }
      case "ifMember":
        return this.ifChain(m, (b) => this.member(b as Member));
      case "forMember":
        return ["for ", m.variable.name, " in ", this.expr(m.iterable), " ", this.bodyBlock(m.iterable.span.endOffset, m.body, (b) => this.member(b as Member))];
      case "forward":
        return this.forward(m);
    }
  }

  private annotations(list: readonly Annotation[]): Doc[] {
    return list.map((a) => [this.annotation(a), " "]);
  }

  private annotation(a: Annotation): Doc {
    return this.node(a.span, () => (a.args ? ["@", a.name.name, this.args(a.args, this.after(a.name.span.endOffset))] : ["@", a.name.name]));
  }

  private target(t: Extract<Member, { kind: "submodule" }>["target"]): Doc {
    if (!t.index) return this.node(t.span, () => t.name.name);
    const index = t.index;
    // A comment before the `]` goes to the end of the line (the member is one line after the `=`).
    return this.node(t.span, () => [t.name.name, "[", this.expr(index), ...this.trailing(this.after(index.span.endOffset)), "]"]);
  }

  private forward(f: ForwardMember): Doc {
    const name = f.name ? ["forward ", f.name.name] : ["forward"];
    const openAt = this.after(f.name ? f.name.span.endOffset : f.span.offset + "forward".length);
    const head = [...name, this.params(f.params, openAt), " -> ", this.type(f.returnType)];
    if (f.expressionBody) {
      const ret = f.body[0] as Extract<Statement, { kind: "return" }>;
      return group([...head, " =", ...this.beforeBreak(ret.value.span.offset), indent([line, this.expr(ret.value)])]);
    }
    return [...head, " ", this.bodyBlock(f.returnType.span.endOffset, f.body, (s) => this.statement(s as Statement))];
  }

  private statement(s: Statement): Doc {
    switch (s.kind) {
      case "let":
        return this.assignment(["let ", this.pattern(s.pattern)], s.value);
      case "assign":
        return this.assignment(s.target.name, s.value);
      case "if":
        return this.ifChain(s, (b) => this.statement(b as Statement));
      case "for":
        return ["for ", s.variable.name, " in ", this.expr(s.iterable), " ", this.bodyBlock(s.iterable.span.endOffset, s.body, (b) => this.statement(b as Statement))];
      case "return":
        return ["return ", this.expr(s.value)];
    }
  }

  /** `if a { } else if b { } else { }`; `else { if ... }` written with braces keeps them. */
  private ifChain(s: { condition: Expr; then: readonly Body[]; else: readonly Body[]; hasElse: boolean; span: Span }, print: (b: Body) => Doc): Doc {
    const parts: Doc[] = ["if ", this.expr(s.condition), " ", this.bodyBlock(s.condition.span.endOffset, s.then, print)];
    if (!s.hasElse) return parts;
    const only = s.else.length === 1 ? s.else[0]! : undefined;
    const elseIf = only && (only.kind === "if" || only.kind === "ifMember") && /\belse$/.test(this.code.slice(0, only.span.offset).trimEnd());
    if (elseIf) return [...parts, " else ", this.node(only.span, () => print(only))];
    const elseAt = this.after(this.lastEnd);
    return [...parts, " else ", this.bodyBlock(elseAt + "else".length, s.else, print)];
  }

  /** `lhs = value`: calls and lists break inside their brackets, operator chains after the `=`. */
  private assignment(lhs: Doc, value: Expr): Doc {
    if (value.kind === "binary") return group([lhs, " =", ...this.beforeBreak(value.span.offset), indent([line, this.expr(value)])]);
    return [lhs, " = ", this.expr(value)];
  }
}
