/**
 * The module-level picture of a model: every module instance becomes a box nested by its dotted
 * path (cut at a depth), and every tensor that one box computes and another box consumes becomes an
 * edge labelled with its shape. Derived from the graph IR alone: each node carries the module path
 * it was built in (`name`), so an edge exists exactly where a node's input was built elsewhere.
 *
 * A box with children inside the depth is a container; the ops a container's own forward performs
 * (a residual add, a reshape between sub-modules) go in a small `ops` box inside it, so no data flow
 * is hidden or invented.
 */
import type { ModuleSummary } from "../elaborate/index.ts";
import type { Graph, Node, ParamInfo, Shape, ValueId } from "../ir/types.ts";

export type BoxKind = "model" | "module" | "list" | "ops" | "kernel" | "input" | "output";

export interface Box {
  /** Unique id; for modules and lists the dotted path ("" is the model). */
  readonly id: string;
  readonly kind: BoxKind;
  /** Container id, undefined for top-level boxes (the model, inputs, outputs). */
  readonly parent?: string;
  /** First line: the name (last path segment), second line: type or summary. */
  readonly title: string;
  readonly subtitle?: string;
  readonly frozen: boolean;
  /** A module this graph never computes (an InternVideo stage leaves most of the model idle). */
  readonly unused?: boolean;
  /** Full description for the SVG tooltip. */
  readonly tooltip: string;
}

export interface Flow {
  readonly from: string;
  readonly to: string;
  /** Shapes of the distinct tensors carried, e.g. `B×8×17×64`. */
  readonly label: string;
  readonly tensors: number;
}

export interface ModelPicture {
  readonly title: string;
  readonly boxes: readonly Box[];
  readonly flows: readonly Flow[];
}

export interface PictureOptions {
  /** Module nesting shown, in dotted path segments (as `ivc info --depth`). */
  readonly depth: number;
  readonly title: string;
}

/** `B×8×17×64`; symbolic dims keep their names, non-f32 tensors say their dtype. */
export function shapeLabel(shape: Shape, dtype = "f32"): string {
  const dims = shape.length === 0 ? "scalar" : shape.map((d) => String(d).replace(/\*/g, "·")).join("×");
  return dtype === "f32" ? dims : `${dtype} ${dims}`;
}

/** Values that are state rather than data flow: parameters, buffers and constant tables. */
export function isLeafValue(n: Node): boolean {
  return n.op.kind === "param" || n.op.kind === "const";
}

export const inputId = (name: string) => `input:${name}`;
export const outputId = (name: string) => `output:${name}`;

/** The module tree cut at `depth`: which paths are boxes, which of them contain other boxes. */
export class ModuleTree {
  readonly modules: ReadonlyMap<string, ModuleSummary>;
  readonly boxes = new Set<string>();
  readonly containers = new Set<string>();

  private readonly params: readonly ParamInfo[];

  constructor(
    modules: readonly ModuleSummary[],
    readonly depth: number,
    params: readonly ParamInfo[] = [],
  ) {
    this.modules = new Map(modules.map((m) => [m.path, m]));
    this.params = params.filter((p) => p.kind === "param");
    this.boxes.add("");
    for (const m of modules) this.add(this.cut(m.path));
  }

  private add(path: string): void {
    const segs = path === "" ? [] : path.split(".");
    for (let i = 1; i <= segs.length; i++) this.boxes.add(segs.slice(0, i).join("."));
    for (let i = 0; i < segs.length; i++) this.containers.add(segs.slice(0, i).join("."));
  }

  /** The path cut to `depth` segments. */
  cut(path: string): string {
    return path === "" ? "" : path.split(".").slice(0, this.depth).join(".");
  }

  /** The box a node built in module `name` belongs to (nodes named after no module go to the model). */
  boxOf(name: string | undefined): string {
    if (name === undefined) return "";
    let p = this.cut(name);
    while (p !== "" && !this.boxes.has(p)) p = p.includes(".") ? p.slice(0, p.lastIndexOf(".")) : "";
    return p;
  }

  parentOf(path: string): string | undefined {
    if (path === "") return undefined;
    return path.includes(".") ? path.slice(0, path.lastIndexOf(".")) : "";
  }

