/**
 * SVG text of a placed picture. Self-contained (no scripts, no external fonts or styles) so it opens
 * in a browser, an editor preview or a docs page alike. Frozen boxes are grey and hatched; every box
 * carries `data-path`/`data-kind`/`data-frozen` and a `<title>` tooltip with its full path and type,
 * which is also what the tests read.
 */
import type { BoxKind } from "./model-graph.ts";
import { FONT_SIZE, type Placed, type PlacedBox, SMALL_FONT, textWidth } from "./layout.ts";

export function escapeXml(s: string): string {
  return s.replace(/[<>&"']/g, (c) => ({ "<": "&lt;", ">": "&gt;", "&": "&amp;", '"': "&quot;", "'": "&apos;" })[c]!);
}

/** Container tints by nesting level, so deep nesting stays legible without borders alone. */
const TINTS = ["#f7f9fc", "#eef3fa", "#e4ecf7", "#dae5f3", "#d0ddf0"];
const LEAF_FILL: Record<BoxKind, string> = {
  model: "#f7f9fc",
  module: "#ffffff",
  list: "#ffffff",
  ops: "#fff8e6",
  kernel: "#eaf7ee",
  input: "#fdeee6",
  output: "#fdeee6",
};
const FROZEN_FILL = "url(#frozen-hatch)";
const FROZEN_STROKE = "#8a8f98";

function fmt(n: number): string {
  return String(Math.round(n * 10) / 10);
}

function boxSvg(p: PlacedBox): string {
  const b = p.box;
  const frozen = b.frozen;
  const fill = frozen ? FROZEN_FILL : p.container ? TINTS[Math.min(p.level, TINTS.length - 1)]! : LEAF_FILL[b.kind];
  const stroke = frozen ? FROZEN_STROKE : b.kind === "kernel" ? "#2f8f4e" : b.kind === "ops" ? "#c9a227" : "#5b7db1";
  const dash = b.kind === "kernel" ? ` stroke-dasharray="5 3"` : p.container && b.kind === "list" ? ` stroke-dasharray="2 2"` : "";
  const rx = b.kind === "input" || b.kind === "output" ? 14 : 4;
  const attrs =
    `class="box ${b.kind}${frozen ? " frozen" : ""}${b.unused ? " unused" : ""}" data-path="${escapeXml(b.id)}" data-kind="${b.kind}" data-frozen="${frozen}"` +
    (b.unused ? ` opacity="0.45"` : "");
  const out = [`<g ${attrs}>`, `<title>${escapeXml(b.tooltip)}</title>`];
  out.push(
    `<rect x="${fmt(p.x)}" y="${fmt(p.y)}" width="${fmt(p.width)}" height="${fmt(p.height)}" rx="${rx}" fill="${fill}" stroke="${stroke}" stroke-width="${p.container ? 1.2 : 1}"${dash}/>`,
  );
  if (frozen && !p.container) {
    // The hatch sits under the text; a translucent plate keeps small labels readable on it.
    out.push(`<rect x="${fmt(p.x + 3)}" y="${fmt(p.y + 3)}" width="${fmt(p.width - 6)}" height="${fmt(p.height - 6)}" rx="3" fill="#ffffff" fill-opacity="0.7"/>`);
  }
  const color = frozen ? "#555a63" : "#1d2733";
  if (p.container) {
    // dagre sizes clusters by their children, not their label: shorten the label to the box.
    const room = Math.floor((p.width - 20) / (FONT_SIZE * 0.6));
    const full = `${b.title}${b.subtitle ? `  ${b.subtitle}` : ""}${frozen ? "  [frozen]" : ""}`;
    const short = `${b.title}${frozen ? " [frozen]" : ""}`;
    const pick = full.length <= room ? full : short;
    const label = pick.length <= room ? pick : `${pick.slice(0, Math.max(room - 1, 1))}…`;
    out.push(`<rect x="${fmt(p.x + 4)}" y="${fmt(p.y + 3)}" width="${fmt(textWidth(label) + 8)}" height="${FONT_SIZE + 5}" fill="#ffffff" fill-opacity="0.8"/>`);
    out.push(`<text x="${fmt(p.x + 8)}" y="${fmt(p.y + 4 + FONT_SIZE)}" font-size="${FONT_SIZE}" font-weight="bold" fill="${color}">${escapeXml(label)}</text>`);
  } else {
    const cx = p.x + p.width / 2;
    const twoLines = b.subtitle !== undefined;
    const y1 = twoLines ? p.y + p.height / 2 - 3 : p.y + p.height / 2 + FONT_SIZE * 0.35;
    out.push(`<text x="${fmt(cx)}" y="${fmt(y1)}" font-size="${FONT_SIZE}" font-weight="bold" text-anchor="middle" fill="${color}">${escapeXml(b.title)}</text>`);
    if (twoLines) {
      out.push(`<text x="${fmt(cx)}" y="${fmt(p.y + p.height / 2 + SMALL_FONT + 1)}" font-size="${SMALL_FONT}" text-anchor="middle" fill="${color}">${escapeXml(b.subtitle!)}</text>`);
    }
  }
  out.push("</g>");
  return out.join("");
}

function legend(x: number, y: number, kernels: boolean, unused: boolean): { svg: string; width: number; height: number } {
  const rows: { label: string; fill: string; stroke: string; dash?: string; faded?: boolean }[] = [
    { label: "module (trainable)", fill: "#ffffff", stroke: "#5b7db1" },
    { label: "frozen (no gradients)", fill: FROZEN_FILL, stroke: FROZEN_STROKE },
    { label: "container / list of modules", fill: TINTS[1]!, stroke: "#5b7db1" },
    kernels ? { label: "fused kernel (one dispatch)", fill: LEAF_FILL.kernel, stroke: "#2f8f4e", dash: "5 3" } : { label: "a container's own ops", fill: LEAF_FILL.ops, stroke: "#c9a227" },
    { label: "graph input / output", fill: LEAF_FILL.input, stroke: "#5b7db1" },
    ...(unused ? [{ label: "not computed by this graph", fill: "#ffffff", stroke: "#5b7db1", faded: true }] : []),
  ];
  const width = 16 + 28 + Math.max(...rows.map((r) => textWidth(r.label, SMALL_FONT)), textWidth("edge: tensor shape", SMALL_FONT)) + 12;
  const height = 26 + rows.length * 20 + 22;
  const out = [`<g class="legend">`, `<rect x="${x}" y="${y}" width="${fmt(width)}" height="${height}" fill="#ffffff" stroke="#b8c0cc"/>`];
  out.push(`<text x="${x + 8}" y="${y + 16}" font-size="${FONT_SIZE}" font-weight="bold" fill="#1d2733">legend</text>`);
  rows.forEach((r, i) => {
    const ry = y + 26 + i * 20;
    out.push(`<rect x="${x + 8}" y="${ry}" width="28" height="14" rx="3" fill="${r.fill}" stroke="${r.stroke}"${r.dash ? ` stroke-dasharray="${r.dash}"` : ""}${r.faded ? ` opacity="0.45"` : ""}/>`);
    out.push(`<text x="${x + 44}" y="${ry + 11}" font-size="${SMALL_FONT}" fill="#1d2733">${escapeXml(r.label)}</text>`);
  });
  const ey = y + 26 + rows.length * 20 + 7;
  out.push(`<line x1="${x + 8}" y1="${ey}" x2="${x + 36}" y2="${ey}" stroke="#5a6472" marker-end="url(#arrow)"/>`);
  out.push(`<text x="${x + 44}" y="${ey + 4}" font-size="${SMALL_FONT}" fill="#1d2733">edge: tensor shape</text>`);
  out.push("</g>");
  return { svg: out.join(""), width, height };
}

export function renderSvg(placed: Placed, title: string, opts: { kernels: boolean }): string {
  const header = 34;
  const lg = legend(placed.width + 10, header, opts.kernels, placed.boxes.some((b) => b.box.unused));
  const width = Math.ceil(placed.width + lg.width + 30);
  const height = Math.ceil(Math.max(placed.height, lg.height + 20) + header);
  const out: string[] = [];
  out.push(`<?xml version="1.0" encoding="UTF-8"?>`);
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="DejaVu Sans Mono, Menlo, Consolas, monospace">`,
  );
  out.push(`<title>${escapeXml(title)}</title>`);
  out.push(
    `<defs>` +
      `<pattern id="frozen-hatch" patternUnits="userSpaceOnUse" width="8" height="8" patternTransform="rotate(45)"><rect width="8" height="8" fill="#e6e8eb"/><line x1="0" y1="0" x2="0" y2="8" stroke="#b3b8c0" stroke-width="3"/></pattern>` +
      `<marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#5a6472"/></marker>` +
      `</defs>`,
  );
  out.push(`<rect width="100%" height="100%" fill="#ffffff"/>`);
  out.push(`<text x="20" y="22" font-size="15" font-weight="bold" fill="#1d2733">${escapeXml(title)}</text>`);
  out.push(`<g transform="translate(0 ${header})">`);
  // Containers outermost first, then leaves, so nothing hides what it contains.
  const order = [...placed.boxes].sort((a, b) => Number(a.container === false) - Number(b.container === false) || a.level - b.level);
  out.push(`<g class="boxes">${order.map(boxSvg).join("\n")}</g>`);
  const edges: string[] = [];
  const labels: string[] = [];
  for (const f of placed.flows) {
    if (f.points.length < 2) continue;
    const d = f.points.map((pt, i) => `${i === 0 ? "M" : "L"}${fmt(pt.x)},${fmt(pt.y)}`).join(" ");
    const data = `data-from="${escapeXml(f.flow.from)}" data-to="${escapeXml(f.flow.to)}"`;
    edges.push(`<path class="flow" ${data} d="${d}" fill="none" stroke="#5a6472" stroke-width="1.2" marker-end="url(#arrow)"/>`);
    if (f.labelAt && f.flow.label) {
      const w = textWidth(f.flow.label, SMALL_FONT) + 6;
      labels.push(
        `<g class="shape" ${data}><rect x="${fmt(f.labelAt.x - w / 2)}" y="${fmt(f.labelAt.y - SMALL_FONT / 2 - 3)}" width="${fmt(w)}" height="${SMALL_FONT + 6}" rx="2" fill="#ffffff" fill-opacity="0.9"/>` +
          `<text x="${fmt(f.labelAt.x)}" y="${fmt(f.labelAt.y + SMALL_FONT * 0.35)}" font-size="${SMALL_FONT}" text-anchor="middle" fill="#3b4654">${escapeXml(f.flow.label)}</text></g>`,
      );
    }
  }
  out.push(`<g class="flows">${edges.join("\n")}</g>`, `<g class="shapes">${labels.join("\n")}</g>`);
  out.push(`</g>`);
  out.push(lg.svg);
  out.push(`</svg>`);
  return `${out.join("\n")}\n`;
}
