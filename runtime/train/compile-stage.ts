/**
 * Compiles what one train stage needs: the train graph (forward + backward), the stage's loss in eval
 * mode, and the model's forward for accuracy; and reads the stage's settings (steps, batch,
 * clip_grad_norm, ema, epochs).
 */
import { UserError } from "../../cli/errors.ts";
import type { StageSpec } from "../../compiler/elaborate/stage.ts";
import { hasErrors } from "../../diagnostics/index.ts";
import type { Graph, ParamInfo } from "../../compiler/ir/types.ts";
import { type Compiled, compileModel } from "../../compiler/pipeline.ts";

export interface CompileRequest {
  readonly file: string;
  readonly preset?: string;
  readonly set: readonly string[];
  readonly model?: string;
}

export interface StageSettings {
  readonly steps?: number;
  readonly epochs?: number;
  readonly batch?: number;
  readonly clipGradNorm: number;
  readonly ema?: number;
  /** Held-out evaluation every N steps (`eval_every N`); --eval-every overrides it. */
  readonly evalEvery?: number;
  /** Settings the runtime does not know, reported as warnings. */
  readonly unknown: readonly string[];
}

export interface CompiledStage {
  readonly name: string;
  readonly modelName: string;
  readonly spec: StageSpec;
  readonly config: Readonly<Record<string, unknown>>;
  readonly params: readonly ParamInfo[];
  readonly train: Graph;
  readonly evalLoss: Graph;
  /** The model's forward with a [B, K] `output`, when the stage's loss classifies with it. */
  readonly evalForward?: Graph;
  readonly classes?: number;
  /** Trainable parameters that get a gradient, and frozen ones. */
  readonly trainable: readonly string[];
  readonly frozen: readonly string[];
  readonly trainableCount: number;
  readonly frozenCount: number;
  readonly settings: StageSettings;
}

/** Called with every compilation; it prints diagnostics and throws when there are errors. */
export type DiagnosticsSink = (compiled: Compiled) => void;

export const defaultDiagnosticsSink: DiagnosticsSink = (c) => {
  if (hasErrors(c.diagnostics)) {
    const first = c.diagnostics.find((d) => d.severity === "error")!;
    throw new UserError(`the model does not compile: ${first.message}`, "run `ivc check` on the file for the full diagnostics");
  }
};

/** `tiny` when the entry file declares that preset (the CPU-sized configuration), else no preset. */
export function defaultPreset(file: string): string | undefined {
  const resolved = compileModel(file, {}).resolved;
  const decls = resolved.programs.get(resolved.entry)?.decls ?? [];
  return decls.some((d) => d.kind === "preset" && d.name.name === "tiny") ? "tiny" : undefined;
}

/** The train stages of the entry file, in declaration order (of `model`, when given). */
export function stagesOf(req: CompileRequest, sink: DiagnosticsSink): string[] {
  const compiled = compileModel(req.file, { preset: req.preset, set: req.set, model: req.model });
  sink(compiled);
  const program = compiled.resolved.programs.get(compiled.resolved.entry);
  const stages = (program?.decls ?? []).flatMap((d) => (d.kind === "trainStage" && (!req.model || d.model.name === req.model) ? [d.name.name] : []));
  if (stages.length === 0) throw new UserError(`${req.file} declares no train stage`, "add one, e.g. `train stage finetune for MyModel { data ...; loss ...; optim ... }`");
  return stages;
}

function readSettings(spec: StageSpec): StageSettings {
  const where = `stage ${spec.name}`;
  const s = spec.settings;
  const positiveInt = (key: string) => {
    const v = s[key];
    if (v === undefined) return undefined;
    if (typeof v !== "number" || !Number.isInteger(v) || v < 1) throw new UserError(`${where}: \`${key}\` must be a positive integer, got ${JSON.stringify(v)}`);
    return v;
  };
  const clip = s.clip_grad_norm ?? 0;
  if (typeof clip !== "number" || !(clip >= 0)) throw new UserError(`${where}: \`clip_grad_norm\` must be a non-negative number, got ${JSON.stringify(clip)}`);
  const ema = s.ema;
  if (ema !== undefined && (typeof ema !== "number" || !(ema > 0 && ema < 1))) throw new UserError(`${where}: \`ema\` must be a decay in (0, 1), got ${JSON.stringify(ema)}`);
  const known = ["steps", "epochs", "batch", "clip_grad_norm", "ema", "eval_every"];
  return {
    steps: positiveInt("steps"),
    epochs: positiveInt("epochs"),
    batch: positiveInt("batch"),
    clipGradNorm: clip,
    ema: ema as number | undefined,
    evalEvery: positiveInt("eval_every"),
    unknown: Object.keys(s).filter((k) => !known.includes(k)),
  };
}

/** True when the stage's loss calls the model's default forward (so its logits are what is trained). */
function lossUsesForward(spec: StageSpec, sources: ReadonlyMap<string, string>): boolean {
  if (!spec.loss) return false;
  const text = sources.get(spec.loss.file)?.slice(spec.loss.span.offset, spec.loss.span.endOffset) ?? "";
  return /\bmodel\s*\(/.test(text);
}

export function compileStage(req: CompileRequest, stage: string, sink: DiagnosticsSink): CompiledStage {
  const base = { preset: req.preset, set: req.set, model: req.model, stage };
  const train = compileModel(req.file, { ...base, differentiate: true });
  sink(train);
  const evalLoss = compileModel(req.file, { ...base, training: false });
  sink(evalLoss);
  const elaborated = train.elaborated!;
  const spec = elaborated.stage!;
  const forward = compileModel(req.file, { preset: req.preset, set: req.set, model: spec.model });
  // Without a usable forward the stage still trains; it only reports no accuracy.
  const output = forward.graph?.outputs.find((o) => o.name === "output");
  const outShape = output ? forward.graph!.nodes.find((n) => n.id === output.id)!.shape : undefined;
  const classifies =
    !hasErrors(forward.diagnostics) && outShape?.length === 2 && typeof outShape[1] === "number" && train.graph!.inputs.some((i) => i.name === "label") && lossUsesForward(spec, train.sources);
  const gradients = new Set(train.graph!.outputs.filter((o) => o.name.startsWith("grad:")).map((o) => o.name.slice(5)));
  const params = elaborated.graph.params;
  const size = (p: ParamInfo) => p.shape.reduce<number>((a, d) => a * (typeof d === "number" ? d : 1), 1);
  const trainable = params.filter((p) => gradients.has(p.path));
  const frozen = params.filter((p) => p.kind === "param" && !gradients.has(p.path));
  return {
    name: spec.name,
    modelName: elaborated.modelName ?? spec.model,
    spec,
    config: elaborated.config ?? {},
    params,
    train: train.graph!,
    evalLoss: evalLoss.graph!,
    evalForward: classifies ? forward.graph : undefined,
    classes: classifies ? (outShape![1] as number) : undefined,
    trainable: trainable.map((p) => p.path),
    frozen: frozen.map((p) => p.path),
    trainableCount: trainable.reduce((a, p) => a + size(p), 0),
    frozenCount: frozen.reduce((a, p) => a + size(p), 0),
    settings: readSettings(spec),
  };
}
