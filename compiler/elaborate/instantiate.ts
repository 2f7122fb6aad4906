/**
 * Module instantiation (members, sub-modules, parameters with their dotted paths, init and frozen
 * flags) and forward calls (signature matching, body evaluation, return type check).
 */
import type { Annotation, Expr, ForwardMember, Member, ModuleDecl, Parameter, TypeExpr } from "../../grammar/ast.ts";
import type { Span } from "../../diagnostics/span.ts";
import type { Dim } from "../ir/dims.ts";
import type { Init } from "../ir/types.ts";
import type { CallArgs } from "./builtins/index.ts";
import { ElabError, type ElabContext, type Env, Scope } from "./context.ts";
import { condition, evalArgs, evalExpr, execBlock, iterable, located, namedForward, render } from "./eval.ts";
import { type InitSpec, parseInitSpec } from "./init.ts";
import { instantiateTensorType, matchTensorType, typeText } from "./signature.ts";
import { type ModuleInstance, POISON, type Value, describe, float, isPoison } from "./values.ts";

const MAX_DEPTH = 64;

/** Parameters without `@init` start like timm's ViT weights: trunc_normal(std=0.02). */
const DEFAULT_PARAM_INIT: Init = { kind: "trunc_normal", std: 0.02, mean: 0, a: -2, b: 2 };

export const dimEvaluator =
  (ctx: ElabContext) =>
  (e: Expr, env: Env): Value =>
    evalExpr(e, env, ctx);

interface InstanceOptions {
  readonly path: string;
  readonly frozen: boolean;
  readonly init?: InitSpec;
  readonly span: Span;
}

function checkValueType(type: TypeExpr, v: Value, span: Span, ctx: ElabContext): Value {
  if (isPoison(v)) return v;
  if (type.kind === "namedType") {
    const t = type.name.name;
    if (t === "int" && v.k === "int") return v;
    if (t === "int" && v.k === "dim") return v;
    if (t === "float" && (v.k === "float" || v.k === "int")) return float(v.v);
    if (t === "bool" && v.k === "bool") return v;
    if (t === "string" && v.k === "string") return v;
    if (t === "list" && (v.k === "list" || v.k === "tuple")) return { k: "list", items: v.items };
    if (v.k === "config" && v.name === t) return v;
    if (v.k === "config") {
      const ref = ctx.resolved.scopes.get(span.file)?.get(t);
      if (ref?.decl.kind === "config" && ref.decl.name.name === v.name) return v;
    }
  }
  if (type.kind === "tensorType" && v.k === "tensor") return v;
  throw new ElabError("IV3006", span, { expected: typeText(type, render), found: describe(v), help: "" });
}

/** Binds call arguments to declared parameters (positional first, then keywords, then defaults). */
export function bindParameters(
  params: readonly Parameter[],
  args: CallArgs,
  calleeName: string,
  span: Span,
  env: Env,
  ctx: ElabContext,
  define: (name: string, v: Value, p: Parameter, at: Span) => void,
): void {
  if (args.positional.length > params.length) {
    throw new ElabError("IV2008", args.positionalSpans[params.length] ?? span, {
      callee: calleeName,
      message: `expected at most ${params.length} arguments, found ${args.positional.length}`,
      help: `the parameters are ${params.map((p) => p.name.name).join(", ") || "none"}`,
    });
  }
  for (const k of args.keyword.keys()) {
    if (!params.some((p) => p.name.name === k)) {
      throw new ElabError("IV2008", args.keywordSpans.get(k) ?? span, {
        callee: calleeName,
        message: `no parameter named \`${k}\``,
        help: `the parameters are ${params.map((p) => p.name.name).join(", ") || "none"}`,
      });
    }
  }
  params.forEach((p, i) => {
    const name = p.name.name;
    if (i < args.positional.length) {
      if (args.keyword.has(name)) {
        throw new ElabError("IV2008", args.keywordSpans.get(name) ?? span, { callee: calleeName, message: `\`${name}\` is given twice`, help: "" });
      }
      define(name, args.positional[i]!, p, args.positionalSpans[i] ?? span);
    } else if (args.keyword.has(name)) {
      define(name, args.keyword.get(name)!, p, args.keywordSpans.get(name) ?? span);
    } else if (p.default) {
      define(name, evalExpr(p.default, env, ctx), p, p.default.span);
    } else {
      throw new ElabError("IV2008", span, { callee: calleeName, message: `missing argument \`${name}\``, help: `\`${calleeName}\` is declared at ${p.span.file}:${p.span.line}` });
    }
  });
}