  /**
   * Frozen when every learnable parameter below the path is (the stage's freeze/unfreeze lists are
   * already applied to the parameters, so `unfreeze mae.head` leaves `mae` itself unmarked). A module
   * without parameters (attention core, activation) takes the answer of the nearest one above it.
   */
  frozen(path: string): boolean {
    const prefix = path === "" ? "" : `${path}.`;
    const below = this.params.filter((p) => p.path.startsWith(prefix));
    if (below.length > 0) return below.every((p) => p.frozen);
    const up = this.parentOf(path);
    return up === undefined ? (this.modules.get(path)?.frozen ?? false) : this.frozen(up);
  }

  /** `4 × UniBlock` for a list of modules (`resblocks.0` ... `resblocks.3`), from the full module tree. */
  private listType(path: string): string {
    const items = new Map<string, string>();
    for (const m of this.modules.values()) {
      if (!m.path.startsWith(`${path}.`)) continue;
      const item = `${path}.${m.path.slice(path.length + 1).split(".")[0]}`;
      items.set(item, this.modules.get(item)?.type ?? "");
    }
    const types = [...new Set(items.values())];
    return types.length === 1 && types[0] !== "" ? `${items.size} × ${types[0]}` : `list of ${items.size}`;
  }

  /** One box per module path (and per list of modules), containers before what they contain. */
  moduleBoxes(modelName: string): Box[] {
    const out: Box[] = [];
    for (const path of [...this.boxes].sort((a, b) => a.split(".").length - b.split(".").length || (a < b ? -1 : 1))) {
      const m = this.modules.get(path);
      const frozen = this.frozen(path);
      const kind: BoxKind = path === "" ? "model" : m ? "module" : "list";
      const type = path === "" ? modelName : m ? m.type : this.listType(path);
      out.push({
        id: path,
        kind,
        parent: this.parentOf(path),
        title: path === "" ? modelName : path.split(".").pop()!,
        subtitle: path === "" ? undefined : type,
        frozen,
        tooltip: `${path || "(model)"}: ${type}${frozen ? " (frozen)" : ""}`,
      });
    }
    return out;
  }
}

/** Adds up flows by (from, to), counting each tensor once however many nodes read it. */
export class FlowSet {
  private readonly byPair = new Map<string, { from: string; to: string; values: Map<ValueId, string> }>();

  add(from: string, to: string, value: ValueId, label: string): void {
    if (from === to) return;
    const key = `${from}\u0000${to}`;
    let f = this.byPair.get(key);
    if (!f) this.byPair.set(key, (f = { from, to, values: new Map() }));
    f.values.set(value, label);
  }

  flows(): Flow[] {
    return [...this.byPair.values()].map((f) => {
      const shapes = [...new Set(f.values.values())];
      const label = shapes.length <= 2 ? shapes.join(", ") : `${shapes.slice(0, 2).join(", ")} +${shapes.length - 2}`;
      return { from: f.from, to: f.to, label: f.values.size > shapes.length ? `${label} (${f.values.size} tensors)` : label, tensors: f.values.size };
    });
  }
}

/** Boxes for the graph's inputs and outputs, outside the model box. */
export function ioBoxes(graph: Graph): Box[] {
  return [
    ...graph.inputs.map((i) => ({
      id: inputId(i.name),
      kind: "input" as const,
      title: i.name,
      subtitle: shapeLabel(i.shape, i.dtype),
      frozen: false,
      tooltip: `input ${i.name}: ${i.dtype}[${i.shape.join(", ")}]`,
    })),
    ...graph.outputs.map((o) => ({
      id: outputId(o.name),
      kind: "output" as const,
      title: o.name,
      subtitle: "output",
      frozen: false,
      tooltip: `output ${o.name}`,
    })),
  ];
}

function opName(n: Node): string {
  return n.op.kind === "binary" || n.op.kind === "unary" || n.op.kind === "reduce" || n.op.kind === "compare" ? n.op.op : n.op.kind;
}

/**
 * A container's own ops split into connected runs: the reshape before a list of blocks and the one
 * after it are separate boxes, so the picture stays a chain instead of a hub every edge runs through.
 */
