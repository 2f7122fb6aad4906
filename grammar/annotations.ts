/**
 * Checks of annotations and `@init(...)` initializers. The set is closed (docs/language.md), so
 * mistakes are reported by `ivc check` before any elaboration.
 */
import { makeDiagnostic } from "../diagnostics/diagnostic.ts";
import type { Annotation, Argument, Expr } from "./ast.ts";
import { report, type BuildContext } from "./cst-util.ts";
import { closest } from "./suggest.ts";

interface InitParam {
  readonly name: string;
  readonly required: boolean;
}

/**
 * Initializer name -> its parameters in positional order. Optional ones default as in PyTorch's
 * nn.init (normal std 1, uniform [0, 1), trunc_normal cut at +-2, kaiming a = sqrt(5)), matching
 * compiler/elaborate/init.ts.
 */
export const INITIALIZERS: Readonly<Record<string, readonly InitParam[]>> = {
  zeros: [],
  ones: [],
  constant: [{ name: "value", required: true }],
  normal: [
    { name: "std", required: false },
    { name: "mean", required: false },
  ],
  trunc_normal: [
    { name: "std", required: false },
    { name: "mean", required: false },
    { name: "a", required: false },
    { name: "b", required: false },
  ],
  uniform: [
    { name: "a", required: false },
    { name: "b", required: false },
  ],
  xavier_uniform: [],
  kaiming_uniform: [{ name: "a", required: false }],
  sinusoidal: [],
};

export const ANNOTATIONS = ["frozen", "no_decay", "init"] as const;

function initUsage(name: string): string {
  const params = INITIALIZERS[name] ?? [];
  if (params.length === 0) return `@init(${name})`;
  return `@init(${name}(${params.map((p) => (p.required ? `${p.name} = ...` : `${p.name}?`)).join(", ")}))`;
}

function knownInitializers(): string {
  return Object.keys(INITIALIZERS)
    .map((k) => `\`${k}\``)
    .join(", ");
}

function checkInitializer(ctx: BuildContext, init: Expr): void {
  const callee = init.kind === "call" ? init.callee : init;
  if (callee.kind !== "name") {
    report(ctx, () =>
      makeDiagnostic("IV1041", init.span, {
        name: "init",
        problem: "expected an initializer name",
        usage: "write `@init(zeros)` or `@init(normal(std = 0.02))`",
      }),
    );
    return;
  }
  const params = INITIALIZERS[callee.name];
  if (!params) {
    report(ctx, () => {
      const guess = closest(callee.name, Object.keys(INITIALIZERS));
      const suggestion = guess ? `; did you mean \`${guess}\`?` : "";
      return makeDiagnostic("IV1042", callee.span, { name: callee.name, known: knownInitializers(), suggestion });
    });
    return;
  }
  const args: readonly Argument[] = init.kind === "call" ? init.args : [];
  const given = new Set<string>();
  const problem = (text: string, span = init.span) =>
    report(ctx, () => makeDiagnostic("IV1043", span, { name: callee.name, problem: text, usage: initUsage(callee.name) }));
  let positional = 0;
  for (const arg of args) {
    let param: InitParam | undefined;
    if (arg.name) {
      param = params.find((p) => p.name === arg.name!.name);
      if (!param) {
        const takes = params.length === 0 ? "it takes no arguments" : `it takes ${params.map((p) => `\`${p.name}\``).join(", ")}`;
        problem(`unknown argument \`${arg.name.name}\`; ${takes}`, arg.span);
        return;
      }
    } else {
      param = params[positional++];
      if (!param) {
        problem(
          params.length === 0 ? "it takes no arguments" : `too many arguments: it takes at most ${params.length}`,
          arg.span,
        );
        return;
      }
    }
    if (given.has(param.name)) {
      problem(`\`${param.name}\` is given twice`, arg.span);
      return;
    }
    given.add(param.name);
  }
  const missing = params.filter((p) => p.required && !given.has(p.name));
  if (missing.length > 0) problem(`missing ${missing.map((p) => `\`${p.name}\``).join(" and ")}`);
}

/** Reports unknown annotations, wrong arguments and repeats. */
export function checkAnnotations(ctx: BuildContext, annotations: readonly Annotation[]): void {
  const seen = new Set<string>();
  for (const a of annotations) {
    const name = a.name.name;
    if (name === "") continue;
    if (seen.has(name)) report(ctx, () => makeDiagnostic("IV1044", a.span, { name }));
    seen.add(name);
    if (name === "frozen" || name === "no_decay") {
      if (a.args && a.args.length > 0) {
        report(ctx, () =>
          makeDiagnostic("IV1041", a.span, { name, problem: "it takes no arguments", usage: `write \`@${name}\`` }),
        );
      }
      continue;
    }
    if (name === "init") {
      const args = a.args ?? [];
      const usage = "write `@init(zeros)` or `@init(trunc_normal(std = 0.02))`";
      if (args.length !== 1 || args[0]!.name) {
        const problem =
          args.length === 0
            ? "it needs one initializer"
            : args.length > 1
              ? "it takes one initializer"
              : "the initializer is not a keyword argument";
        report(ctx, () => makeDiagnostic("IV1041", a.span, { name, problem, usage }));
        continue;
      }
      checkInitializer(ctx, args[0]!.value);
      continue;
    }
    const atName = { ...a.span, endOffset: a.name.span.endOffset, endLine: a.name.span.endLine, endCol: a.name.span.endCol };
    report(ctx, () => {
      const guess = closest(name, ANNOTATIONS);
      return makeDiagnostic("IV1040", atName, { name, suggestion: guess ? `; did you mean \`@${guess}\`?` : "" });
    });
  }
}
