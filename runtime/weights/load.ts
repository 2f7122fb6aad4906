/**
 * Loading a checkpoint file into a compiled model, for `ivc run` and `ivc import`: read (any
 * format), map (map.ts), then decide. Shape mismatches always stop; parameters the file lacks stop
 * unless the caller asked to initialise them from their `@init` (a CLIP or pretraining checkpoint
 * cannot hold a UniFormerV2 head); keys nothing uses stop unless the caller asked to ignore them,
 * because they almost always mean the model was configured differently (e.g. LMHRA off).
 */
import { catalogError, UserError } from "../../cli/errors.ts";
import type { ParamInfo } from "../../compiler/ir/types.ts";
import { readCheckpoint } from "../io/checkpoint.ts";
import type { LoadedTensor } from "../io/dtype.ts";
import { initParams } from "../init/index.ts";
import { SOURCE_DESCRIPTIONS } from "./formats.ts";
import type { HeadRemap } from "./head-remap.ts";
import { type MappedCheckpoint, MappingError, mapCheckpoint, type WeightArray } from "./map.ts";

export interface LoadWeightsOptions {
  readonly model?: string;
  /** Initialise the parameters the checkpoints lack from their `@init` (seed `seed`) instead of failing. */
  readonly initMissing?: boolean;
  readonly seed?: number;
  /** Load although some keys are not used. */
  readonly ignoreExtra?: boolean;
  /** Keep these rows of classifier heads whose class count differs from the model's (K710 -> K400). */
  readonly remapHead?: HeadRemap;
}

export interface LoadedWeights {
  readonly weights: Map<string, WeightArray>;
  /** One mapping per file, in order. */
  readonly mapped: readonly { file: string; result: MappedCheckpoint }[];
  /** Parameters filled from their `@init` (only with initMissing). */
  readonly initialised: readonly string[];
  /** Buffers no file provides, computed from their `@init` (VideoMAE's sinusoidal tables). */
  readonly regenerated: readonly string[];
  /** Where a later file replaced parameters an earlier one gave, e.g. "32 parameters: b.pth replaces a.pth". */
  readonly overrides: readonly string[];
}

const LIST_LIMIT = 12;

function list<T>(items: readonly T[], show: (item: T) => string): string {
  const head = items
    .slice(0, LIST_LIMIT)
    .map((x) => `\n    ${show(x)}`)
    .join("");
  return items.length > LIST_LIMIT ? `${head}\n    ... and ${items.length - LIST_LIMIT} more` : head;
}

const shape = (s: readonly number[]) => `[${s.join(", ")}]`;

/** Maps the tensors of one file; MappingError becomes a UserError naming the file. */
export function mapFile(
  file: string,
  tensors: ReadonlyMap<string, LoadedTensor>,
  params: readonly ParamInfo[],
  model?: string,
  remapHead?: HeadRemap,
): MappedCheckpoint {
  try {
    return mapCheckpoint(tensors, params, { ...(model !== undefined ? { model } : {}), ...(remapHead ? { remapHead } : {}) });
  } catch (e) {
    if (e instanceof MappingError) throw new UserError(`${file}: ${e.message}`, e.help);
    throw e;
  }
}

/** Reads and maps one or several checkpoint files (e.g. InternVideo's VideoMAE + UniFormerV2 + MM parts). */
export function loadWeights(
  files: readonly string[],
  params: readonly ParamInfo[],
  options: LoadWeightsOptions = {},
): LoadedWeights {
  const mapped = files.map((file) => ({
    file,
    result: mapFile(file, readCheckpoint(file).tensors, params, options.model, options.remapHead),
  }));
  if (options.remapHead && mapped.every((m) => m.result.remapped.length === 0))
    throw catalogError("IV6010", { source: options.remapHead.source });
  return combine(mapped, params, options);
}

/**
 * Merges per-file mappings and applies the policy above; throws a UserError listing every problem.
 * A later file overrides the parameters an earlier one gave (e.g. a fine-tuned encoder over the
 * pretraining one, keeping the pretraining decoder); each override is reported in `overrides`.
 */