export function instantiateModule(decl: ModuleDecl, file: string, args: CallArgs, opts: InstanceOptions, ctx: ElabContext): ModuleInstance {
  if (ctx.depth >= MAX_DEPTH) throw new ElabError("IV2011", opts.span, { name: decl.name.name, limit: MAX_DEPTH });
  const inst: ModuleInstance = { decl, file, path: opts.path, members: new Map(), frozen: opts.frozen, span: opts.span };
  const env: Env = { scope: new Scope(), file, inst, dims: new Map() };
  bindParameters(decl.params, args, decl.name.name, opts.span, env, ctx, (name, v, p, at) => {
    inst.members.set(name, checkValueType(p.type, v, at, ctx));
  });
  ctx.depth++;
  try {
    evalMembers(decl.members, env, inst, opts, ctx);
  } finally {
    ctx.depth--;
  }
  ctx.instances.push(inst);
  return inst;
}

function childPath(base: string, name: string, index?: number): string {
  const own = index === undefined ? name : `${name}.${index}`;
  return base ? `${base}.${own}` : own;
}

function store(inst: ModuleInstance, name: string, index: number | undefined, v: Value): void {
  if (index === undefined) {
    inst.members.set(name, v);
    return;
  }
  const prev = inst.members.get(name);
  const items = new Map(prev?.k === "moduleList" ? prev.items : []);
  items.set(index, v);
  inst.members.set(name, { k: "moduleList", items });
}

function hasAnnotation(anns: readonly Annotation[], name: string): Annotation | undefined {
  return anns.find((a) => a.name.name === name);
}

function targetIndex(m: { target: { index?: Expr } }, env: Env, ctx: ElabContext): number | undefined {
  if (!m.target.index) return undefined;
  const v = evalExpr(m.target.index, env, ctx);
  if (v.k !== "int") throw new ElabError("IV3006", m.target.index.span, { expected: "an integer index", found: describe(v), help: "" });
  return v.v;
}

function evalMembers(members: readonly Member[], env: Env, inst: ModuleInstance, opts: InstanceOptions, ctx: ElabContext): void {
  for (const m of members) {
    try {
      evalMember(m, env, inst, opts, ctx);
    } catch (e) {
      if (!(e instanceof ElabError)) throw e;
      ctx.reportError(e);
      if (m.kind === "letMember") inst.members.set(m.name.name, POISON);
      else if (m.kind === "submodule" || m.kind === "tensorMember") {
        if (!inst.members.has(m.target.name.name)) inst.members.set(m.target.name.name, POISON);
      }
    }
  }
}

function evalMember(m: Member, env: Env, inst: ModuleInstance, opts: InstanceOptions, ctx: ElabContext): void {
  switch (m.kind) {
    case "forward":
      return;
    case "letMember":
      inst.members.set(m.name.name, evalExpr(m.value, env, ctx));
      return;
    case "ifMember": {
      const c = condition(m.condition, env, ctx);
      if (c !== undefined) evalMembers(c ? m.then : m.else, env, inst, opts, ctx);
      return;
    }
    case "forMember": {
      const items = iterable(m.iterable, env, ctx);
      if (!items) return;
      for (const item of items) {
        const scope = new Scope(env.scope);
        scope.define(m.variable.name, item);
        evalMembers(m.body, { ...env, scope }, inst, opts, ctx);
      }
      return;
    }
    case "submodule": {
      const index = targetIndex(m, env, ctx);
      const name = m.target.name.name;
      const frozen = opts.frozen || hasAnnotation(m.annotations, "frozen") !== undefined;
      const initAnn = hasAnnotation(m.annotations, "init");
      const init = opts.init ?? (initAnn ? parseInitSpec(initAnn, env, ctx) : undefined);
      const path = childPath(opts.path, name, index);
      let v: Value;
      if (m.value.kind === "call") {
        const callee = evalExpr(m.value.callee, env, ctx);
        if (callee.k === "callable" && callee.decl) {
          const args = evalArgs(m.value.args, env, ctx);
          v = { k: "module", inst: instantiateModule(callee.decl, callee.file!, args, { path, frozen, init, span: m.value.span }, ctx) };
        } else {
          v = evalExpr(m.value, env, ctx);
        }
      } else {
        v = evalExpr(m.value, env, ctx);
      }
      store(inst, name, index, v);
      return;
    }
    case "tensorMember": {
      const index = targetIndex(m, env, ctx);
      const name = m.target.name.name;
      if (m.type.kind !== "tensorType") throw new ElabError("IV3006", m.type.span, { expected: "a tensor type like f32[dim]", found: typeText(m.type, render), help: "" });
      const { dtype, shape } = instantiateTensorType(m.type, env, dimEvaluator(ctx), (sym, span) => {
        throw new ElabError("IV2001", span, { name: sym, help: "parameter shapes must be known when the module is built" });
      });
      const concrete = shape.map((d) => {
        if (typeof d !== "number") throw new ElabError("IV3008", m.type.span, { message: `parameter shape ${d} is symbolic`, help: "parameter sizes must be concrete" });
        return d;
      });
      const initAnn = hasAnnotation(m.annotations, "init");
      // An @init written where a sub-module is used (`@init(zeros) up = Linear(...)`) overrides the inits
      // its definition declares: the use site knows the role (e.g. a zero-initialised projection).
      const spec = opts.init ?? (initAnn ? parseInitSpec(initAnn, env, ctx) : undefined);
      const init: Init = spec ? spec(concrete) : m.role === "buffer" ? { kind: "zeros" } : DEFAULT_PARAM_INIT;
      const path = childPath(opts.path, name, index);
      const frozen = m.role === "param" && (opts.frozen || hasAnnotation(m.annotations, "frozen") !== undefined);
      const decay = m.role === "param" && concrete.length > 1 && !hasAnnotation(m.annotations, "no_decay");
      const id = ctx.b.param({ path, shape: concrete, dtype, init, kind: m.role, frozen, decay, span: m.span }, { spans: [m.span], name: path });
      store(inst, name, index, { k: "tensor", id });
      return;
    }
  }
}

