/**
 * Parses the text form written by printer.ts back into a Graph. Node shapes are taken from the text
 * and then re-checked against the shape rules, so a hand-written expected graph with a wrong shape
 * fails loudly. Spans come back zero-width at `file:line:col` (offsets 0): the text keeps positions,
 * not byte ranges.
 */
import type { Span } from "../../diagnostics/span.ts";
import { canonDim, shapeEq, type Dim } from "./dims.ts";
import { OP_ATTRS, OPTIONAL_ATTRS } from "./printer.ts";
import { inferShape, isShapeError } from "./shape-rules.ts";
import {
  BINARY_OPS,
  COMPARE_OPS,
  UNARY_OPS,
  type DType,
  type Graph,
  type Init,
  type InputInfo,
  type Node,
  type Op,
  type ParamInfo,
} from "./types.ts";

export class IrParseError extends Error {
  constructor(message: string, readonly line: number) {
    super(`line ${line}: ${message}`);
    this.name = "IrParseError";
  }
}

type Value = number | string | boolean | Value[];

/** A tiny cursor over one line; words cover identifiers, numbers and symbolic dims like `8*B`. */
class Cursor {
  pos = 0;
  constructor(readonly text: string, readonly lineNo: number) {}
  fail(msg: string): never {
    throw new IrParseError(`${msg} at column ${this.pos + 1}: ${this.text}`, this.lineNo);
  }
  skipSpace(): void {
    while (this.pos < this.text.length && /\s/.test(this.text[this.pos]!)) this.pos++;
  }
  peek(): string {
    this.skipSpace();
    return this.text[this.pos] ?? "";
  }
  atEnd(): boolean {
    return this.peek() === "";
  }
  eat(s: string): void {
    this.skipSpace();
    if (!this.text.startsWith(s, this.pos)) this.fail(`expected '${s}'`);
    this.pos += s.length;
  }
  tryEat(s: string): boolean {
    this.skipSpace();
    if (!this.text.startsWith(s, this.pos)) return false;
    this.pos += s.length;
    return true;
  }
  /** `allowColon` is for output names like `grad:fc.w`; declarations end their name with a colon. */
  word(allowColon = false): string {
    this.skipSpace();
    if (this.text[this.pos] === '"') return this.quoted();
    const re = allowColon ? /^[A-Za-z0-9_.:'*+\-]+/ : /^[A-Za-z0-9_.'*+\-]+/;
    const m = re.exec(this.text.slice(this.pos));
    if (!m) this.fail("expected a word");
    this.pos += m[0].length;
    return m[0];
  }
  quoted(): string {
    const m = /^"(?:[^"\\]|\\.)*"/.exec(this.text.slice(this.pos));
    if (!m) this.fail("unterminated string");
    this.pos += m[0].length;
    return JSON.parse(m[0]) as string;
  }
  /** Everything up to the next whitespace (node names in comments). */
  token(): string {
    this.skipSpace();
    const m = /^\S+/.exec(this.text.slice(this.pos));
    if (!m) this.fail("expected a name");
    this.pos += m[0].length;
    return m[0];
  }
  rest(): string {
    this.skipSpace();
    const r = this.text.slice(this.pos);
    this.pos = this.text.length;
    return r;
  }
}

function parseNumber(w: string, c: Cursor): number {
  if (w === "inf") return Infinity;
  if (w === "-inf") return -Infinity;
  if (w === "nan") return NaN;
  const x = Number(w);
  if (w === "" || Number.isNaN(x)) c.fail(`expected a number, got '${w}'`);
  return x;
}

function parseValue(c: Cursor): Value {
  if (c.peek() === "[") {
    c.eat("[");
    const items: Value[] = [];
    while (c.peek() !== "]") {
      items.push(parseValue(c));
      if (!c.tryEat(",")) break;
    }
    c.eat("]");
    return items;
  }
  if (c.peek() === '"') return c.quoted();
  const w = c.word();
  if (w === "true" || w === "false") return w === "true";
  const numeric = /^-?(\d|\.\d)/.test(w) && !w.includes("*");
  if (numeric || w === "inf" || w === "-inf" || w === "nan") return parseNumber(w, c);
  return w;
}

function asDim(v: Value, c: Cursor): Dim {
  if (typeof v === "number") return v;
  if (typeof v === "string") return canonDim(v);
  return c.fail(`expected a dim, got ${JSON.stringify(v)}`);
}

function parseType(c: Cursor): { shape: Dim[]; dtype: DType } {
  const dtype = c.word();
  if (dtype !== "f32" && dtype !== "i32" && dtype !== "bool") c.fail(`unknown dtype '${dtype}'`);
  const dims = parseValue(c);
  if (!Array.isArray(dims)) c.fail("expected a shape");
  return { shape: dims.map((d) => asDim(d, c)), dtype };
}

function parseSpan(text: string, c: Cursor): Span {
  const m = /^(.*):(\d+):(\d+)$/.exec(text.trim());
  if (!m) c.fail(`malformed span '${text}'`);
  const line = Number(m[2]);
  const col = Number(m[3]);
  return { file: m[1]!, offset: 0, endOffset: 0, line, col, endLine: line, endCol: col };
}

