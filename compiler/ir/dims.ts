/**
 * Tensor dimensions: a concrete size or a symbolic monomial such as `B` or `8*B*L`.
 * Only products appear in practice (batch folding `(b t)`); sums of symbols are not needed by the
 * models and are rejected, which keeps equality a syntactic check on canonical strings.
 */
export type Dim = number | string;
export type Shape = readonly Dim[];

interface Monomial {
  coef: number;
  syms: string[]; // sorted, with repetition
}

function parseMonomial(d: Dim): Monomial {
  if (typeof d === "number") return { coef: d, syms: [] };
  let coef = 1;
  const syms: string[] = [];
  for (const part of d.split("*")) {
    const p = part.trim();
    if (/^\d+$/.test(p)) coef *= Number(p);
    else if (/^[A-Za-z_][A-Za-z0-9_']*$/.test(p)) syms.push(p);
    else throw new Error(`malformed symbolic dim '${d}'`);
  }
  syms.sort();
  return { coef, syms };
}

function formatMonomial(m: Monomial): Dim {
  if (m.syms.length === 0) return m.coef;
  const body = m.syms.join("*");
  return m.coef === 1 ? body : `${m.coef}*${body}`;
}

/** Canonical form, so that `T*B` and `B*T` compare equal. */
export function canonDim(d: Dim): Dim {
  return formatMonomial(parseMonomial(d));
}

export function dimMul(a: Dim, b: Dim): Dim {
  const x = parseMonomial(a);
  const y = parseMonomial(b);
  return formatMonomial({ coef: x.coef * y.coef, syms: [...x.syms, ...y.syms].sort() });
}

/** Exact division; returns undefined when `a` is not a multiple of `b`. */
export function dimDiv(a: Dim, b: Dim): Dim | undefined {
  const x = parseMonomial(a);
  const y = parseMonomial(b);
  if (y.coef === 0 || x.coef % y.coef !== 0) return undefined;
  const rest = [...x.syms];
  for (const s of y.syms) {
    const i = rest.indexOf(s);
    if (i < 0) return undefined;
    rest.splice(i, 1);
  }
  return formatMonomial({ coef: x.coef / y.coef, syms: rest });
}

export function dimEq(a: Dim, b: Dim): boolean {
  return canonDim(a) === canonDim(b);
}

export function shapeEq(a: Shape, b: Shape): boolean {
  return a.length === b.length && a.every((d, i) => dimEq(d, b[i]!));
}

export function numel(shape: Shape): Dim {
  return shape.reduce<Dim>((acc, d) => dimMul(acc, d), 1);
}

export function isConcrete(shape: Shape): shape is readonly number[] {
  return shape.every((d) => typeof d === "number");
}

/** Substitutes symbol values; throws on an unbound symbol (a runtime caller bug, not user input). */
export function evalDim(d: Dim, env: Readonly<Record<string, number>>): number {
  const m = parseMonomial(d);
  let v = m.coef;
  for (const s of m.syms) {
    const x = env[s];
    if (x === undefined) throw new Error(`symbolic dim '${s}' has no value`);
    v *= x;
  }
  return v;
}

export function evalShape(shape: Shape, env: Readonly<Record<string, number>>): number[] {
  return shape.map((d) => evalDim(d, env));
}

export function formatShape(shape: Shape): string {
  return `[${shape.map(String).join(", ")}]`;
}
