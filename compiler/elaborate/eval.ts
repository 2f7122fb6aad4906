/**
 * Evaluation of forward expressions and statements: compile-time values are computed, tensor
 * operations become graph nodes. Loops and conditionals are unrolled here.
 */
import type { Expr, ForwardMember, IndexItem, Member, Pattern, Statement } from "../../grammar/ast.ts";
import type { Span } from "../../diagnostics/span.ts";
import { ShapeRuleError } from "../ir/builder.ts";
import { type Dim, dimDiv, dimMul } from "../ir/dims.ts";
import type { BinaryOp, CompareOp } from "../ir/types.ts";
import { BUILTINS, type CallArgs, toTensor } from "./builtins/index.ts";
import { ElabError, type ElabContext, type Env, Poisoned, Scope, suggest } from "./context.ts";
import { callModuleValue } from "./instantiate.ts";
import { POISON, type Value, asDim, bool, describe, float, int, isPoison, tensor } from "./values.ts";

export function render(e: Expr): string {
  switch (e.kind) {
    case "int":
    case "float":
      return e.raw;
    case "name":
      return e.name;
    case "member":
      return `${render(e.object)}.${e.property.name}`;
    case "binary":
      return `${render(e.left)}${e.op === "*" || e.op === "/" ? e.op : ` ${e.op} `}${render(e.right)}`;
    case "unary":
      return `${e.op === "not" ? "not " : e.op}${render(e.operand)}`;
    case "string":
      return JSON.stringify(e.value);
    case "bool":
      return String(e.value);
    default:
      return "…";
  }
}

/**
 * A module's forward named `name` (`forward embed(...)`), or its default forward when `name` is
 * undefined; conditional members are searched too.
 */
export function namedForward(members: readonly Member[], name: string | undefined): ForwardMember | undefined {
  for (const m of members) {
    if (m.kind === "forward" && m.name?.name === name) return m;
    if (m.kind === "ifMember") {
      const f = namedForward(m.then, name) ?? namedForward(m.else, name);
      if (f) return f;
    }
  }
  return undefined;
}

export function lookupName(name: string, span: Span, env: Env, ctx: ElabContext): Value {
  const local = env.scope.lookup(name);
  if (local) return local;
  const bound = env.dims.get(name);
  if (bound) return typeof bound.value === "number" ? int(bound.value) : { k: "dim", v: bound.value };
  const member = env.inst?.members.get(name);
  if (member) return member;
  const method = env.inst ? namedForward(env.inst.decl.members, name) : undefined;
  if (method) return { k: "method", inst: env.inst!, forward: method };
  if (name === "training") return bool(ctx.training);
  const top = ctx.resolved.scopes.get(env.file)?.get(name);
  if (top) {
    if (top.decl.kind === "module") return { k: "callable", name, decl: top.decl, file: top.file };
    throw new ElabError("IV3006", span, { expected: "a value", found: `${top.decl.kind} \`${name}\``, help: "" });
  }
  if (name in BUILTINS) return { k: "callable", name };
  const candidates = [
    ...env.scope.names(),
    ...env.dims.keys(),
    ...(env.inst ? env.inst.members.keys() : []),
    ...(ctx.resolved.scopes.get(env.file)?.keys() ?? []),
    ...Object.keys(BUILTINS),
  ];
  const near = suggest(name, candidates);
  throw new ElabError("IV2001", span, { name, help: near ? `did you mean \`${near}\`?` : "" });
}

const ARITH: Record<string, BinaryOp> = { "+": "add", "-": "sub", "*": "mul", "/": "div", "**": "pow" };
const COMPARE: Record<string, CompareOp> = { "<": "lt", "<=": "le", ">": "gt", ">=": "ge", "==": "eq", "!=": "ne" };

