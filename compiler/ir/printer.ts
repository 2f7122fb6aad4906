/**
 * Text form of the IR, one line per declaration or node, so pass tests can be written as before/after
 * text (see parse.ts for the inverse). Layout:
 *
 *   param blocks.0.w: f32[64, 64] init=normal(std=0.02, mean=0) param trainable decay @ m.ivm:3:5
 *   input video: f32[B, 3, 8, 32, 32]
 *   %0: f32[B, 3, 8, 32, 32] = input {name=video}
 *   %12: f32[B, 8, 64] = matmul %10, %11   # blocks.0.attn.qkv @ models/x.ivm:14:9
 *   output logits = %12
 *
 * Unary, binary and compare ops print as their op name (`exp`, `add`, `lt`); reductions as
 * `reduce_sum` / `reduce_max`; everything else as its kind, with its remaining fields as `{key=value}`.
 */
import type { Span } from "../../diagnostics/span.ts";
import type { Dim, Shape } from "./dims.ts";
import type { Graph, InputInfo, Node, Op, ParamInfo } from "./types.ts";

/** Attribute order per op kind; fields not listed here are not part of the text form. */
export const OP_ATTRS: Readonly<Record<Op["kind"], readonly string[]>> = {
  input: ["name"],
  param: ["path"],
  const: ["value"],
  random: ["dist", "p", "stream"],
  iota: ["axis"],
  unary: [],
  binary: [],
  compare: [],
  where: [],
  cast: ["to"],
  reduce: ["axes", "keepdims"],
  matmul: [],
  conv3d: ["stride", "padding", "dilation", "groups"],
  reshape: ["shape"],
  permute: ["perm"],
  slice: ["starts", "ends", "steps"],
  concat: ["axis"],
  pad: ["before", "after", "value"],
  broadcast: ["shape"],
  gather: ["axis"],
  scatter_add: ["axis", "shape"],
  attention: ["scale", "causal"],
  attention_stats: ["scale", "causal"],
  attention_grad_q: ["scale", "causal"],
  attention_grad_kv: ["scale", "causal"],
};

/** Attributes printed only when set (absent means the default). */
export const OPTIONAL_ATTRS: Readonly<Partial<Record<Op["kind"], readonly string[]>>> = {
  attention: ["heads_last"],
};

export function opName(op: Op): string {
  if (op.kind === "unary" || op.kind === "binary" || op.kind === "compare") return op.op;
  if (op.kind === "reduce") return `reduce_${op.op}`;
  return op.kind;
}

const BARE_WORD = /^[A-Za-z_][A-Za-z0-9_.'\-]*$/;
const BARE_OUTPUT = /^[A-Za-z_][A-Za-z0-9_.:'\-]*$/;

export function formatNumber(x: number): string {
  if (Number.isNaN(x)) return "nan";
  if (x === Infinity) return "inf";
  if (x === -Infinity) return "-inf";
  return String(x);
}

function formatWord(s: string, bare = BARE_WORD): string {
  return bare.test(s) && s !== "true" && s !== "false" && s !== "inf" && s !== "nan" ? s : JSON.stringify(s);
}

function formatDim(d: Dim): string {
  return typeof d === "number" ? String(d) : d;
}

function formatValue(v: unknown): string {
  if (typeof v === "number") return formatNumber(v);
  if (typeof v === "boolean") return String(v);
  if (typeof v === "string") return /^[0-9]+(\*[A-Za-z_][A-Za-z0-9_']*)+$/.test(v) ? v : formatWord(v);
  if (Array.isArray(v)) return `[${v.map(formatValue).join(", ")}]`;
  throw new Error(`cannot print attribute value ${JSON.stringify(v)}`);
}

export function formatType(shape: Shape, dtype: string): string {
  return `${dtype}[${shape.map(formatDim).join(", ")}]`;
}

function formatSpan(s: Span): string {
  return `${s.file}:${s.line}:${s.col}`;
}

function formatParam(p: ParamInfo): string {
  const { kind: initKind, ...initArgs } = p.init;
  const args = Object.entries(initArgs)
    .map(([k, v]) => `${k}=${formatNumber(v as number)}`)
    .join(", ");
  const flags = [p.kind, p.frozen ? "frozen" : "trainable", p.decay ? "decay" : "nodecay"].join(" ");
  const at = p.span ? ` @ ${formatSpan(p.span)}` : "";
  return `param ${formatWord(p.path)}: ${formatType(p.shape, p.dtype)} init=${initKind}(${args}) ${flags}${at}`;
}

function formatInput(i: InputInfo): string {
  return `input ${formatWord(i.name)}: ${formatType(i.shape, i.dtype)}`;
}

export function formatNode(n: Node): string {
  const fields = n.op as unknown as Record<string, unknown>;
  const attrs = [...OP_ATTRS[n.op.kind], ...(OPTIONAL_ATTRS[n.op.kind] ?? []).filter((k) => fields[k] !== undefined)]
    .map((k) => `${k}=${formatValue(fields[k])}`)
    .join(", ");
  const ins = n.inputs.map((i) => `%${i}`).join(", ");
  let line = `%${n.id}: ${formatType(n.shape, n.dtype)} = ${opName(n.op)}`;
  if (ins) line += ` ${ins}`;
  if (attrs) line += ` {${attrs}}`;
  if (n.name !== undefined || n.spans.length > 0) {
    const parts: string[] = [];
    if (n.name !== undefined) parts.push(/^[^\s@#",]+$/.test(n.name) ? n.name : JSON.stringify(n.name));
    if (n.spans.length > 0) parts.push(`@ ${n.spans.map(formatSpan).join(", ")}`);
    line += `   # ${parts.join(" ")}`;
  }
  return line;
}

export function printGraph(g: Graph): string {
  const lines = [
    ...g.params.map(formatParam),
    ...g.inputs.map(formatInput),
    ...g.nodes.map(formatNode),
    ...g.outputs.map((o) => `output ${formatWord(o.name, BARE_OUTPUT)} = %${o.id}`),
  ];
  return lines.join("\n") + "\n";
}
