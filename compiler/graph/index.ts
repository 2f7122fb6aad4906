/**
 * `ivc graph` as a function: a compiled model -> an SVG picture of its modules (nested boxes by
 * dotted path), the tensors flowing between them (edges labelled with shapes, symbolic dims kept),
 * what is frozen, and optionally the fused kernels the back end dispatches.
 *
 *   model-graph.ts  boxes and flows from the graph IR and the module list
 *   kernels.ts      the same with the fusion plan's kernels as leaves
 *   layout.ts       dagre compound layout
 *   svg.ts          SVG text
 */
import type { Elaborated } from "../elaborate/index.ts";
import type { Graph } from "../ir/types.ts";
import { kernelPicture } from "./kernels.ts";
import { layoutPicture } from "./layout.ts";
import { type ModelPicture, modulePicture } from "./model-graph.ts";
import { renderSvg } from "./svg.ts";

export { kernelGroups, type KernelGroup } from "./kernels.ts";
export { type Box, type Flow, type ModelPicture, modulePicture, shapeLabel } from "./model-graph.ts";

export interface GraphRequest {
  /** The graph to draw: the eval forward, or a stage's forward with its loss (not differentiated). */
  readonly graph: Graph;
  readonly elaborated: Elaborated;
  /** Module nesting shown, in dotted path segments. */
  readonly depth: number;
  /** Draw fused kernels as the leaves (symbolic dims bound to `batch` for planning, default 1). */
  readonly kernels?: boolean;
  readonly batch?: number;
  readonly title?: string;
  readonly rankdir?: "TB" | "LR";
}

export function modelPictureOf(req: GraphRequest): ModelPicture {
  const title = req.title ?? req.elaborated.modelName ?? "model";
  const opts = { depth: req.depth, title };
  return req.kernels
    ? kernelPicture(req.graph, req.elaborated.modules, { ...opts, batch: req.batch })
    : modulePicture(req.graph, req.elaborated.modules, opts);
}

export function graphSvg(req: GraphRequest): string {
  const pic = modelPictureOf(req);
  const placed = layoutPicture(pic, req.rankdir);
  return renderSvg(placed, req.title ?? pic.title, { kernels: req.kernels === true });
}