function constBinary(op: string, a: Value, b: Value, span: Span): Value | undefined {
  if (a.k === "bool" && b.k === "bool") {
    if (op === "and") return bool(a.v && b.v);
    if (op === "or") return bool(a.v || b.v);
    if (op === "==") return bool(a.v === b.v);
    if (op === "!=") return bool(a.v !== b.v);
  }
  if (a.k === "string" && b.k === "string") {
    if (op === "==") return bool(a.v === b.v);
    if (op === "!=") return bool(a.v !== b.v);
    if (op === "+") return { k: "string", v: a.v + b.v };
  }
  if (a.k === "dim" || b.k === "dim") {
    const x = asDim(a);
    const y = asDim(b);
    if (x === undefined || y === undefined) return undefined;
    if (op === "*") return dimValue(dimMul(x, y));
    if (op === "/") {
      const q = dimDiv(x, y);
      if (q === undefined) throw new ElabError("IV3008", span, { message: `${x} is not divisible by ${y}`, help: "" });
      return dimValue(q);
    }
    if (op === "==") return bool(String(x) === String(y));
    throw new ElabError("IV3008", span, { message: `\`${op}\` is not defined on symbolic size ${typeof x === "string" ? x : y}`, help: "symbolic sizes (like the batch B) support only * and exact /" });
  }
  if ((a.k === "int" || a.k === "float") && (b.k === "int" || b.k === "float")) {
    const isInt = a.k === "int" && b.k === "int";
    const x = a.v;
    const y = b.v;
    switch (op) {
      case "+":
        return isInt ? int(x + y) : float(x + y);
      case "-":
        return isInt ? int(x - y) : float(x - y);
      case "*":
        return isInt ? int(x * y) : float(x * y);
      case "/":
        if (y === 0) throw new ElabError("IV3008", span, { message: "division by zero", help: "" });
        return isInt && x % y === 0 ? int(x / y) : float(x / y);
      case "%":
        return isInt ? int(((x % y) + y) % y) : float(x % y);
      case "**":
        return isInt && y >= 0 ? int(x ** y) : float(x ** y);
      case "<":
        return bool(x < y);
      case "<=":
        return bool(x <= y);
      case ">":
        return bool(x > y);
      case ">=":
        return bool(x >= y);
      case "==":
        return bool(x === y);
      case "!=":
        return bool(x !== y);
    }
  }
  return undefined;
}

function dimValue(d: Dim): Value {
  return typeof d === "number" ? int(d) : { k: "dim", v: d };
}

/** Runs `f`, turning a builder shape failure into a located diagnostic. */
export function located<T>(span: Span, opName: string, f: () => T): T {
  try {
    return f();
  } catch (e) {
    if (e instanceof ShapeRuleError) throw new ElabError("IV3005", span, { op: opName, message: e.message });
    throw e;
  }
}

export function evalExpr(e: Expr, env: Env, ctx: ElabContext): Value {
  switch (e.kind) {
    case "int":
      return int(e.value);
    case "float":
      return float(e.value);
    case "bool":
      return bool(e.value);
    case "string":
      return { k: "string", v: e.value };
    case "name":
      return lookupName(e.name, e.span, env, ctx);
    case "list":
      return { k: "list", items: e.elements.map((x) => evalExpr(x, env, ctx)) };
    case "tuple":
      return { k: "tuple", items: e.elements.map((x) => evalExpr(x, env, ctx)) };
    case "range": {
      const a = evalExpr(e.start, env, ctx);
      const b = evalExpr(e.end, env, ctx);
      if (a.k !== "int" || b.k !== "int") {
        throw new ElabError("IV3006", e.span, { expected: "integer bounds", found: `${describe(a)}..${describe(b)}`, help: "" });
      }
      return { k: "list", items: Array.from({ length: Math.max(0, b.v - a.v) }, (_, i) => int(a.v + i)) };
    }
    case "error":
      return POISON;
    case "member":
      return evalMember(e.object, e.property.name, e.property.span, env, ctx);
    case "unary": {
      const x = evalExpr(e.operand, env, ctx);
      if (isPoison(x)) return x;
      if (e.op === "not") {
        if (x.k === "bool") return bool(!x.v);
        throw new ElabError("IV3006", e.span, { expected: "a compile-time bool after `not`", found: describe(x), help: "" });
      }
      if (e.op === "+") return x;
      if (x.k === "int") return int(-x.v);
      if (x.k === "float") return float(-x.v);
      if (x.k === "tensor") return tensor(located(e.span, "negation", () => ctx.b.unary("neg", x.id, { spans: [e.span] })));
      throw new ElabError("IV3006", e.span, { expected: "a number or tensor", found: describe(x), help: "" });
    }
    case "binary":
      return evalBinary(e.op, e.left, e.right, e.span, env, ctx);
    case "call":
      return evalCall(e.callee, e.args, e.span, env, ctx);
    case "index":
      return evalIndex(e.object, e.indices, e.span, env, ctx);
  }
}

