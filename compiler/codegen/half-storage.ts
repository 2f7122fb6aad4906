/**
 * f16 storage with f32 arithmetic: a kernel's chosen f32 bindings become `array<f16>` (or
 * `array<vec4<f16>>`), every load of them is widened to f32 where it is read and every store narrowed
 * where it is written, so the generators' arithmetic, accumulators and workgroup memory stay f32.
 *
 * It rewrites the finished WGSL rather than threading an element type through every generator: the
 * generators access storage in exactly two forms, a load `name[index]` inside an expression and a
 * plain store `name[index] = value;` (no pointers, compound assignments or component stores; the
 * rewrite refuses anything else), and Tint type-checks the result, so a missed access cannot pass
 * silently.
 */
import type { ElemType, Kernel, KernelBinding } from "./kernel.ts";

const HALF_OF: Partial<Record<ElemType, ElemType>> = { f32: "f16", vec4f: "vec4h" };
const WIDE: Partial<Record<ElemType, string>> = { f16: "f32", vec4h: "vec4<f32>" };
const NARROW: Partial<Record<ElemType, string>> = { f16: "f16", vec4h: "vec4<f16>" };

/** `kernel` with the storage bindings named in `names` stored as f16; the others are untouched. */
export function lowerToHalfStorage(kernel: Kernel, names: ReadonlySet<string>): Kernel {
  const halves = new Map<string, ElemType>();
  const bindings: KernelBinding[] = kernel.bindings.map((b) => {
    if (b.kind !== "storage" || !names.has(b.name)) return b;
    const half = HALF_OF[b.elem];
    if (!half) throw new Error(`internal: kernel ${kernel.name} binds '${b.name}' as ${b.elem}, which has no f16 storage form`);
    halves.set(b.name, half);
    return { ...b, elem: half };
  });
  if (halves.size === 0) return kernel;
  let wgsl = kernel.wgsl;
  for (const [name, half] of halves) {
    const decl = new RegExp(`(var<storage, (?:read|read_write)> ${name}: array<)(f32|vec4<f32>)(>;)`);
    if (!decl.test(wgsl)) throw new Error(`internal: kernel ${kernel.name} has no storage declaration for '${name}'`);
    wgsl = wgsl.replace(decl, `$1${NARROW[half]}$3`);
  }
  return { ...kernel, wgsl: enableF16(rewriteAccesses(wgsl, halves, kernel.name)), bindings };
}

/** Places `enable f16;` after the header (comments and other enables), before any declaration. */
function enableF16(wgsl: string): string {
  const lines = wgsl.split("\n");
  let at = 0;
  while (at < lines.length && /^\s*(\/\/.*|enable\s.*;)?\s*$/.test(lines[at]!)) at++;
  lines.splice(at, 0, "enable f16;");
  return lines.join("\n");
}

/** The index just past the bracket that closes the one at `open`. */
function closing(text: string, open: number, what: string): number {
  let depth = 0;
  for (let i = open; i < text.length; i++) {
    const c = text[i];
    if (c === "[" || c === "(") depth++;
    else if (c === "]" || c === ")") {
      depth--;
      if (depth === 0) return i + 1;
    }
  }
  throw new Error(`internal: unbalanced brackets after ${what}`);
}

/** The index of the `;` ending the statement that starts at `from` (outside any brackets). */
function statementEnd(text: string, from: number, what: string): number {
  let depth = 0;
  for (let i = from; i < text.length; i++) {
    const c = text[i];
    if (c === "[" || c === "(") depth++;
    else if (c === "]" || c === ")") depth--;
    else if (c === ";" && depth === 0) return i;
  }
  throw new Error(`internal: no ';' ends the store to ${what}`);
}

function rewriteAccesses(wgsl: string, halves: ReadonlyMap<string, ElemType>, kernel: string): string {
  const access = new RegExp(`\\b(${[...halves.keys()].join("|")})\\[`, "g");
  let out = "";
  let i = 0;
  while (i < wgsl.length) {
    // Comments (the header's source lines quote the .ivm) pass through untouched.
    if (wgsl.startsWith("//", i)) {
      const end = wgsl.indexOf("\n", i);
      const stop = end < 0 ? wgsl.length : end;
      out += wgsl.slice(i, stop);
      i = stop;
      continue;
    }
    access.lastIndex = i;
    const m = access.exec(wgsl);
    const comment = wgsl.indexOf("//", i);
    if (!m || (comment >= 0 && comment < m.index)) {
      const stop = comment >= 0 ? comment : wgsl.length;
      out += wgsl.slice(i, stop);
      i = stop;
      continue;
    }
    const name = m[1]!;
    const half = halves.get(name)!;
    const start = m.index;
    if (start > 0 && /[\w.&]/.test(wgsl[start - 1]!)) throw new Error(`internal: kernel ${kernel} takes '${name}' by pointer or member, which f16 storage cannot rewrite`);
    const end = closing(wgsl, start + name.length, `${name} in kernel ${kernel}`);
    const target = `${name}[${rewriteAccesses(wgsl.slice(start + name.length + 1, end - 1), halves, kernel)}]`;
    const rest = wgsl.slice(end);
    const assign = /^\s*([-+*/%&|^]?)=(?!=)/.exec(rest);
    out += wgsl.slice(i, start);
    if (assign) {
      if (assign[1]) throw new Error(`internal: kernel ${kernel} updates '${name}' in place ('${assign[1]}='), which f16 storage cannot rewrite`);
      const valueStart = end + assign[0].length;
      const semi = statementEnd(wgsl, valueStart, `${name} in kernel ${kernel}`);
      const value = rewriteAccesses(wgsl.slice(valueStart, semi), halves, kernel).trim();
      out += `${target} = ${NARROW[half]}(${value});`;
      i = semi + 1;
    } else {
      out += `${WIDE[half]}(${target})`;
      i = end;
    }
  }
  return out;
}
