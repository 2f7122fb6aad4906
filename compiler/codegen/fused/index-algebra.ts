/**
 * Simplification of the u32 index expressions the fused emitters build. Views chain into index
 * arithmetic: a reshape after a permute after a reshape splits a flat offset with `/` and `%`, sums
 * the pieces with new strides, and splits again. LLVM folds none of it (u32 wrap-around forbids
 * `(g / 64) * 64 + g % 64 -> g`), and lavapipe pays every div/mod per element, so a conv gradient's
 * inner loop did ~40 integer ops per load. Here each expression becomes a linear form
 * `sum(coef * atom) + const` over atoms (names, `x / d`, `x % d`, opaque calls) with known upper
 * bounds, and the rules that hold for non-negative integers without overflow apply:
 *
 * - `(q*d + r) / d = q` and `(q*d + r) % d = r` when `r`'s maximum is below `d`;
 * - a common factor of every coefficient and the divisor comes out first (`(4g) / 2048 = g / 512`);
 * - `(x / a) / b = x / (a b)`, `(x % (a b)) / a = (x / a) % b`;
 * - recombination: `k (x / a) a + k (x % a) = k x` and `k ((x / a) % b) a + k (x % a) = k (x % (a b))`.
 *
 * Index values are offsets into buffers (below 2^32), so no intermediate of the original expression
 * wraps, and the simplified one computes the same number. Anything the parser does not understand
 * (a subtraction, an i32 literal) is left exactly as written.
 */

type Atom =
  | { readonly kind: "name"; readonly name: string }
  | { readonly kind: "div" | "mod"; readonly x: Linear; readonly d: number }
  | { readonly kind: "opaque"; readonly text: string; readonly max: number };

interface Term {
  readonly atom: Atom;
  readonly coef: number;
}

/** sum(coef * atom) + c, terms keyed by the atom's printed form. */
interface Linear {
  readonly terms: ReadonlyMap<string, Term>;
  readonly c: number;
}

const constant = (c: number): Linear => ({ terms: new Map(), c });

function atomKey(a: Atom): string {
  if (a.kind === "name") return a.name;
  if (a.kind === "opaque") return a.text;
  return `(${print(a.x)} ${a.kind === "div" ? "/" : "%"} ${a.d}u)`;
}

function single(atom: Atom, coef = 1): Linear {
  return { terms: new Map([[atomKey(atom), { atom, coef }]]), c: 0 };
}

function add(a: Linear, b: Linear, scaleB = 1): Linear {
  const terms = new Map(a.terms);
  for (const [k, t] of b.terms) {
    const coef = (terms.get(k)?.coef ?? 0) + t.coef * scaleB;
    if (coef === 0) terms.delete(k);
    else terms.set(k, { atom: t.atom, coef });
  }
  return recombine({ terms, c: a.c + b.c * scaleB });
}

/** `l` with every coefficient and the constant mapped by `f` (keys stay: they name atoms). */
function mapCoefs(l: Linear, f: (x: number) => number): Linear {
  return { terms: new Map([...l.terms].map(([key, t]) => [key, { atom: t.atom, coef: f(t.coef) }])), c: f(l.c) };
}

function scale(a: Linear, k: number): Linear {
  return k === 0 ? constant(0) : mapCoefs(a, (x) => x * k);
}

/** WGSL of `l`; `named` gives the name already bound to an atom (by its key), if any. */
function print(l: Linear, named?: (key: string) => string | undefined): string {
  const render = (a: Atom): string => {
    const key = atomKey(a);
    const name = a.kind === "name" ? undefined : named?.(key);
    if (name) return name;
    if (a.kind === "div" || a.kind === "mod") return `(${print(a.x, named)} ${a.kind === "div" ? "/" : "%"} ${a.d}u)`;
    return key;
  };
  const parts = [...l.terms.values()].map(({ atom, coef }) => (coef === 1 ? render(atom) : `${render(atom)} * ${coef}u`));
  if (l.c !== 0 || parts.length === 0) parts.push(`${l.c}u`);
  return parts.length === 1 ? parts[0]! : `(${parts.join(" + ")})`;
}

function gcd(a: number, b: number): number {
  while (b) [a, b] = [b, a % b];
  return a;
}

