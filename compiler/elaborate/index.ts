/**
 * Elaborate: instantiates the model with concrete config values into a flat graph of primitive ops.
 * Parameters carry their dotted paths, init and frozen flags; loops and conditionals are unrolled.
 * In a train stage the graph's output is the stage's loss; otherwise the model's forward results.
 */
import type { Member, ModuleDecl, TrainStageDecl } from "../../grammar/ast.ts";
import type { Diagnostic } from "../../diagnostics/index.ts";
import type { Span } from "../../diagnostics/span.ts";
import type { Graph, ParamInfo } from "../ir/types.ts";
import type { Resolved } from "../resolve/index.ts";
import { applySets, type ConfigValue, configDefaults, presetConfig } from "./config.ts";
import { ElabContext, ElabError, type Env, Scope, suggest } from "./context.ts";
import { evalExpr, namedForward } from "./eval.ts";
import { callForward, defaultForward, instantiateModule } from "./instantiate.ts";
import { instantiateTensorType } from "./signature.ts";
import { buildStageSpec, dataInputs, type StageSpec, stageChain } from "./stage.ts";
import { type ModuleInstance, type Value, isPoison, toJs } from "./values.ts";

export type { StageSpec };

export interface ElaborateOptions {
  readonly preset?: string;
  readonly set?: readonly string[];
  /** Which `model` of the entry file; needed only when it declares several. */
  readonly model?: string;
  /** A train stage: training mode, the loss as output, the stage's freeze lists applied. */
  readonly stage?: string;
  /** Training-mode semantics (dropout, BatchNorm batch statistics) without a stage. */
  readonly training?: boolean;
  /** A named `forward NAME(...)` of the model instead of its default forward (no stage). */
  readonly forward?: string;
}

export interface ModuleSummary {
  readonly path: string;
  readonly type: string;
  readonly frozen: boolean;
}

export interface Elaborated {
  readonly graph: Graph;
  readonly diagnostics: readonly Diagnostic[];
  readonly modelName?: string;
  readonly config?: Readonly<Record<string, unknown>>;
  readonly modules: readonly ModuleSummary[];
  readonly stage?: StageSpec;
}

function entryDecls<K extends "module" | "trainStage" | "preset">(resolved: Resolved, kind: K) {
  const program = resolved.programs.get(resolved.entry);
  return (program?.decls ?? []).filter((d) => d.kind === kind) as Extract<NonNullable<typeof program>["decls"][number], { kind: K }>[];
}

function chooseModel(resolved: Resolved, name: string | undefined, ctx: ElabContext): ModuleDecl | undefined {
  const models = entryDecls(resolved, "module").filter((m) => m.role === "model");
  if (name) {
    const ref = resolved.scopes.get(resolved.entry)?.get(name);
    if (ref?.decl.kind === "module") return ref.decl;
    const near = suggest(name, models.map((m) => m.name.name));
    ctx.report("IV2012", undefined, { message: `no model named \`${name}\``, help: near ? `did you mean \`${near}\`?` : `this file declares ${models.map((m) => m.name.name).join(", ") || "no model"}` });
    return undefined;
  }
  if (models.length === 1) return models[0];
  ctx.report("IV2012", undefined, {
    message: models.length === 0 ? `${resolved.entry} declares no \`model\`` : `${resolved.entry} declares several models`,
    help: models.length === 0 ? "declare one with `model Name(cfg: Config) { ... }`" : `choose one with --model (${models.map((m) => m.name.name).join(", ")})`,
  });
  return undefined;
}