function parseParam(c: Cursor): ParamInfo {
  const path = c.word();
  c.eat(":");
  const { shape, dtype } = parseType(c);
  c.eat("init=");
  const initKind = c.word();
  const init: Record<string, unknown> = { kind: initKind };
  c.eat("(");
  while (c.peek() !== ")") {
    const key = c.word();
    c.eat("=");
    init[key] = parseNumber(c.word(), c);
    if (!c.tryEat(",")) break;
  }
  c.eat(")");
  const kind = c.word();
  const frozen = c.word();
  const decay = c.word();
  if ((kind !== "param" && kind !== "buffer") || (frozen !== "frozen" && frozen !== "trainable") || (decay !== "decay" && decay !== "nodecay"))
    c.fail("expected 'param|buffer frozen|trainable decay|nodecay'");
  const info: ParamInfo = { path, shape, dtype, init: init as unknown as Init, kind, frozen: frozen === "frozen", decay: decay === "decay" };
  if (c.tryEat("@")) return { ...info, span: parseSpan(c.rest(), c) };
  return info;
}

function buildOp(name: string, attrs: Map<string, Value>, c: Cursor): Op {
  let op: Record<string, unknown>;
  if ((UNARY_OPS as readonly string[]).includes(name)) op = { kind: "unary", op: name };
  else if ((BINARY_OPS as readonly string[]).includes(name)) op = { kind: "binary", op: name };
  else if ((COMPARE_OPS as readonly string[]).includes(name)) op = { kind: "compare", op: name };
  else if (name === "reduce_sum" || name === "reduce_max") op = { kind: "reduce", op: name.slice(7) };
  else if (name in OP_ATTRS) op = { kind: name };
  else return c.fail(`unknown op '${name}'`);
  const kind = op.kind as Op["kind"];
  for (const key of OP_ATTRS[kind]) {
    const v = attrs.get(key);
    if (v === undefined) c.fail(`${name} needs attribute '${key}'`);
    const dimList = (key === "shape" || key === "ends") && Array.isArray(v);
    op[key] = dimList ? (v as Value[]).map((d) => asDim(d, c)) : v;
  }
  const optional = OPTIONAL_ATTRS[kind] ?? [];
  for (const key of optional) if (attrs.has(key)) op[key] = attrs.get(key);
  for (const key of attrs.keys()) if (!OP_ATTRS[kind].includes(key) && !optional.includes(key)) c.fail(`${name} has no attribute '${key}'`);
  return op as unknown as Op;
}

function parseNode(c: Cursor, known: Map<number, Node>): Node {
  const id = Number(c.word());
  c.eat(":");
  const { shape, dtype } = parseType(c);
  c.eat("=");
  const name = c.word();
  const inputs: number[] = [];
  while (c.tryEat("%")) {
    inputs.push(Number(c.word()));
    if (!c.tryEat(",")) break;
  }
  const attrs = new Map<string, Value>();
  if (c.tryEat("{")) {
    while (c.peek() !== "}") {
      const key = c.word();
      c.eat("=");
      attrs.set(key, parseValue(c));
      if (!c.tryEat(",")) break;
    }
    c.eat("}");
  }
  const op = buildOp(name, attrs, c);
  let nodeName: string | undefined;
  let spans: Span[] = [];
  if (c.tryEat("#")) {
    if (c.peek() !== "@") nodeName = c.peek() === '"' ? c.quoted() : c.token();
    if (c.tryEat("@")) spans = c.rest().split(", ").map((s) => parseSpan(s, c));
  }
  if (!c.atEnd()) c.fail("unexpected text");
  const ins = inputs.map((i) => known.get(i) ?? c.fail(`%${i} is used before it is defined`));
  const declared = ins.length === 0 ? { shape, dtype } : undefined;
  const r = inferShape(op, ins.map((n) => n.shape), ins.map((n) => n.dtype), declared);
  if (isShapeError(r)) c.fail(r.message);
  if (!shapeEq(r.shape, shape) || r.dtype !== dtype)
    c.fail(`declared ${dtype}[${shape.join(", ")}] but the shape rule gives ${r.dtype}[${r.shape.join(", ")}]`);
  if (known.has(id)) c.fail(`%${id} is defined twice`);
  return { id, op, inputs, shape: r.shape, dtype, spans, ...(nodeName !== undefined ? { name: nodeName } : {}) };
}

export function parseGraph(text: string): Graph {
  const params: ParamInfo[] = [];
  const inputs: InputInfo[] = [];
  const nodes: Node[] = [];
  const outputs: { name: string; id: number }[] = [];
  const known = new Map<number, Node>();
  text.split("\n").forEach((raw, i) => {
    const line = raw.trim();
    if (line === "" || line.startsWith("//")) return;
    const c = new Cursor(line, i + 1);
    if (c.tryEat("%")) {
      const n = parseNode(c, known);
      known.set(n.id, n);
      nodes.push(n);
      return;
    }
    const head = c.word();
    if (head === "param") params.push(parseParam(c));
    else if (head === "input") {
      const name = c.word();
      c.eat(":");
      inputs.push({ name, ...parseType(c) });
    } else if (head === "output") {
      const name = c.word(true);
      c.eat("=");
      c.eat("%");
      const id = Number(c.word());
      if (!known.has(id)) c.fail(`output refers to undefined %${id}`);
      outputs.push({ name, id });
    } else c.fail(`unexpected '${head}'`);
  });
  return { nodes, params, inputs, outputs };
}
