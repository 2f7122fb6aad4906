/**
 * Places a ModelPicture with dagre's compound layout: leaves are nodes, containers are clusters
 * (dagre sizes them around their children), flows are edges with a label slot so dagre keeps shape
 * labels clear of boxes. Text is measured by character count in a monospace font, which is what the
 * SVG uses, so the estimate holds without a font engine.
 */
import dagre from "@dagrejs/dagre";
import type { Box, Flow, ModelPicture } from "./model-graph.ts";

export const FONT_SIZE = 12;
export const SMALL_FONT = 10;
/** Monospace advance is 0.6 em in the common fonts (DejaVu Sans Mono, Menlo, Consolas). */
export const textWidth = (text: string, size = FONT_SIZE) => text.length * size * 0.6;

export interface Rect {
  readonly x: number;
  readonly y: number;
  readonly width: number;
  readonly height: number;
}

export interface PlacedBox extends Rect {
  readonly box: Box;
  readonly container: boolean;
  /** Nesting level (top-level boxes 0), for drawing order and tint. */
  readonly level: number;
}

export interface PlacedFlow {
  readonly flow: Flow;
  readonly points: readonly { x: number; y: number }[];
  readonly labelAt?: { x: number; y: number };
}

export interface Placed {
  readonly width: number;
  readonly height: number;
  readonly boxes: readonly PlacedBox[];
  readonly flows: readonly PlacedFlow[];
}

const LEAF_PAD_X = 10;
const LEAF_HEIGHT = 40;

function leafSize(b: Box): { width: number; height: number } {
  const w = Math.max(textWidth(b.title), textWidth(b.subtitle ?? "", SMALL_FONT), 48) + 2 * LEAF_PAD_X;
  return { width: Math.ceil(w), height: b.subtitle ? LEAF_HEIGHT : 28 };
}

export function layoutPicture(pic: ModelPicture, rankdir: "TB" | "LR" = "TB"): Placed {
  const g = new dagre.graphlib.Graph({ compound: true, multigraph: false });
  // Left to right, nested cluster borders are separated by edgesep (they are dummy nodes): room for labels.
  g.setGraph({ rankdir, nodesep: 24, ranksep: 50, edgesep: rankdir === "LR" ? 34 : 12, marginx: 20, marginy: 20 });
  g.setDefaultEdgeLabel(() => ({}));
  const parents = new Set(pic.boxes.map((b) => b.parent).filter((p): p is string => p !== undefined));
  const byId = new Map(pic.boxes.map((b) => [b.id, b]));
  // dagre ids are positional: box ids such as "" (the model) read as "no parent" inside dagre.
  const key = new Map(pic.boxes.map((b, i) => [b.id, `n${i}`]));
  const k = (id: string) => key.get(id)!;
  for (const b of pic.boxes) {
    // Clusters get their size from dagre, which leaves a rank gap above the first child for the label.
    if (parents.has(b.id)) g.setNode(k(b.id), { label: b.title, width: 0, height: 0 });
    else g.setNode(k(b.id), { label: b.title, ...leafSize(b) });
  }
  for (const b of pic.boxes) if (b.parent !== undefined && byId.has(b.parent)) g.setParent(k(b.id), k(b.parent));
  for (const f of pic.flows) {
    // dagre lays out edges between leaves only; every flow endpoint here is a leaf by construction.
    g.setEdge(k(f.from), k(f.to), { width: textWidth(f.label, SMALL_FONT) + 6, height: SMALL_FONT + 6, labelpos: "c" });
  }
  dagre.layout(g);

  const level = (b: Box): number => (b.parent === undefined || !byId.has(b.parent) ? 0 : 1 + level(byId.get(b.parent)!));
  const boxes: PlacedBox[] = pic.boxes.map((b) => {
    const n = g.node(k(b.id));
    return { box: b, container: parents.has(b.id), level: level(b), x: n.x! - n.width / 2, y: n.y! - n.height / 2, width: n.width, height: n.height };
  });
  const flows: PlacedFlow[] = pic.flows.map((f) => {
    const e = g.edge(k(f.from), k(f.to));
    return { flow: f, points: e.points ?? [], labelAt: e.x !== undefined && e.y !== undefined ? { x: e.x, y: e.y } : undefined };
  });
  const graph = g.graph();
  // dagre's reported size can trail cluster borders by their padding; take the extent of what is drawn.
  const width = Math.max(graph.width ?? 0, ...boxes.map((b) => b.x + b.width + 20));
  const height = Math.max(graph.height ?? 0, ...boxes.map((b) => b.y + b.height + 20));
  return { width: Math.ceil(width), height: Math.ceil(height), boxes, flows };
}