export function combine(
  mapped: readonly { file: string; result: MappedCheckpoint }[],
  params: readonly ParamInfo[],
  options: LoadWeightsOptions = {},
): LoadedWeights {
  const owner = new Map<string, string>();
  const weights = new Map<string, WeightArray>();
  const overrides = new Map<string, number>();
  const regeneratedPaths = new Set<string>();
  const problems: string[] = [];
  for (const { file, result } of mapped) {
    const regenerated = new Set(result.regenerated);
    for (const [path, data] of result.weights) {
      if (regenerated.has(path)) {
        if (!weights.has(path)) {
          weights.set(path, data);
          regeneratedPaths.add(path);
        }
        continue;
      }
      regeneratedPaths.delete(path);
      const earlier = owner.get(path);
      if (earlier !== undefined) {
        const pair = `${file} replaces ${earlier}`;
        overrides.set(pair, (overrides.get(pair) ?? 0) + 1);
      }
      weights.set(path, data);
      owner.set(path, file);
    }
    if (result.misshaped.length) {
      problems.push(
        `${file}: ${result.misshaped.length} tensor${result.misshaped.length === 1 ? " has" : "s have"} the wrong shape for the model:` +
          list(
            result.misshaped,
            (m) => `${m.path}: the model expects ${shape(m.expected)}, the checkpoint's ${m.key} is ${shape(m.found)}`,
          ),
      );
    }
    if (result.extra.length && !options.ignoreExtra) {
      problems.push(
        `${file}: ${result.extra.length} key${result.extra.length === 1 ? " is" : "s are"} not used by the model:` +
          list(result.extra, (k) => k),
      );
    }
  }
  const misshaped = new Set(mapped.flatMap((m) => m.result.misshaped.map((x) => x.path)));
  const missing = params.filter((p) => !weights.has(p.path) && !misshaped.has(p.path));
  let initialised: string[] = [];
  if (missing.length && options.initMissing) {
    const init = initParams(missing, options.seed ?? 0);
    for (const [path, data] of init) weights.set(path, data);
    initialised = missing.map((p) => p.path);
  } else if (missing.length) {
    const sources = [...new Set(mapped.map((m) => SOURCE_DESCRIPTIONS[m.result.source]))].join(" + ");
    problems.push(
      `the checkpoint${mapped.length > 1 ? "s lack" : " lacks"} ${missing.length} of the model's parameters (${sources}):` +
        list(missing, (p) => `${p.path} ${shape(p.shape.map(Number))}`),
    );
  }
  if (problems.length) {
    const extra = !options.ignoreExtra && mapped.some((m) => m.result.extra.length > 0);
    throw new UserError(
      problems.join("\n  "),
      help(mapped, { missing: missing.length > 0 && !options.initMissing, misshaped: misshaped.size > 0, extra }),
    );
  }
  // The model's parameter order, so a written file lists tensors as `ivc info` does.
  const ordered = new Map<string, WeightArray>();
  for (const p of params) ordered.set(p.path, weights.get(p.path)!);
  const regenerated = params.map((p) => p.path).filter((p) => regeneratedPaths.has(p));
  return {
    weights: ordered,
    mapped,
    initialised,
    regenerated,
    overrides: [...overrides].map(([pair, n]) => `${n} parameter${n === 1 ? "" : "s"}: ${pair}`),
  };
}

function help(
  mapped: readonly { result: MappedCheckpoint }[],
  { missing, misshaped, extra }: { missing: boolean; misshaped: boolean; extra: boolean },
): string {
  const hints: string[] = [];
  if (misshaped)
    hints.push(
      "the checkpoint was trained with another configuration: pick the matching --preset or --set (width, layers, patch, frames, classes, lmhra, temporal_downsample)",
    );
  const partial = mapped.some(
    (m) =>
      ["clip-visual", "clip-extracted", "videomae-pretrain", "internvideo-mm"].includes(m.result.source) ||
      m.result.target === "internvideo",
  );
  if (missing && partial)
    hints.push("this checkpoint holds only part of the model; pass --init-missing to initialise the rest from the model's @init");
  else if (missing)
    hints.push("check --preset/--set, or pass --init-missing to initialise the missing parameters from their @init");
  if (extra)
    hints.push("unused keys usually mean another configuration (check --preset/--set); pass --ignore-extra to load anyway");
  return hints.join("; ");
}

/** Human-readable lines describing what was mapped, for the commands' output. */
export function describeLoad(loaded: LoadedWeights): string[] {
  const lines: string[] = [];
  for (const { file, result } of loaded.mapped) {
    lines.push(`${file}: ${result.applied[0]}`);
    for (const a of result.applied.slice(1)) lines.push(`  ${a}`);
    const reasons = new Map<string, number>();
    for (const d of result.dropped) reasons.set(d.reason, (reasons.get(d.reason) ?? 0) + 1);
    for (const [reason, n] of reasons) lines.push(`  dropped ${n} key${n === 1 ? "" : "s"}: ${reason}`);
    if (result.extra.length)
      lines.push(
        `  ignored ${result.extra.length} unused key${result.extra.length === 1 ? "" : "s"}: ${result.extra.slice(0, 6).join(", ")}${result.extra.length > 6 ? ", ..." : ""}`,
      );
  }
  if (loaded.regenerated.length)
    lines.push(`regenerated from @init (not stored in checkpoints): ${loaded.regenerated.join(", ")}`);
  for (const o of loaded.overrides) lines.push(`overridden ${o}`);
  if (loaded.initialised.length) {
    lines.push(
      `initialised ${loaded.initialised.length} parameter${loaded.initialised.length === 1 ? "" : "s"} from @init: ${loaded.initialised.slice(0, 8).join(", ")}${loaded.initialised.length > 8 ? ", ..." : ""}`,
    );
  }
  return lines;
}