function commonFactor(l: Linear, d: number): number {
  let g = gcd(d, l.c);
  for (const t of l.terms.values()) g = gcd(g, t.coef);
  return g;
}

/** Same linear form divided exactly by `g` (every coefficient is a multiple). */
function exactDiv(l: Linear, g: number): Linear {
  return mapCoefs(l, (x) => x / g);
}

/** Splits `l` into the part whose coefficients are multiples of `d` (divided by `d`) and the rest. */
function splitBy(l: Linear, d: number): { quotient: Linear; rest: Linear } {
  const q = new Map<string, Term>();
  const r = new Map<string, Term>();
  for (const [k, t] of l.terms) {
    if (t.coef % d === 0) q.set(k, { atom: t.atom, coef: t.coef / d });
    else r.set(k, t);
  }
  return { quotient: { terms: q, c: Math.floor(l.c / d) }, rest: { terms: r, c: l.c % d } };
}

/**
 * `k x/a * a + k x%a -> k x` and `k (x/a)%b * a + k x%a -> k x%(ab)`, until nothing pairs. Each
 * match removes a term, so this ends.
 */
function recombine(l: Linear): Linear {
  for (const [modKey, m] of l.terms) {
    if (m.atom.kind !== "mod") continue;
    const { x, d: a } = m.atom;
    const divAtom: Atom = { kind: "div", x, d: a };
    const divKey = atomKey(divAtom);
    for (const [key, t] of l.terms) {
      if (key === modKey || t.coef !== m.coef * a) continue;
      let merged: Linear | undefined;
      if (key === divKey) merged = scale(x, m.coef);
      else if (t.atom.kind === "mod" && t.atom.x.terms.size === 1 && t.atom.x.c === 0) {
        const inner = [...t.atom.x.terms.values()][0]!;
        if (inner.coef === 1 && atomKey(inner.atom) === divKey) merged = single({ kind: "mod", x, d: a * t.atom.d }, m.coef);
      }
      if (!merged) continue;
      const terms = new Map(l.terms);
      terms.delete(modKey);
      terms.delete(key);
      return add({ terms, c: l.c }, merged);
    }
  }
  return l;
}

/** What the rules know of names: upper bounds (inclusive; Infinity where unknown) and definitions. */
interface Bounds {
  maxOf(name: string): number;
  /** A name's definition in base atoms (names without one, opaque calls, div/mod of those). */
  expanded(name: string): Linear | undefined;
}

function maxOfAtom(a: Atom, b: Bounds): number {
  if (a.kind === "name") {
    const def = b.expanded(a.name);
    return Math.min(b.maxOf(a.name), def ? maxOf(def, b) : Infinity);
  }
  if (a.kind === "opaque") return a.max;
  const x = maxOf(a.x, b);
  return a.kind === "div" ? Math.floor(x / a.d) : Math.min(a.d - 1, x);
}

function maxOf(l: Linear, b: Bounds): number {
  let m = l.c;
  for (const t of l.terms.values()) m += t.coef * maxOfAtom(t.atom, b);
  return m;
}

function containsNames(l: Linear): boolean {
  for (const { atom } of l.terms.values()) {
    if (atom.kind === "name" || ((atom.kind === "div" || atom.kind === "mod") && containsNames(atom.x))) return true;
  }
  return false;
}

/** `l` in base atoms: names replaced by their definitions, div/mod rebuilt (and simplified) over those. */
function expand(l: Linear, b: Bounds): Linear {
  if (!containsNames(l)) return l;
  let out = constant(l.c);
  for (const t of l.terms.values()) {
    const a = t.atom;
    let e: Linear;
    if (a.kind === "name") e = b.expanded(a.name) ?? single(a);
    else if (a.kind === "opaque") e = single(a);
    else e = a.kind === "div" ? divide(expand(a.x, b), a.d, b) : modulo(expand(a.x, b), a.d, b);
    out = add(out, e, t.coef);
  }
  return out;
}

/**
 * A term `c a` of `rest` with `c` dividing `d` and everything else in `rest` below `c`: then
 * `(c a + o) / d = a / (d / c)` and `(c a + o) % d = c (a % (d / c)) + o`.
 */
