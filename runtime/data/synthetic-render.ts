/**
 * Draws anti-aliased shapes into an RGB frame that wraps around at the edges (a torus), so an
 * object placed uniformly at random is equally likely to cover every pixel, whatever its motion.
 * Frame layout: [H, W, 3], values in [0, 1].
 */

export type ShapeKind = "square" | "circle" | "triangle" | "cross";
export const SHAPE_KINDS: readonly ShapeKind[] = ["square", "circle", "triangle", "cross"];

export interface ShapeState {
  kind: ShapeKind;
  /** Centre in pixels; any real value (wrapped onto the frame). */
  x: number;
  y: number;
  /** Circumscribing radius in pixels. */
  radius: number;
  angle: number;
  color: readonly [number, number, number];
}

const SQRT3_OVER_2 = Math.sqrt(3) / 2;

/** Whether the point (u, v), in the shape's own rotated frame, lies inside it. */
function inside(kind: ShapeKind, u: number, v: number, r: number): boolean {
  switch (kind) {
    case "square": {
      const half = r * 0.8;
      return Math.abs(u) <= half && Math.abs(v) <= half;
    }
    case "circle":
      return u * u + v * v <= r * r * 0.8;
    case "triangle": {
      // Equilateral, pointing along +v, vertices on the circle of radius r.
      if (v < -r / 2) return false;
      const halfWidth = (r - v) * (SQRT3_OVER_2 / 1.5);
      return Math.abs(u) <= halfWidth;
    }
    case "cross": {
      const arm = r * 0.33;
      return (Math.abs(u) <= r && Math.abs(v) <= arm) || (Math.abs(u) <= arm && Math.abs(v) <= r);
    }
  }
}

/** Signed offset of `delta` onto [-size/2, size/2), the nearest copy on the torus. */
function wrapDelta(delta: number, size: number): number {
  return delta - size * Math.round(delta / size);
}

/** 2x2 supersampling offsets within a pixel. */
const SUBSAMPLES = [0.25, 0.75];

/** Alpha-blends `shape` onto `frame` (offset `frameOffset` in a larger clip buffer). */
export function drawShape(frame: Float32Array, frameOffset: number, size: number, shape: ShapeState): void {
  const cos = Math.cos(shape.angle);
  const sin = Math.sin(shape.angle);
  // Never reach around the torus onto the same pixel twice.
  const reach = Math.min(Math.ceil(shape.radius) + 1, Math.floor((size - 1) / 2));
  const cx = Math.floor(shape.x);
  const cy = Math.floor(shape.y);
  const [red, green, blue] = shape.color;
  for (let dy = -reach; dy <= reach; dy++) {
    const py = (((cy + dy) % size) + size) % size;
    for (let dx = -reach; dx <= reach; dx++) {
      const px = (((cx + dx) % size) + size) % size;
      let covered = 0;
      for (const sy of SUBSAMPLES) {
        const relY = wrapDelta(py + sy - shape.y, size);
        for (const sx of SUBSAMPLES) {
          const relX = wrapDelta(px + sx - shape.x, size);
          const u = cos * relX + sin * relY;
          const v = -sin * relX + cos * relY;
          if (inside(shape.kind, u, v, shape.radius)) covered++;
        }
      }
      if (covered === 0) continue;
      const alpha = covered / 4;
      const at = frameOffset + (py * size + px) * 3;
      frame[at] = frame[at]! + alpha * (red - frame[at]!);
      frame[at + 1] = frame[at + 1]! + alpha * (green - frame[at + 1]!);
      frame[at + 2] = frame[at + 2]! + alpha * (blue - frame[at + 2]!);
    }
  }
}
