/**
 * Per-kernel statistics of a Program: what each dispatch computes, how much memory it touches and how
 * much arithmetic it does. Derived by wrapping the schedule, not by changing it: the fusion plan is
 * deterministic, so planning the same bound graph again gives the plan `buildProgram` lowered, kernel
 * for kernel, and a kernel's fused nodes are its stored results plus everything inlined into them.
 */
import type { Kernel } from "../codegen/kernel.ts";
import { nodeFlops } from "../info/index.ts";
import { isAttentionOp } from "../codegen/fused/attention-group.ts";
import type { Graph, Node, ValueId } from "../ir/types.ts";
import { planFusion } from "../schedule/plan.ts";
import type { Program } from "../schedule/program.ts";

export type KernelPass = "forward" | "backward" | "optimizer";

export interface KernelStats {
  readonly name: string;
  readonly kind: string;
  readonly pass: KernelPass;
  /** Arithmetic IR nodes computed in the kernel (views and constants are index maths, not counted). */
  readonly ops: number;
  /** Every IR node the kernel computes, inlined views included. */
  readonly nodes: readonly ValueId[];
  /** Bytes of the distinct tensors read and written (each once: the traffic of a perfect cache). */
  readonly bytesRead: number;
  readonly bytesWritten: number;
  /** Multiply-adds for matmul/conv3d/attention; one per element per arithmetic op (reductions: per input element) otherwise. */
  readonly flops: number;
  /** `file:line` of the `.ivm` lines the kernel implements. */
  readonly lines: readonly string[];
}

const VIEWS = new Set(["reshape", "permute", "slice", "broadcast", "const", "iota"]);

/** Backward kernels are named after gradient nodes (`grad.<param>`, `grad.<node>`). */
export function passOf(kernel: Kernel): KernelPass {
  return kernel.name.includes("grad.") ? "backward" : "forward";
}

function numel(shape: readonly (number | string)[]): number {
  return shape.reduce<number>((a, d) => a * (d as number), 1);
}

/** Stats for every step of `program`, which `buildProgram` made from `graph` (dims bound). */
export function programStats(graph: Graph, program: Program): KernelStats[] {
  const plan = planFusion(graph, program.fusion);
  if (plan.kernels.length !== program.steps.length) {
    throw new Error(`internal: fusion plan has ${plan.kernels.length} kernels, the program ${program.steps.length} steps`);
  }
  const byId = new Map(plan.graph.nodes.map((n) => [n.id, n]));
  const original = new Set(graph.nodes.map((n) => n.id));
  const bytes = (n: Node) => numel(n.shape) * (program.halfStored.has(n.id) ? 2 : 4);
  return program.steps.map((step, i) => {
    const planned = plan.kernels[i]!;
    const nodes = new Set<ValueId>();
    // Walk back from the stored results through inlined (unstored) producers.
    const visit = (id: ValueId, root: boolean) => {
      if (nodes.has(id)) return;
      const n = byId.get(id)!;
      if (!root && plan.materialized.has(id)) return;
      if (n.op.kind === "input" || n.op.kind === "param") return;
      // Another kernel's anchor writing into the same value (a concatenation written in place).
      if (isAttentionOp(n.op.kind) && "node" in planned && id !== planned.node) return;
      nodes.add(id);
      for (const x of n.inputs) visit(x, false);
    };
    for (const w of step.writes) visit(w, true);
    const computed = [...nodes].map((id) => byId.get(id)!);
    const arithmetic = computed.filter((n) => !VIEWS.has(n.op.kind));
    let flops = 0;
    for (const n of arithmetic) {
      if (n.op.kind === "matmul" || n.op.kind === "conv3d" || isAttentionOp(n.op.kind)) flops += nodeFlops(n, byId, {});
      else if (n.op.kind === "reduce") flops += numel(byId.get(n.inputs[0]!)!.shape);
      else flops += numel(n.shape);
    }
    const lines = new Set<string>();
    for (const n of computed) for (const s of n.spans) lines.add(`${s.file}:${s.line}`);
    return {
      name: step.kernel.name,
      kind: planned.kind,
      pass: passOf(step.kernel),
      ops: arithmetic.length,
      // The graph's own nodes (the plan may add views, e.g. for heads-last attention).
      nodes: [...nodes].filter((id) => original.has(id)).sort((a, b) => a - b),
      // A buffer bound several times (q, k and v sliced from one qkv) is read once.
      bytesRead: [...new Set(step.reads)].reduce((a, id) => a + bytes(byId.get(id)!), 0),
      bytesWritten: step.writes.reduce((a, id) => a + bytes(byId.get(id)!), 0),
      flops,
      lines: [...lines].sort(),
    };
  });
}

function human(n: number, unit = ""): string {
  const steps: [number, string][] = [
    [1e12, "T"],
    [1e9, "G"],
    [1e6, "M"],
    [1e3, "K"],
  ];
  for (const [v, s] of steps) if (n >= v) return `${(n / v).toFixed(n >= v * 100 ? 0 : 1)}${s}${unit}`;
  return `${n}${unit}`;
}

function sourceColumn(lines: readonly string[]): string {
  if (lines.length === 0) return "-";
  // Lines of one file collapse to `file:12,14,20`; files are shown by base name.
  const byFile = new Map<string, string[]>();
  for (const l of lines) {
    const at = l.lastIndexOf(":");
    const file = l.slice(0, at).split("/").pop()!;
    byFile.set(file, [...(byFile.get(file) ?? []), l.slice(at + 1)]);
  }
  const text = [...byFile].map(([f, ls]) => `${f}:${ls.sort((a, b) => Number(a) - Number(b)).join(",")}`).join(" ");
  return text.length > 48 ? `${text.slice(0, 45)}...` : text;
}

/** The `--explain` table: one row per dispatch, then totals. */
export function explainTable(stats: readonly KernelStats[], totals: { peakBytes: number; dispatches: number }): string {
  const header = ["kernel", "kind", "pass", "ops", "source", "read", "written", "FLOPs"];
  const rows = stats.map((s) => [
    s.name,
    s.kind,
    s.pass,
    String(s.ops),
    sourceColumn(s.lines),
    human(s.bytesRead, "B"),
    human(s.bytesWritten, "B"),
    human(s.flops),
  ]);
  const sum = (f: (s: KernelStats) => number) => stats.reduce((a, s) => a + f(s), 0);
  const total = [
    "total",
    "",
    "",
    String(sum((s) => s.ops)),
    "",
    human(
      sum((s) => s.bytesRead),
      "B",
    ),
    human(
      sum((s) => s.bytesWritten),
      "B",
    ),
    human(sum((s) => s.flops)),
  ];
  const widths = header.map((h, i) => Math.max(h.length, ...[...rows, total].map((r) => r[i]!.length)));
  const right = new Set([3, 5, 6, 7]);
  const fmt = (r: string[]) =>
    r
      .map((c, i) => (right.has(i) ? c.padStart(widths[i]!) : c.padEnd(widths[i]!)))
      .join("  ")
      .trimEnd();
  const rule = widths.map((w) => "-".repeat(w)).join("  ");
  const byKind = new Map<string, number>();
  for (const s of stats) byKind.set(s.kind, (byKind.get(s.kind) ?? 0) + 1);
  return [
    fmt(header),
    rule,
    ...rows.map(fmt),
    rule,
    fmt(total),
    "",
    `dispatches ${totals.dispatches} (${[...byKind].map(([k, n]) => `${k} ${n}`).join(", ")})`,
    `peak bytes ${totals.peakBytes.toLocaleString("en-US")} (${human(totals.peakBytes, "B")})`,
  ].join("\n");
}