function leadingTerm(rest: Linear, d: number, b: Bounds): { term: Term; others: Linear } | undefined {
  for (const [key, term] of rest.terms) {
    if (d % term.coef !== 0 || term.coef === 1) continue;
    const terms = new Map(rest.terms);
    terms.delete(key);
    const others = { terms, c: rest.c };
    if (maxOf(others, b) < term.coef) return { term, others };
  }
  return undefined;
}

/** `l / d` where a rule removes the division or folds it into another; else undefined. */
function tryDiv(l: Linear, d: number, b: Bounds): Linear | undefined {
  if (d === 1) return l;
  const g = commonFactor(l, d);
  if (g > 1) return divide(exactDiv(l, g), d / g, b);
  if (maxOf(l, b) < d) return constant(0);
  const { quotient, rest } = splitBy(l, d);
  if ((quotient.terms.size > 0 || quotient.c > 0) && maxOf(rest, b) < d) return quotient;
  const lead = leadingTerm(rest, d, b);
  if (lead) return add(quotient, divide(single(lead.term.atom), d / lead.term.coef, b));
  if (l.c === 0 && l.terms.size === 1) {
    const { atom, coef } = [...l.terms.values()][0]!;
    if (coef === 1 && atom.kind === "div") return single({ kind: "div", x: atom.x, d: atom.d * d });
    if (coef === 1 && atom.kind === "mod" && atom.d % d === 0) return modulo(divide(atom.x, d, b), atom.d / d, b);
  }
  return undefined;
}

/** `l % d` where a rule removes the modulo or folds it into another; else undefined. */
function tryMod(l: Linear, d: number, b: Bounds): Linear | undefined {
  if (d === 1) return constant(0);
  const g = commonFactor(l, d);
  if (g > 1) return scale(modulo(exactDiv(l, g), d / g, b), g);
  const { rest } = splitBy(l, d);
  if (maxOf(rest, b) < d) return rest;
  const lead = leadingTerm(rest, d, b);
  if (lead) return add(lead.others, modulo(single(lead.term.atom), d / lead.term.coef, b), lead.term.coef);
  if (rest.c === 0 && rest.terms.size === 1) {
    const { atom, coef } = [...rest.terms.values()][0]!;
    if (coef === 1 && atom.kind === "mod" && atom.d % d === 0) return single({ kind: "mod", x: atom.x, d });
  }
  return undefined;
}

function divide(l: Linear, d: number, b: Bounds): Linear {
  return tryDiv(l, d, b) ?? (containsNames(l) ? tryDiv(expand(l, b), d, b) : undefined) ?? single({ kind: "div", x: l, d });
}

/** Multiples of `d` drop out of a modulo even where nothing else simplifies. */
function modulo(l: Linear, d: number, b: Bounds): Linear {
  return tryMod(l, d, b) ?? (containsNames(l) ? tryMod(expand(l, b), d, b) : undefined) ?? single({ kind: "mod", x: splitBy(l, d).rest, d });
}

class Unparsed extends Error {}

/** Upper bounds of the opaque calls the emitters write (clamped or min-ed indices). */
function callMax(text: string): number {
  const clamp = /^u32\(clamp\(.*, 0i, (\d+)i\)\)$/.exec(text);
  if (clamp) return Number(clamp[1]);
  const min = /^min\(.*, (\d+)u\)$/.exec(text);
  if (min) return Number(min[1]);
  return Infinity;
}

/** Recursive descent over `+ * / %`, parentheses, u32 literals, names and calls (kept whole). */
class Parser {
  private pos = 0;
  constructor(
    private readonly src: string,
    private readonly bounds: Bounds,
  ) {}

  parse(): Linear {
    const l = this.sum();
    this.skip();
    if (this.pos !== this.src.length) throw new Unparsed();
    return l;
  }

  private skip(): void {
    while (this.src[this.pos] === " ") this.pos++;
  }

  private sum(): Linear {
    let l = this.product();
    for (;;) {
      this.skip();
      if (this.src[this.pos] !== "+") return l;
      this.pos++;
      l = add(l, this.product());
    }
  }

