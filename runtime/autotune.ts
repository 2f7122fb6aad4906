/**
 * Opt-in autotuning (`--autotune`): for each kernel the compiler can regenerate with another tile
 * (ProgramStep.retile: the matmuls, `MatmulParams.tile`), time every tile on this adapter with the
 * program's own buffers and keep the fastest. Results persist per adapter in the ivc cache
 * (`$IVC_CACHE_DIR`, else `$XDG_CACHE_HOME/ivc`, else `~/.cache/ivc`) as `autotune.json`, keyed by
 * the default kernel's hash, so a kernel is timed once per adapter and later runs start at once.
 * The tiles sum every element in the same order: tuning changes speed, never results.
 */
import { existsSync, readFileSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import type { Program, Retile } from "../compiler/schedule/program.ts";
import type { TuningTable } from "../compiler/schedule/plan.ts";
import { type DispatchStep, Executor } from "./executor.ts";
import type { GpuContext } from "./gpu.ts";
import { writeFileAtomic } from "./io/atomic.ts";

const FORMAT = "ivc-autotune/1";

interface Measured {
  /** The chosen tile. */
  readonly choice: number;
  /** Milliseconds per dispatch for each tile tried. */
  readonly ms: Readonly<Record<string, number>>;
}

interface StoreFile {
  readonly format: string;
  readonly adapters: Record<string, Record<string, Measured>>;
}

export function ivcCacheDir(): string {
  return process.env.IVC_CACHE_DIR ?? join(process.env.XDG_CACHE_HOME ?? join(homedir(), ".cache"), "ivc");
}

/** What identifies an adapter's timings: the same kernel is timed again on another adapter or driver. */
export function adapterKey(gpu: GpuContext): string {
  const i = gpu.info;
  return [i.vendor, i.architecture, i.device, i.description, i.backend].filter(Boolean).join(" | ");
}

/** The tuning results of one adapter, read from and written back to `autotune.json`. */
export class TuningStore {
  private readonly file: string;
  private data: StoreFile;
  /** Why the file on disk was not used (it is replaced on save), for one warning. */
  readonly problem?: string;

  constructor(
    private readonly adapter: string,
    dir: string = ivcCacheDir(),
  ) {
    this.file = join(dir, "autotune.json");
    this.data = { format: FORMAT, adapters: {} };
    if (!existsSync(this.file)) return;
    try {
      const parsed = JSON.parse(readFileSync(this.file, "utf8")) as StoreFile;
      if (parsed.format !== FORMAT || typeof parsed.adapters !== "object" || parsed.adapters === null) throw new Error(`not an ${FORMAT} file`);
      this.data = parsed;
    } catch (e) {
      this.problem = `${this.file} is unreadable (${(e as Error).message}); it is rebuilt`;
    }
  }

  get path(): string {
    return this.file;
  }

  /** How many kernels have a stored choice for this adapter. */
  get size(): number {
    return Object.keys(this.data.adapters[this.adapter] ?? {}).length;
  }

  get(key: string, choices: readonly number[]): number | undefined {
    const m = this.data.adapters[this.adapter]?.[key];
    return m && choices.includes(m.choice) ? m.choice : undefined;
  }

  set(key: string, measured: Measured): void {
    (this.data.adapters[this.adapter] ??= {})[key] = measured;
  }

  save(): void {
    writeFileAtomic(this.file, [new TextEncoder().encode(JSON.stringify(this.data, null, 1) + "\n")]);
  }
}

export interface AutotuneOptions {
  /** Dispatches per timed submit (enough to amortise the submit) and timed submits per tile. */
  readonly dispatches?: number;
  readonly repeats?: number;
  readonly log?: (line: string) => void;
}

/** A kept tile must beat the default by this fraction: timing noise does not flip a choice. */
const MARGIN = 0.03;

/**
 * Milliseconds per dispatch of each variant: the best of `repeats` submits of `dispatches` dispatches,
 * the variants interleaved round by round so that a change in the machine's load hits them alike.
 */
async function timeVariants(executor: Executor, variants: readonly DispatchStep[], dispatches: number, repeats: number): Promise<number[]> {
  await executor.load(variants.map((v) => v.kernel));
  const recordings = variants.map((v) => executor.record(Array.from({ length: dispatches }, () => v)));
  for (const r of recordings) executor.submit(r);
  await executor.idle();
  const best = variants.map(() => Infinity);
  for (let round = 0; round < repeats; round++) {
    for (let i = 0; i < recordings.length; i++) {
      const t0 = performance.now();
      executor.submit(recordings[i]!);
      await executor.idle();
      best[i] = Math.min(best[i]!, (performance.now() - t0) / dispatches);
    }
  }
  return best;
}

/**
 * `steps` with every tunable kernel replaced by its fastest tile (`retiles[i]` belongs to
 * `steps[i]`; their buffers must be allocated on `executor`). Kernels already in `store` are not
 * timed again. Returns the steps and the table the choices make (`ivc compile --autotune` builds
 * the program again with it).
 */
export async function autotuneSteps(
  executor: Executor,
  steps: readonly DispatchStep[],
  retiles: readonly (Retile | undefined)[],
  store: TuningStore,
  opts: AutotuneOptions = {},
): Promise<{ steps: DispatchStep[]; table: TuningTable; timed: number }> {
  const dispatches = opts.dispatches ?? 5;
  const repeats = opts.repeats ?? 5;
  const table: Record<string, number> = {};
  let timed = 0;
  const out: DispatchStep[] = [];
  for (let i = 0; i < steps.length; i++) {
    const step = steps[i]!;
    const retile = retiles[i];
    if (!retile) {
      out.push(step);
      continue;
    }
    let choice = table[retile.key] ?? store.get(retile.key, retile.choices);
    if (choice === undefined) {
      const times = await timeVariants(executor, retile.choices.map((c) => ({ ...step, kernel: retile.variant(c) })), dispatches, repeats);
      const ms: Record<string, number> = Object.fromEntries(retile.choices.map((c, k) => [c, times[k]!]));
      const fastest = retile.choices.reduce((a, b) => (ms[b]! < ms[a]! ? b : a));
      choice = ms[fastest]! < ms[retile.fallback]! * (1 - MARGIN) ? fastest : retile.fallback;
      store.set(retile.key, { choice, ms });
      timed++;
      opts.log?.(`  autotune ${step.kernel.name}: ${retile.choices.map((c) => `${c}: ${ms[c]!.toFixed(2)} ms`).join(", ")} -> ${choice}`);
    }
    table[retile.key] = choice;
    out.push({ ...step, kernel: retile.variant(choice) });
  }
  if (timed > 0) store.save();
  return { steps: out, table, timed };
}

/**
 * The tuning table for a whole program, timed on its own buffers in a scratch arena (for `ivc compile
 * --autotune`, which builds the program again with the table). The arena is freed afterwards.
 */
export async function autotuneProgram(gpu: GpuContext, program: Program, store: TuningStore, opts: AutotuneOptions = {}): Promise<{ table: TuningTable; timed: number }> {
  const executor = new Executor(gpu.device, program.buffers.map((b) => ({ bufferId: b.id, bytes: b.bytes })));
  try {
    const steps = program.steps.map((s) => ({ kernel: s.kernel, buffers: s.buffers }));
    const tuned = await autotuneSteps(executor, steps, program.steps.map((s) => s.retile), store, opts);
    return { table: tuned.table, timed: tuned.timed };
  } finally {
    executor.destroy();
  }
}