function evalMember(objectExpr: Expr, name: string, span: Span, env: Env, ctx: ElabContext): Value {
  const obj = evalExpr(objectExpr, env, ctx);
  if (isPoison(obj)) return obj;
  if (obj.k === "config") {
    const f = obj.fields.get(name);
    if (f) return f;
    const near = suggest(name, [...obj.fields.keys()]);
    throw new ElabError("IV2009", span, { what: `config \`${obj.name}\``, member: name, help: near ? `did you mean \`${near}\`?` : `its keys are ${[...obj.fields.keys()].join(", ")}` });
  }
  if (obj.k === "module") {
    const m = obj.inst.members.get(name);
    if (m) return m;
    const fwd = namedForward(obj.inst.decl.members, name);
    if (fwd) return { k: "method", inst: obj.inst, forward: fwd };
    const near = suggest(name, [...obj.inst.members.keys()]);
    throw new ElabError("IV2009", span, { what: `module \`${obj.inst.decl.name.name}\``, member: name, help: near ? `did you mean \`${near}\`?` : "" });
  }
  throw new ElabError("IV2009", span, { what: describe(obj), member: name, help: "" });
}

function evalBinary(op: string, l: Expr, r: Expr, span: Span, env: Env, ctx: ElabContext): Value {
  const a = evalExpr(l, env, ctx);
  const b = evalExpr(r, env, ctx);
  if (isPoison(a) || isPoison(b)) return POISON;
  const folded = constBinary(op, a, b, span);
  if (folded) return folded;
  if (a.k !== "tensor" && b.k !== "tensor") {
    throw new ElabError("IV3006", span, { expected: `operands for \`${op}\``, found: `${describe(a)} and ${describe(b)}`, help: "" });
  }
  const origin = { spans: [span] };
  if (op === "@") {
    const x = toTensor(a, ctx, span);
    const y = toTensor(b, ctx, span);
    return tensor(located(span, "matmul", () => ctx.b.matmul(x, y, origin)));
  }
  const like = a.k === "tensor" ? a.id : (b as { id: number }).id;
  const x = toTensor(a, ctx, span, like);
  const y = toTensor(b, ctx, span, like);
  if (op in ARITH) return tensor(located(span, `\`${op}\``, () => ctx.b.binary(ARITH[op]!, x, y, origin)));
  if (op in COMPARE) return tensor(located(span, `\`${op}\``, () => ctx.b.compare(COMPARE[op]!, x, y, origin)));
  if (op === "%") {
    // x mod y = x - floor(x / y) * y, for floats
    return tensor(
      located(span, "`%`", () => {
        const q = ctx.b.unary("floor", ctx.b.binary("div", x, y, origin), origin);
        return ctx.b.binary("sub", x, ctx.b.binary("mul", q, y, origin), origin);
      }),
    );
  }
  throw new ElabError("IV3006", span, { expected: `compile-time bools for \`${op}\``, found: "a tensor", help: "use select(c, a, b) or comparisons on tensors" });
}

export function evalArgs(args: readonly { name?: { name: string }; value: Expr; span: Span }[], env: Env, ctx: ElabContext): CallArgs {
  const positional: Value[] = [];
  const positionalSpans: Span[] = [];
  const keyword = new Map<string, Value>();
  const keywordSpans = new Map<string, Span>();
  for (const a of args) {
    const v = evalExpr(a.value, env, ctx);
    if (a.name) {
      keyword.set(a.name.name, v);
      keywordSpans.set(a.name.name, a.span);
    } else {
      positional.push(v);
      positionalSpans.push(a.span);
    }
  }
  return { positional, positionalSpans, keyword, keywordSpans };
}

function evalCall(calleeExpr: Expr, argExprs: readonly { name?: { name: string }; value: Expr; span: Span }[], span: Span, env: Env, ctx: ElabContext): Value {
  const callee = evalExpr(calleeExpr, env, ctx);
  if (isPoison(callee)) return POISON;
  const args = evalArgs(argExprs, env, ctx);
  if ([...args.positional, ...args.keyword.values()].some(isPoison)) return POISON;
  if (callee.k === "callable" && !callee.decl) {
    return BUILTINS[callee.name]!(args, ctx, span, env);
  }
  return callModuleValue(callee, args, span, env, ctx);
}

