/**
 * Position queries on the AST: every node has a `kind` and a `span`, so one generic walk finds the
 * chain of nodes around an offset without a visitor per node type.
 */
import type { AstNode, Program } from "../grammar/ast.ts";
import type { Span } from "../diagnostics/span.ts";

export type AnyNode = AstNode & { readonly span: Span };

function isNode(v: unknown): v is AnyNode {
  return typeof v === "object" && v !== null && "kind" in v && "span" in v;
}

function children(n: object): AnyNode[] {
  const out: AnyNode[] = [];
  for (const v of Object.values(n)) {
    if (Array.isArray(v)) for (const x of v) if (isNode(x)) out.push(x);
    if (isNode(v)) out.push(v);
  }
  return out;
}

/** The nodes whose span contains `offset` (end inclusive, so a cursor just after a name counts), outermost first. */
export function nodesAt(program: Program, offset: number): AnyNode[] {
  const chain: AnyNode[] = [];
  let here: AnyNode | undefined = program;
  while (here) {
    chain.push(here);
    here = children(here)
      .filter((c) => c.span.offset <= offset && offset <= c.span.endOffset)
      .sort((a, b) => a.span.endOffset - a.span.offset - (b.span.endOffset - b.span.offset))[0];
  }
  return chain;
}

/** Every node under `root`, depth first. */
export function* walk(root: object): Generator<AnyNode> {
  for (const c of children(root)) {
    yield c;
    yield* walk(c);
  }
}