function modelConfig(model: ModuleDecl, opts: ElaborateOptions, ctx: ElabContext): ConfigValue | undefined {
  const resolved = ctx.resolved;
  const param = model.params[0];
  const cfgType = param?.type.kind === "namedType" ? param.type.name.name : undefined;
  const cfgRef = cfgType ? resolved.scopes.get(resolved.entry)?.get(cfgType) : undefined;
  if (model.params.length !== 1 || cfgRef?.decl.kind !== "config") {
    ctx.report("IV3008", model.name.span, { message: `model \`${model.name.name}\` must take exactly one config parameter`, help: "write `model Name(cfg: MyConfig) { ... }`" });
    return undefined;
  }
  let cfg: ConfigValue | undefined;
  let cfgDecl = cfgRef.decl;
  let cfgFile = cfgRef.file;
  if (opts.preset) {
    const presets = entryDecls(resolved, "preset");
    const preset = presets.find((p) => p.name.name === opts.preset);
    if (!preset) {
      const near = suggest(opts.preset, presets.map((p) => p.name.name));
      ctx.report("IV2013", undefined, { name: opts.preset, help: near ? `did you mean \`${near}\`?` : `the presets are ${presets.map((p) => p.name.name).join(", ") || "none"}` });
      return undefined;
    }
    const got = presetConfig(preset, resolved.entry, ctx);
    if (!got) return undefined;
    if (got.decl !== cfgRef.decl) {
      ctx.report("IV3008", preset.span, { message: `preset \`${preset.name.name}\` configures \`${got.decl.name.name}\`, but model \`${model.name.name}\` takes \`${cfgRef.decl.name.name}\``, help: "" });
      return undefined;
    }
    cfg = got.cfg;
    cfgDecl = got.decl;
    cfgFile = got.file;
  } else {
    cfg = configDefaults(cfgRef.decl, cfgRef.file, ctx);
  }
  return applySets(cfg, cfgDecl, cfgFile, opts.set ?? [], ctx);
}

function symbolFor(ctx: ElabContext) {
  return (name: string, span: Span) => {
    if (!ctx.symbols.has(name)) ctx.symbols.set(name, { value: name, span });
    return name;
  };
}

function forwardNames(members: readonly Member[]): string[] {
  return members.flatMap((m) => (m.kind === "forward" ? [m.name?.name ?? "(default)"] : m.kind === "ifMember" ? [...forwardNames(m.then), ...forwardNames(m.else)] : []));
}

function runForward(root: ModuleInstance, ctx: ElabContext, name: string | undefined): void {
  const fwd = name === undefined ? defaultForward(root.decl) : namedForward(root.decl.members, name);
  if (!fwd && name !== undefined) {
    ctx.report("IV2009", root.decl.name.span, {
      what: `model \`${root.decl.name.name}\``,
      member: `forward ${name}`,
      help: `its forwards are ${forwardNames(root.decl.members).join(", ")}`,
    });
    return;
  }
  if (!fwd) {
    ctx.report("IV2007", root.decl.name.span, { what: `model \`${root.decl.name.name}\``, help: "it declares no `forward`" });
    return;
  }
  const env: Env = { scope: new Scope(), file: root.file, inst: root, dims: new Map() };
  const positional: Value[] = [];
  for (const p of fwd.params) {
    if (p.type.kind !== "tensorType") {
      ctx.report("IV3008", p.span, { message: "the model's forward inputs must be tensors", help: "" });
      return;
    }
    try {
      const { dtype, shape } = instantiateTensorType(p.type, env, (e, en) => evalExpr(e, en, ctx), symbolFor(ctx));
      positional.push({ k: "tensor", id: ctx.b.input(p.name.name, shape, dtype, { spans: [p.span], name: p.name.name }) });
    } catch (e) {
      if (!(e instanceof ElabError)) throw e;
      ctx.reportError(e);
      return;
    }
  }
  const args = { positional, positionalSpans: fwd.params.map((p) => p.span), keyword: new Map(), keywordSpans: new Map() };
  const out = callForward(root, fwd, args, fwd.span, ctx);
  emitOutputs(out, "output", ctx);
}

function emitOutputs(v: Value, name: string, ctx: ElabContext): void {
  if (v.k === "tensor") ctx.b.output(name, v.id);
  else if (v.k === "tuple" || v.k === "list") v.items.forEach((item, i) => emitOutputs(item, `${name}.${i}`, ctx));
}

function runStage(stageDecl: TrainStageDecl, root: ModuleInstance, cfg: ConfigValue, ctx: ElabContext): StageSpec {
  const file = ctx.resolved.entry;
  const scope = new Scope();
  scope.define("cfg", cfg);
  scope.define("model", { k: "module", inst: root });
  const env: Env = { scope, file, dims: new Map() };
  const spec = buildStageSpec(stageChain(stageDecl, file, ctx), file, env, ctx);
  for (const input of dataInputs(spec.data, cfg, stageDecl.name.span, ctx)) {
    for (const d of input.shape) if (typeof d === "string") symbolFor(ctx)(d, stageDecl.name.span);
    scope.define(input.name, { k: "tensor", id: ctx.b.input(input.name, input.shape, input.dtype, { spans: [stageDecl.name.span], name: input.name }) });
  }
  if (!spec.loss) {
    ctx.report("IV3008", stageDecl.name.span, { message: `stage \`${spec.name}\` has no \`loss\``, help: "add e.g. `loss cross_entropy(model(clip), label)`" });
    return spec;
  }
  try {
    const loss = evalExpr(spec.loss.expr, env, ctx);
    if (loss.k === "tensor") {
      const shape = ctx.b.shapeOf(loss.id);
      if (shape.length !== 0) {
        ctx.report("IV3008", spec.loss.span, { message: `the loss must be a scalar, found shape [${shape.join(", ")}]`, help: "reduce it, e.g. with mean(...)" });
      } else ctx.b.output("loss", loss.id);
    } else if (!isPoison(loss)) {
      ctx.report("IV3006", spec.loss.span, { expected: "a scalar tensor loss", found: loss.k, help: "" });
    }
  } catch (e) {
    if (!(e instanceof ElabError)) throw e;
    ctx.reportError(e);
  }
  return spec;
}

