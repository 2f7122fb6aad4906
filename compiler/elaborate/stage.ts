/**
 * Train stages: the `extends` chain, freeze lists, and the graph inputs a data source provides.
 * The runtime reads the resulting StageSpec (optimizer, schedule, settings); the compiler only needs
 * the data inputs, the loss and the freeze lists.
 */
import type { CallExpr, DottedPath, Expr, StageCallItem, TrainStageDecl } from "../../grammar/ast.ts";
import type { Span } from "../../diagnostics/span.ts";
import type { Dim } from "../ir/dims.ts";
import type { DType } from "../ir/types.ts";
import { ElabError, type ElabContext, type Env, suggest } from "./context.ts";
import { evalArgs } from "./eval.ts";
import { type Value, asDim, toJs } from "./values.ts";

export interface CallSpec {
  readonly name: string;
  readonly args: Readonly<Record<string, unknown>>;
  readonly span: Span;
}

export interface StageSpec {
  readonly name: string;
  readonly model: string;
  /** Parent first, this stage last. */
  readonly chain: readonly string[];
  readonly freeze: readonly { path: string; span: Span }[];
  readonly unfreeze: readonly { path: string; span: Span }[];
  readonly data?: CallSpec;
  readonly optim?: CallSpec;
  readonly schedule?: CallSpec;
  readonly loss?: { expr: Expr; span: Span; file: string };
  readonly settings: Readonly<Record<string, unknown>>;
}

/** The stage and its ancestors, root first; errors for unknown parents and cycles. */
export function stageChain(stage: TrainStageDecl, file: string, ctx: ElabContext): TrainStageDecl[] {
  const chain: TrainStageDecl[] = [stage];
  let cur = stage;
  while (cur.extends) {
    const ref = ctx.resolved.scopes.get(file)?.get(cur.extends.name);
    if (ref?.decl.kind !== "trainStage") {
      ctx.report("IV4004", cur.extends.span, { stage: cur.name.name, parent: cur.extends.name });
      break;
    }
    if (chain.includes(ref.decl)) {
      ctx.report("IV3008", cur.extends.span, { message: `stage \`${stage.name.name}\` extends itself`, help: "" });
      break;
    }
    chain.unshift(ref.decl);
    cur = ref.decl;
  }
  return chain;
}

function pathText(p: DottedPath): string {
  return p.segments.map((s) => s.text).join(".");
}

function callSpec(item: StageCallItem, env: Env, ctx: ElabContext): CallSpec {
  const e = item.value;
  const call: CallExpr | undefined = e.kind === "call" ? e : undefined;
  const nameExpr = call ? call.callee : e;
  if (nameExpr.kind !== "name") throw new ElabError("IV3008", e.span, { message: `\`${item.key}\` expects a call like name(key = value)`, help: "" });
  const args: Record<string, unknown> = {};
  if (call) {
    const evaluated = evalArgs(call.args, env, ctx);
    evaluated.positional.forEach((v, i) => (args[`$${i}`] = toJs(v)));
    for (const [k, v] of evaluated.keyword) args[k] = toJs(v);
  }
  return { name: nameExpr.name, args, span: e.span };
}

export function buildStageSpec(chain: readonly TrainStageDecl[], file: string, env: Env, ctx: ElabContext): StageSpec {
  const last = chain[chain.length - 1]!;
  const freeze: { path: string; span: Span }[] = [];
  const unfreeze: { path: string; span: Span }[] = [];
  const calls: Partial<Record<"data" | "optim" | "schedule", CallSpec>> = {};
  let loss: StageSpec["loss"];
  const settings: Record<string, unknown> = {};
  for (const stage of chain) {
    for (const item of stage.items) {
      try {
        switch (item.kind) {
          case "freeze":
            freeze.push(...item.paths.map((p) => ({ path: pathText(p), span: p.span })));
            break;
          case "unfreeze":
            unfreeze.push(...item.paths.map((p) => ({ path: pathText(p), span: p.span })));
            break;
          case "stageCall":
            if (item.key === "loss") loss = { expr: item.value, span: item.value.span, file };
            else calls[item.key] = callSpec(item, env, ctx);
            break;
          case "stageSetting":
            settings[item.name.name] = toJs(evalArgs([{ value: item.value, span: item.value.span }], env, ctx).positional[0]!);
            break;
        }
      } catch (e) {
        if (!(e instanceof ElabError)) throw e;
        ctx.reportError(e);
      }
    }
  }
  return { name: last.name.name, model: last.model.name, chain: chain.map((s) => s.name.name), freeze, unfreeze, ...calls, loss, settings };
}

export interface DataInput {
  readonly name: string;
  readonly dtype: DType;
  readonly shape: readonly Dim[];
}

type DataSource = (args: Readonly<Record<string, unknown>>, cfg: Extract<Value, { k: "config" }>, span: Span) => DataInput[];

function intArg(args: Readonly<Record<string, unknown>>, key: string, cfg: Extract<Value, { k: "config" }>, fallback: number | undefined, span: Span, source: string): number {
  const v = args[key] ?? (() => {
    const f = cfg.fields.get(key);
    return f ? asDim(f) : undefined;
  })() ?? fallback;
  if (typeof v !== "number" || !Number.isInteger(v)) {
    throw new ElabError("IV3008", span, { message: `data source \`${source}\` needs an integer \`${key}\``, help: `write ${source}(${key} = ...) or add \`${key}\` to the config` });
  }
  return v;
}

/** A clip + label source: synthetic motion or a video folder; the model's normalisation applies at load. */
const clipSource =
  (source: string): DataSource =>
  (args, cfg, span) => {
    const frames = intArg(args, "frames", cfg, undefined, span, source);
    const size = intArg(args, "size", cfg, undefined, span, source);
    const inputs: DataInput[] = [
      { name: "clip", dtype: "f32", shape: ["B", 3, frames, size, size] },
      { name: "label", dtype: "i32", shape: ["B"] },
    ];
    const textLen = args.text_len ?? (cfg.fields.has("text_len") ? toJs(cfg.fields.get("text_len")!) : undefined);
    if (typeof textLen === "number") inputs.push({ name: "caption", dtype: "i32", shape: ["B", textLen] });
    const tokens = args.mask_tokens;
    if (typeof tokens === "number") inputs.push({ name: "mask", dtype: "f32", shape: ["B", tokens] });
    return inputs;
  };

export const DATA_SOURCES: Readonly<Record<string, DataSource>> = {
  synthetic_motion: clipSource("synthetic_motion"),
  videos: clipSource("videos"),
};

export function dataInputs(spec: CallSpec | undefined, cfg: Extract<Value, { k: "config" }>, span: Span, ctx: ElabContext): DataInput[] {
  if (!spec) {
    ctx.report("IV3008", span, { message: "this stage has no `data` source", help: "add e.g. `data synthetic_motion(frames = cfg.frames, size = cfg.size)`" });
    return [];
  }
  const source = DATA_SOURCES[spec.name];
  if (!source) {
    const near = suggest(spec.name, Object.keys(DATA_SOURCES));
    ctx.report("IV2001", spec.span, { name: spec.name, help: near ? `did you mean \`${near}\`?` : `the data sources are ${Object.keys(DATA_SOURCES).join(", ")}` });
    return [];
  }
  try {
    return source(spec.args, cfg, spec.span);
  } catch (e) {
    if (!(e instanceof ElabError)) throw e;
    ctx.reportError(e);
    return [];
  }
}