export function defaultForward(decl: ModuleDecl): ForwardMember | undefined {
  return namedForward(decl.members, undefined);
}

/** Calls a module instance (its default forward), a bound named forward, or instantiates a module. */
export function callModuleValue(callee: Value, args: CallArgs, span: Span, _env: Env, ctx: ElabContext): Value {
  if (callee.k === "callable" && callee.decl) {
    return { k: "module", inst: instantiateModule(callee.decl, callee.file!, args, { path: "", frozen: false, span }, ctx) };
  }
  if (callee.k === "module") {
    const fwd = defaultForward(callee.inst.decl);
    if (!fwd) {
      throw new ElabError("IV2007", span, { what: `module \`${callee.inst.decl.name.name}\``, help: "it declares no `forward`" });
    }
    return callForward(callee.inst, fwd, args, span, ctx);
  }
  if (callee.k === "method") return callForward(callee.inst, callee.forward, args, span, ctx);
  throw new ElabError("IV2007", span, { what: describe(callee), help: "" });
}

export function callForward(inst: ModuleInstance, fwd: ForwardMember, args: CallArgs, span: Span, ctx: ElabContext): Value {
  const env: Env = { scope: new Scope(), file: inst.file, inst, dims: new Map() };
  const name = `${inst.decl.name.name}${fwd.name ? `.${fwd.name.name}` : ""}`;
  bindParameters(fwd.params, args, name, span, env, ctx, (pname, v, p, at) => {
    if (p.type.kind === "tensorType") {
      if (isPoison(v)) {
        env.scope.define(pname, v);
        return;
      }
      if (v.k !== "tensor") throw new ElabError("IV3006", at, { expected: typeText(p.type, render), found: describe(v), help: "" });
      matchTensorType(p.type, ctx.b.dtypeOf(v.id), ctx.b.shapeOf(v.id), env, dimEvaluator(ctx), at, render);
    }
    env.scope.define(pname, p.type.kind === "tensorType" ? v : checkValueType(p.type, v, at, ctx));
  });
  const saved = ctx.b.provenance;
  ctx.b.provenance = { ...saved, name: inst.path || inst.decl.name.name };
  try {
    const flow = execBlock(fwd.body, env, ctx);
    if (!flow.returned) {
      throw new ElabError("IV3008", fwd.span, { message: `\`${name}\` ends without \`return\``, help: "end the forward with `return <value>`" });
    }
    checkReturn(fwd.returnType, flow.value, flow.span, env, ctx);
    return flow.value;
  } finally {
    ctx.b.provenance = saved;
  }
}

function checkReturn(type: TypeExpr, v: Value, span: Span, env: Env, ctx: ElabContext): void {
  if (isPoison(v)) return;
  try {
    if (type.kind === "tupleType") {
      if (v.k !== "tuple" || v.items.length !== type.elements.length) {
        throw new ElabError("IV3007", span, { found: describe(v), expected: typeText(type, render) });
      }
      type.elements.forEach((t, i) => checkReturn(t, v.items[i]!, span, env, ctx));
      return;
    }
    if (type.kind === "tensorType") {
      if (v.k !== "tensor") throw new ElabError("IV3007", span, { found: describe(v), expected: typeText(type, render) });
      located(span, "return", () => matchTensorType(type, ctx.b.dtypeOf(v.id), ctx.b.shapeOf(v.id), env, dimEvaluator(ctx), span, render));
      return;
    }
    checkValueType(type, v, span, ctx);
  } catch (e) {
    if (e instanceof ElabError && e.code === "IV3001") {
      throw new ElabError("IV3007", span, { found: e.args.left!, expected: e.args.right! }, e.extras);
    }
    throw e;
  }
}

export type { Dim };