function evalIndex(objectExpr: Expr, items: readonly IndexItem[], span: Span, env: Env, ctx: ElabContext): Value {
  const obj = evalExpr(objectExpr, env, ctx);
  if (isPoison(obj)) return obj;
  if (obj.k === "moduleList" || obj.k === "list" || obj.k === "tuple") {
    if (items.length !== 1 || items[0]!.kind === "slice" || items[0]!.kind === "ellipsis") {
      throw new ElabError("IV3006", span, { expected: "one integer index", found: "a slice", help: "" });
    }
    const i = evalExpr(items[0] as Expr, env, ctx);
    if (i.k !== "int") throw new ElabError("IV3006", items[0]!.span, { expected: "an integer index", found: describe(i), help: "" });
    const v = obj.k === "moduleList" ? obj.items.get(i.v) : obj.items[i.v < 0 ? obj.items.length + i.v : i.v];
    if (!v) {
      const size = obj.k === "moduleList" ? obj.items.size : obj.items.length;
      throw new ElabError("IV3008", items[0]!.span, { message: `index ${i.v} is out of range for ${describe(obj)} (size ${size})`, help: "" });
    }
    return v;
  }
  if (obj.k !== "tensor") throw new ElabError("IV3006", span, { expected: "a tensor or list to index", found: describe(obj), help: "" });
  return tensor(indexTensor(obj.id, items, span, env, ctx));
}

function intOf(e: Expr | undefined, env: Env, ctx: ElabContext, fallback: Dim): Dim {
  if (!e) return fallback;
  const v = evalExpr(e, env, ctx);
  const d = asDim(v);
  if (d === undefined) throw new ElabError("IV3006", e.span, { expected: "an integer", found: describe(v), help: "" });
  return d;
}

/** `x[:, 0]`, `x[..., 1:]`, `x[:, ::2]`: slices, then drops the axes indexed by a plain integer. */
function indexTensor(x: number, items: readonly IndexItem[], span: Span, env: Env, ctx: ElabContext): number {
  const shape = ctx.b.shapeOf(x);
  const ell = items.findIndex((it) => it.kind === "ellipsis");
  const explicit = items.filter((it) => it.kind !== "ellipsis").length;
  if (explicit > shape.length) {
    throw new ElabError("IV3003", span, { expected: `at least ${explicit}`, found: shape.length, shape: `[${shape.join(", ")}]` });
  }
  const expanded: (IndexItem | undefined)[] = [];
  for (let i = 0; i < items.length; i++) {
    if (i === ell) for (let k = 0; k < shape.length - explicit; k++) expanded.push(undefined);
    else expanded.push(items[i]);
  }
  while (expanded.length < shape.length) expanded.push(undefined);
  const starts: number[] = [];
  const ends: Dim[] = [];
  const steps: number[] = [];
  const keep: Dim[] = [];
  let needSlice = false;
  expanded.forEach((it, axis) => {
    const size = shape[axis]!;
    const norm = (v: Dim): Dim => (typeof v === "number" && v < 0 && typeof size === "number" ? size + v : v);
    if (!it || (it.kind === "slice" && !it.start && !it.stop && !it.step)) {
      starts.push(0);
      ends.push(size);
      steps.push(1);
      keep.push(size);
    } else if (it.kind === "slice") {
      const start = norm(intOf(it.start, env, ctx, 0));
      const stop = norm(intOf(it.stop, env, ctx, size));
      const step = intOf(it.step, env, ctx, 1);
      if (typeof start !== "number" || typeof step !== "number" || step <= 0) {
        throw new ElabError("IV3008", it.span, { message: "slice start and step must be concrete (step > 0)", help: "" });
      }
      starts.push(start);
      ends.push(stop);
      steps.push(step);
      keep.push(-1);
      needSlice = true;
    } else {
      const i = norm(intOf(it as Expr, env, ctx, 0));
      if (typeof i !== "number") throw new ElabError("IV3008", it.span, { message: "an index must be a concrete integer", help: "" });
      starts.push(i);
      ends.push(i + 1);
      steps.push(1);
      keep.push(0);
      needSlice = true;
    }
  });
  const origin = { spans: [span] };
  return located(span, "indexing", () => {
    let y = needSlice ? ctx.b.slice(x, starts, ends, steps, origin) : x;
    if (keep.some((k) => k === 0)) {
      const sliced = ctx.b.shapeOf(y);
      y = ctx.b.reshape(y, sliced.filter((_, i) => keep[i] !== 0), origin);
    }
    return y;
  });
}