function ownOpRuns(graph: Graph, containerOf: (n: Node) => string | undefined): Map<ValueId, string> {
  const parent = new Map<ValueId, ValueId>();
  const find = (x: ValueId): ValueId => {
    let r = x;
    while (parent.get(r) !== r) r = parent.get(r)!;
    parent.set(x, r);
    return r;
  };
  const owner = new Map<ValueId, string>();
  for (const n of graph.nodes) {
    const c = containerOf(n);
    if (c === undefined) continue;
    owner.set(n.id, c);
    parent.set(n.id, n.id);
    for (const i of n.inputs) if (owner.get(i) === c) parent.set(find(n.id), find(i));
  }
  const index = new Map<string, number>();
  const runOf = new Map<ValueId, string>();
  const named = new Map<ValueId, string>();
  for (const [id, c] of owner) {
    const root = find(id);
    if (!named.has(root)) {
      const k = index.get(c) ?? 0;
      index.set(c, k + 1);
      named.set(root, `${c}#ops${k}`);
    }
    runOf.set(id, named.get(root)!);
  }
  return runOf;
}

/** The module picture: boxes nested by path, edges where a tensor crosses from one box to another. */
export function modulePicture(graph: Graph, modules: readonly ModuleSummary[], opts: PictureOptions): ModelPicture {
  const tree = new ModuleTree(modules, opts.depth, graph.params);
  const byId = new Map(graph.nodes.map((n) => [n.id, n]));
  const computed = (n: Node) => !isLeafValue(n) && n.op.kind !== "input";
  const runs = ownOpRuns(graph, (n) => {
    const box = tree.boxOf(n.name);
    return computed(n) && tree.containers.has(box) ? box : undefined;
  });
  const leafOf = (n: Node): string => (n.op.kind === "input" ? inputId(n.op.name) : (runs.get(n.id) ?? tree.boxOf(n.name)));
  const ownOps = new Map<string, Map<string, number>>();
  const flows = new FlowSet();
  for (const n of graph.nodes) {
    if (!computed(n)) continue;
    const here = leafOf(n);
    const run = runs.get(n.id);
    if (run) {
      const counts = ownOps.get(run) ?? new Map<string, number>();
      counts.set(opName(n), (counts.get(opName(n)) ?? 0) + 1);
      ownOps.set(run, counts);
    }
    for (const i of n.inputs) {
      const src = byId.get(i)!;
      if (isLeafValue(src)) continue;
      flows.add(leafOf(src), here, i, shapeLabel(src.shape, src.dtype));
    }
  }
  for (const o of graph.outputs) {
    const src = byId.get(o.id)!;
    if (!isLeafValue(src)) flows.add(leafOf(src), outputId(o.name), o.id, shapeLabel(src.shape, src.dtype));
  }
  const boxes: Box[] = [...ioBoxes(graph), ...tree.moduleBoxes(opts.title)];
  for (const [id, counts] of ownOps) {
    const container = id.slice(0, id.lastIndexOf("#ops"));
    const ops = [...counts].sort((a, b) => b[1] - a[1]);
    const summary = ops.slice(0, 3).map(([k, v]) => (v > 1 ? `${k}×${v}` : k)).join(" ") + (ops.length > 3 ? " …" : "");
    boxes.push({
      id,
      kind: "ops",
      parent: container,
      title: "ops",
      subtitle: summary,
      frozen: tree.frozen(container),
      tooltip: `ops in ${container || "(model)"}'s own forward: ${ops.map(([k, v]) => `${k} ×${v}`).join(", ")}`,
    });
  }
  const all = flows.flows();
  // A box is used when it or anything inside it sends or receives a tensor.
  const used = new Set<string>();
  for (const f of all) {
    for (const end of [f.from, f.to]) {
      const box = boxes.find((b) => b.id === end);
      for (let p: string | undefined = box?.parent ?? end; p !== undefined; p = tree.parentOf(p)) used.add(p);
      used.add(end);
    }
  }
  const marked = boxes.map((b) =>
    (b.kind === "module" || b.kind === "list") && !used.has(b.id) ? { ...b, unused: true, tooltip: `${b.tooltip}; not computed by this graph` } : b,
  );
  return { title: opts.title, boxes: marked, flows: all };
}