  private product(): Linear {
    let l = this.primary();
    for (;;) {
      this.skip();
      const op = this.src[this.pos];
      if (op !== "*" && op !== "/" && op !== "%") return l;
      this.pos++;
      const r = this.primary();
      if (op === "*") {
        if (r.terms.size === 0) l = scale(l, r.c);
        else if (l.terms.size === 0) l = scale(r, l.c);
        else throw new Unparsed();
      } else {
        if (r.terms.size !== 0 || r.c === 0) throw new Unparsed();
        l = op === "/" ? divide(l, r.c, this.bounds) : modulo(l, r.c, this.bounds);
      }
    }
  }

  private primary(): Linear {
    this.skip();
    const rest = this.src.slice(this.pos);
    if (rest.startsWith("(")) {
      this.pos++;
      const l = this.sum();
      this.skip();
      if (this.src[this.pos] !== ")") throw new Unparsed();
      this.pos++;
      return l;
    }
    const num = /^(\d+)u/.exec(rest);
    if (num) {
      this.pos += num[0].length;
      return constant(Number(num[1]));
    }
    const ident = /^[A-Za-z_][A-Za-z0-9_]*/.exec(rest);
    if (!ident) throw new Unparsed();
    this.pos += ident[0].length;
    if (this.src[this.pos] !== "(") return single({ kind: "name", name: ident[0] });
    const start = this.pos - ident[0].length;
    let depth = 0;
    do {
      const ch = this.src[this.pos++];
      if (ch === undefined) throw new Unparsed();
      if (ch === "(") depth++;
      else if (ch === ")") depth--;
    } while (depth > 0);
    const text = this.src.slice(start, this.pos);
    return single({ kind: "opaque", text, max: callMax(text) });
  }
}

/**
 * The index names of one kernel scope and its ancestors: their definitions and bounds. Each emitter
 * scope has one; a child's lookups fall back to its parent's.
 */
export class IndexScope implements Bounds {
  private readonly defs = new Map<string, Linear>();
  private readonly expansions = new Map<string, Linear>();
  private readonly maxima = new Map<string, number>();
  /** Each defined name under its definition in base atoms, printed: equal expressions reuse the name. */
  private readonly byExpansion = new Map<string, string>();
  private readonly simplified = new Map<string, string>();

  constructor(private readonly parent?: IndexScope) {}

  private named(base: string): string | undefined {
    return this.byExpansion.get(base) ?? this.parent?.named(base);
  }

  /** `name` takes values in [0, count). */
  range(name: string, count: number): void {
    this.maxima.set(name, count - 1);
  }

  maxOf(name: string): number {
    return this.maxima.get(name) ?? this.parent?.maxOf(name) ?? Infinity;
  }

  expanded(name: string): Linear | undefined {
    const def = this.defs.get(name);
    if (!def) return this.parent?.expanded(name);
    let e = this.expansions.get(name);
    if (!e) this.expansions.set(name, (e = expand(def, this)));
    return e;
  }

  /**
   * `expr` simplified: the shorter of its linear form over the names it uses and the one over base
   * atoms (where recombination sees through names); exactly `expr` where it is not an index
   * expression this understands.
   */
  simplify(expr: string): string {
    // Names are only ever added, so an expression simplifies the same way for the scope's lifetime.
    let out = this.simplified.get(expr);
    if (out === undefined) this.simplified.set(expr, (out = this.simplifyOnce(expr)));
    return out;
  }

  private simplifyOnce(expr: string): string {
    const l = this.linear(expr);
    if (!l) return expr;
    const base = expand(l, this);
    const existing = this.named(print(base));
    if (existing) return existing;
    const named = (key: string) => this.named(key);
    const viaNames = print(l, named);
    const viaBase = print(base, named);
    return viaBase.length < viaNames.length ? viaBase : viaNames;
  }

  /** Records that `name` was bound to `expr` (already simplified). */
  define(name: string, expr: string): void {
    const l = this.linear(expr);
    if (!l) return;
    this.defs.set(name, l);
    const base = print(this.expanded(name)!);
    if (!this.named(base)) this.byExpansion.set(base, name);
  }

  private linear(expr: string): Linear | undefined {
    try {
      return new Parser(expr, this).parse();
    } catch (e) {
      if (e instanceof Unparsed) return undefined;
      throw e;
    }
  }
}