// ─── Statements ─────────────────────────────────────────────────────────────────────────────────

export type Flow = { returned: true; value: Value; span: Span } | { returned: false };

function bindPattern(p: Pattern, v: Value, env: Env, span: Span): void {
  if (p.kind === "namePattern") {
    env.scope.define(p.name.name, v);
    return;
  }
  if (isPoison(v)) {
    for (const el of p.elements) bindPattern(el, POISON, env, span);
    return;
  }
  if (v.k !== "tuple" && v.k !== "list") throw new ElabError("IV3006", p.span, { expected: `a tuple of ${p.elements.length}`, found: describe(v), help: "" });
  if (v.items.length !== p.elements.length) {
    throw new ElabError("IV3006", p.span, { expected: `${p.elements.length} values`, found: `${v.items.length}`, help: "" });
  }
  p.elements.forEach((el, i) => bindPattern(el, v.items[i]!, env, span));
}

function poisonPattern(p: Pattern, env: Env): void {
  if (p.kind === "namePattern") env.scope.define(p.name.name, POISON);
  else p.elements.forEach((el) => poisonPattern(el, env));
}

function condition(e: Expr, env: Env, ctx: ElabContext): boolean | undefined {
  const c = evalExpr(e, env, ctx);
  if (isPoison(c)) return undefined;
  if (c.k !== "bool") {
    throw new ElabError("IV3006", e.span, { expected: "a compile-time bool", found: describe(c), help: c.k === "tensor" ? "for a per-element choice use select(cond, a, b)" : "" });
  }
  return c.v;
}

function iterable(e: Expr, env: Env, ctx: ElabContext): readonly Value[] | undefined {
  const it = evalExpr(e, env, ctx);
  if (isPoison(it)) return undefined;
  if (it.k === "list" || it.k === "tuple") return it.items;
  throw new ElabError("IV3006", e.span, { expected: "a range or list to loop over", found: describe(it), help: "write `for i in 0..n`" });
}

/** Runs statements; every statement's error is reported and the run goes on, poisoning what it defined. */
export function execBlock(stmts: readonly Statement[], env: Env, ctx: ElabContext): Flow {
  for (const s of stmts) {
    try {
      const flow = execStatement(s, env, ctx);
      if (flow.returned) return flow;
    } catch (e) {
      if (!(e instanceof ElabError)) throw e;
      if (!(e instanceof Poisoned)) ctx.reportError(e);
      if (s.kind === "let") poisonPattern(s.pattern, env);
      else if (s.kind === "assign") env.scope.assign(s.target.name, POISON);
      else if (s.kind === "return") return { returned: true, value: POISON, span: s.span };
    }
  }
  return { returned: false };
}

function execStatement(s: Statement, env: Env, ctx: ElabContext): Flow {
  switch (s.kind) {
    case "let":
      bindPattern(s.pattern, evalExpr(s.value, env, ctx), env, s.span);
      return { returned: false };
    case "assign": {
      const v = evalExpr(s.value, env, ctx);
      if (!env.scope.assign(s.target.name, v)) throw new ElabError("IV2010", s.target.span, { name: s.target.name });
      return { returned: false };
    }
    case "return":
      return { returned: true, value: evalExpr(s.value, env, ctx), span: s.span };
    case "if": {
      const c = condition(s.condition, env, ctx);
      if (c === undefined) return { returned: false };
      return execBlock(c ? s.then : s.else, { ...env, scope: new Scope(env.scope) }, ctx);
    }
    case "for": {
      const items = iterable(s.iterable, env, ctx);
      if (!items) return { returned: false };
      for (const item of items) {
        const scope = new Scope(env.scope);
        scope.define(s.variable.name, item);
        const flow = execBlock(s.body, { ...env, scope }, ctx);
        if (flow.returned) return flow;
      }
      return { returned: false };
    }
  }
}

export { condition, iterable };
