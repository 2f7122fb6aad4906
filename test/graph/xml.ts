/**
 * A strict XML well-formedness check for the SVG tests (no XML parser is a dependency): one root,
 * balanced and properly nested tags, quoted attributes without duplicates, and no raw `<` or stray
 * `&` in text or attribute values. Returns the problems found, empty when well formed.
 */
const NAME = "[A-Za-z_][A-Za-z0-9_.:-]*";
const ENTITY = /&(?:lt|gt|amp|quot|apos|#\d+|#x[0-9a-fA-F]+);/g;

function badText(s: string): boolean {
  return s.includes("<") || s.replace(ENTITY, "").includes("&");
}

export function xmlProblems(text: string): string[] {
  const problems: string[] = [];
  const stack: string[] = [];
  let roots = 0;
  let i = 0;
  const body = text.replace(/^<\?xml[^?]*\?>\s*/, "");
  while (i < body.length) {
    const lt = body.indexOf("<", i);
    const chunk = body.slice(i, lt === -1 ? body.length : lt);
    if (badText(chunk)) problems.push(`bad character data near ${i}: ${chunk.slice(0, 40)}`);
    if (stack.length === 0 && chunk.trim() !== "") problems.push(`text outside the root near ${i}`);
    if (lt === -1) break;
    if (body.startsWith("<!--", lt)) {
      const end = body.indexOf("-->", lt);
      if (end === -1) return [...problems, "unterminated comment"];
      i = end + 3;
      continue;
    }
    const gt = body.indexOf(">", lt);
    if (gt === -1) return [...problems, `unterminated tag at ${lt}`];
    const tag = body.slice(lt + 1, gt);
    i = gt + 1;
    const close = new RegExp(`^/(${NAME})\\s*$`).exec(tag);
    if (close) {
      const open = stack.pop();
      if (open !== close[1]) problems.push(`</${close[1]}> closes <${open}> at ${lt}`);
      continue;
    }
    const m = new RegExp(`^(${NAME})((?:\\s+${NAME}\\s*=\\s*"[^"]*")*)\\s*(/?)$`).exec(tag);
    if (!m) {
      problems.push(`malformed tag at ${lt}: <${tag.slice(0, 60)}>`);
      continue;
    }
    const names = [...m[2]!.matchAll(new RegExp(`(${NAME})\\s*=\\s*"([^"]*)"`, "g"))];
    const seen = new Set<string>();
    for (const [, n, v] of names) {
      if (seen.has(n!)) problems.push(`duplicate attribute ${n} at ${lt}`);
      seen.add(n!);
      if (badText(v!)) problems.push(`bad attribute value ${n}="${v}" at ${lt}`);
    }
    if (stack.length === 0) roots++;
    if (m[3] !== "/") stack.push(m[1]!);
  }
  if (stack.length > 0) problems.push(`unclosed <${stack.join("> <")}>`);
  if (roots !== 1) problems.push(`${roots} root elements`);
  return problems;
}
