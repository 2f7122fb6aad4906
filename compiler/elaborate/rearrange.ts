/**
 * einops-style `rearrange` patterns, lowered to reshape -> permute -> reshape.
 *
 *   "b t h w c -> (b t) (h w) c"          merge axes
 *   "b (t h w) c -> b t h w c", t=8, h=14 split an axis; all but one factor of a group must be known
 *   "b t n c -> b n t c"                  permute
 *   "... c -> ... c"                      an ellipsis stands for any leading axes (same on both sides)
 *
 * The plan is computed from the input shape alone, so errors are values the caller locates.
 */
import { type Dim, type Shape, dimDiv, dimEq, dimMul } from "../ir/dims.ts";

export interface RearrangePlan {
  /** Shape after splitting the input's grouped axes into elementary axes. */
  readonly split: Shape;
  /** Permutation of the elementary axes into output order. */
  readonly perm: readonly number[];
  /** Final shape after merging the output's groups. */
  readonly output: Shape;
}

type Side = string[][]; // each entry: the elementary axis names of one (possibly grouped) axis

function parseSide(text: string, where: string): Side | string {
  const groups: Side = [];
  let current: string[] | undefined;
  const tokens = text.match(/\(|\)|\.\.\.|[A-Za-z_][A-Za-z0-9_]*|\d+|\S/g) ?? [];
  for (const tok of tokens) {
    if (tok === "(") {
      if (current) return `nested parentheses in the ${where} side`;
      current = [];
    } else if (tok === ")") {
      if (!current) return `unbalanced ')' in the ${where} side`;
      groups.push(current);
      current = undefined;
    } else if (tok === "..." || /^[A-Za-z_]/.test(tok) || tok === "1") {
      const name = tok === "1" ? `__unit${groups.length}_${current?.length ?? 0}` : tok;
      if (current) current.push(name);
      else groups.push([name]);
    } else {
      return `unexpected '${tok}' in the ${where} side`;
    }
  }
  if (current) return `unclosed '(' in the ${where} side`;
  return groups;
}

export function planRearrange(
  pattern: string,
  input: Shape,
  sizes: Readonly<Record<string, number>>,
): RearrangePlan | string {
  const parts = pattern.split("->");
  if (parts.length !== 2) return "a rearrange pattern needs exactly one '->'";
  const lhs = parseSide(parts[0]!, "left");
  if (typeof lhs === "string") return lhs;
  const rhs = parseSide(parts[1]!, "right");
  if (typeof rhs === "string") return rhs;

  const ellipsisRank = input.length - (lhs.length - (lhs.some((g) => g.includes("...")) ? 1 : 0));
  const hasEllipsis = lhs.some((g) => g.includes("..."));
  if (hasEllipsis !== rhs.some((g) => g.includes("..."))) return "'...' must appear on both sides or neither";
  if (hasEllipsis ? ellipsisRank < 0 : lhs.length !== input.length) {
    return `the pattern's left side has ${lhs.length} axes but the tensor has ${input.length}`;
  }
  const expand = (side: Side): Side =>
    side.flatMap((g) =>
      g.length === 1 && g[0] === "..." ? Array.from({ length: ellipsisRank }, (_, i) => [`...${i}`]) : [g],
    );
  const left = expand(lhs);
  const right = expand(rhs);

  const axisSize = new Map<string, Dim>();
  const order: string[] = [];
  for (let i = 0; i < left.length; i++) {
    const group = left[i]!;
    const total = input[i]!;
    let known: Dim = 1;
    let unknown: string | undefined;
    for (const name of group) {
      if (order.includes(name)) return `axis '${name}' appears twice on the left side`;
      order.push(name);
      const given = name.startsWith("__unit") ? 1 : sizes[name];
      if (given !== undefined) {
        axisSize.set(name, given);
        known = dimMul(known, given);
      } else if (group.length === 1) {
        axisSize.set(name, total);
        known = dimMul(known, total);
      } else if (unknown) {
        return `axis group (${group.join(" ")}) has two axes of unknown size: give one as '${name}=...'`;
      } else {
        unknown = name;
      }
    }
    if (unknown) {
      const rest = dimDiv(total, known);
      if (rest === undefined) return `axis of size ${total} cannot be split into (${group.join(" ")}) with the given sizes`;
      axisSize.set(unknown, rest);
    } else if (!dimEq(known, total)) {
      return `axis of size ${total} does not match (${group.join(" ")}) = ${known}`;
    }
  }
  const rightNames = right.flat().filter((n) => !n.startsWith("__unit"));
  const leftNames = order.filter((n) => !n.startsWith("__unit"));
  for (const n of rightNames) if (!leftNames.includes(n)) return `axis '${n}' appears only on the right side`;
  for (const n of leftNames) if (!rightNames.includes(n)) return `axis '${n}' appears only on the left side (use a reduction to drop it)`;

  const realOrder = order.filter((n) => !n.startsWith("__unit"));
  const split = realOrder.map((n) => axisSize.get(n)!);
  const perm = rightNames.map((n) => realOrder.indexOf(n));
  const output = right.map((g) =>
    g.reduce<Dim>((acc, n) => (n.startsWith("__unit") ? acc : dimMul(acc, axisSize.get(n)!)), 1),
  );
  return { split, perm, output };
}