/** Applies the stage's freeze lists (in order: freezes, then unfreezes) and reports entries naming nothing. */
function applyFreezes(params: readonly ParamInfo[], spec: StageSpec, ctx: ElabContext): ParamInfo[] {
  const under = (path: string, prefix: string) => {
    const re = new RegExp(`^${prefix.split(".").map((s) => (s === "*" ? "[^.]+" : s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"))).join("\\.")}(\\.|$)`);
    return re.test(path);
  };
  for (const entry of [...spec.freeze, ...spec.unfreeze]) {
    if (!params.some((p) => under(p.path, entry.path))) {
      const tops = [...new Set(params.map((p) => p.path.split(".")[0]!))];
      const near = suggest(entry.path, [...new Set(params.flatMap((p) => p.path.split(".").map((_, i, a) => a.slice(0, i + 1).join("."))))]);
      ctx.report("IV4001", entry.span, { path: entry.path, model: spec.model, help: near ? `did you mean \`${near}\`?` : `the model's top-level members are ${tops.join(", ")}` });
    }
  }
  return params.map((p) => {
    if (p.kind !== "param") return p;
    let frozen = p.frozen;
    if (spec.freeze.some((f) => under(p.path, f.path))) frozen = true;
    if (spec.unfreeze.some((f) => under(p.path, f.path))) frozen = false;
    return frozen === p.frozen ? p : { ...p, frozen };
  });
}

export function elaborate(resolved: Resolved, opts: ElaborateOptions = {}): Elaborated {
  let stageDecl: TrainStageDecl | undefined;
  const ctx0 = new ElabContext(resolved, true);
  if (opts.stage) {
    const stages = entryDecls(resolved, "trainStage");
    stageDecl = stages.find((s) => s.name.name === opts.stage);
    if (!stageDecl) {
      const near = suggest(opts.stage, stages.map((s) => s.name.name));
      ctx0.report("IV2014", undefined, { name: opts.stage, help: near ? `did you mean \`${near}\`?` : `the stages are ${stages.map((s) => s.name.name).join(", ") || "none"}` });
      return { graph: ctx0.b.build(), diagnostics: ctx0.diagnostics, modules: [] };
    }
  }
  const ctx = new ElabContext(resolved, opts.training ?? stageDecl !== undefined);
  const model = chooseModel(resolved, opts.model ?? stageDecl?.model.name, ctx);
  if (!model) return { graph: ctx.b.build(), diagnostics: ctx.diagnostics, modules: [] };
  const cfg = modelConfig(model, opts, ctx);
  if (!cfg) return { graph: ctx.b.build(), diagnostics: ctx.diagnostics, modules: [], modelName: model.name.name };

  let root: ModuleInstance | undefined;
  let stage: StageSpec | undefined;
  try {
    root = instantiateModule(model, resolved.scopes.get(resolved.entry)?.get(model.name.name)?.file ?? resolved.entry, { positional: [cfg], positionalSpans: [model.span], keyword: new Map(), keywordSpans: new Map() }, { path: "", frozen: false, span: model.name.span }, ctx);
    if (stageDecl) stage = runStage(stageDecl, root, cfg, ctx);
    else runForward(root, ctx, opts.forward);
  } catch (e) {
    if (!(e instanceof ElabError)) throw e;
    ctx.reportError(e);
  }
  let graph = ctx.b.build();
  if (stage) graph = { ...graph, params: applyFreezes(graph.params, stage, ctx) };
  const modules = ctx.instances.map((i) => ({ path: i.path, type: i.decl.name.name, frozen: i.frozen }));
  return { graph, diagnostics: ctx.diagnostics, modelName: model.name.name, config: toJs(cfg) as Record<string, unknown>, modules, stage };
}
