/**
 * Prints an AST back to .ivm text with every operator parenthesised, for the round-trip test: if
 * parse(print(ast)) equals ast (spans aside), the AST kept everything the source said.
 */
import type {
  Annotation,
  Argument,
  DottedPath,
  Member,
  Parameter,
  Pattern,
  Program,
  Statement,
  StageItem,
  TopDecl,
} from "../../grammar/ast.ts";
import { sexpr, typeText } from "./helpers.ts";

const args = (as: readonly Argument[]) =>
  as.map((a) => (a.name ? `${a.name.name} = ${sexpr(a.value)}` : sexpr(a.value))).join(", ");
const path = (p: DottedPath) => p.segments.map((s) => s.text).join(".");
const params = (ps: readonly Parameter[]) =>
  ps.map((p) => `${p.name.name}: ${typeText(p.type)}${p.default ? ` = ${sexpr(p.default)}` : ""}`).join(", ");
const annotation = (a: Annotation) => `@${a.name.name}${a.args ? `(${args(a.args)})` : ""}`;

function pattern(p: Pattern): string {
  return p.kind === "namePattern" ? p.name.name : `(${p.elements.map(pattern).join(", ")}${p.elements.length === 1 ? "," : ""})`;
}

function statement(s: Statement): string {
  switch (s.kind) {
    case "let":
      return `let ${pattern(s.pattern)} = ${sexpr(s.value)}`;
    case "assign":
      return `${s.target.name} = ${sexpr(s.value)}`;
    case "return":
      return `return ${sexpr(s.value)}`;
    case "for":
      return `for ${s.variable.name} in ${sexpr(s.iterable)} {\n${s.body.map(statement).join("\n")}\n}`;
    case "if":
      return `if ${sexpr(s.condition)} {\n${s.then.map(statement).join("\n")}\n}${s.hasElse ? ` else {\n${s.else.map(statement).join("\n")}\n}` : ""}`;
  }
}

function member(m: Member): string {
  switch (m.kind) {
    case "letMember":
      return `let ${m.name.name} = ${sexpr(m.value)}`;
    case "submodule": {
      const target = `${m.target.name.name}${m.target.index ? `[${sexpr(m.target.index)}]` : ""}`;
      return `${m.annotations.map((a) => `${annotation(a)} `).join("")}${target} = ${sexpr(m.value)}`;
    }
    case "tensorMember": {
      const target = `${m.target.name.name}${m.target.index ? `[${sexpr(m.target.index)}]` : ""}`;
      return `${m.role} ${target}: ${typeText(m.type)} ${m.annotations.map(annotation).join(" ")}`;
    }
    case "ifMember":
      return `if ${sexpr(m.condition)} {\n${m.then.map(member).join("\n")}\n}${m.hasElse ? ` else {\n${m.else.map(member).join("\n")}\n}` : ""}`;
    case "forMember":
      return `for ${m.variable.name} in ${sexpr(m.iterable)} {\n${m.body.map(member).join("\n")}\n}`;
    case "forward": {
      const head = `forward${m.name ? ` ${m.name.name}` : ""}(${params(m.params)}) -> ${typeText(m.returnType)}`;
      if (m.expressionBody && m.body[0]?.kind === "return") return `${head} = ${sexpr(m.body[0].value)}`;
      return `${head} {\n${m.body.map(statement).join("\n")}\n}`;
    }
  }
}

function stageItem(i: StageItem): string {
  if (i.kind === "stageCall") return `${i.key} ${sexpr(i.value)}`;
  if (i.kind === "stageSetting") return `${i.name.name} ${sexpr(i.value)}`;
  return `${i.kind} ${i.paths.map(path).join(", ")}`;
}

function decl(d: TopDecl): string {
  switch (d.kind) {
    case "config":
      return `config ${d.name.name} {\n${d.fields.map((f) => `${f.name.name}: ${typeText(f.type)}${f.default ? ` = ${sexpr(f.default)}` : ""}`).join("\n")}\n}`;
    case "preset":
      return `preset ${d.name.name}: ${d.base.name} {\n${d.overrides.map((o) => `${path(o.key)} = ${sexpr(o.value)}`).join("\n")}\n}`;
    case "module":
      return `${d.role} ${d.name.name}(${params(d.params)}) {\n${d.members.map(member).join("\n")}\n}`;
    case "trainStage":
      return `train stage ${d.name.name} for ${d.model.name}${d.extends ? ` extends ${d.extends.name}` : ""} {\n${d.items.map(stageItem).join("\n")}\n}`;
  }
}

export function printProgram(p: Program): string {
  const imports = p.imports.map(
    (i) =>
      `import { ${i.names.map((n) => `${n.name.name}${n.alias ? ` as ${n.alias.name}` : ""}`).join(", ")} } from ${JSON.stringify(i.from)}`,
  );
  return [...imports, ...p.decls.map(decl)].join("\n") + "\n";
}
