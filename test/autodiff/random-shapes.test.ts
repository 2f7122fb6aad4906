import { describe, it } from "vitest";
import { gradCheck, rng } from "./gradcheck.ts";

/** Gradient checks over randomly drawn shapes and attributes (seeded, so failures reproduce). */
describe("gradients on random shapes", () => {
  const next = rng(2024);
  const int = (lo: number, hi: number) => lo + Math.floor(next() * (hi - lo + 1));
  const triple = (lo: number, hi: number): [number, number, number] => [int(lo, hi), int(lo, hi), int(lo, hi)];

  for (let trial = 0; trial < 8; trial++) {
    const groups = [1, 1, 2, 3][int(0, 3)]!;
    const depthwise = next() < 0.3;
    const cin = depthwise ? int(1, 3) : groups * int(1, 2);
    const cout = depthwise ? cin : groups * int(1, 2);
    const g = depthwise ? cin : groups;
    const kernel = triple(1, 3);
    const stride = triple(1, 2);
    const dilation = triple(1, 2);
    // Padding up to half the dilated kernel and inputs at least as wide as it: every input element is read.
    const padding = kernel.map((k, i) => int(0, Math.floor((dilation[i]! * (k - 1)) / 2))) as [number, number, number];
    const spatial = kernel.map((k, i) => dilation[i]! * (k - 1) + 1 + int(0, 2));
    const x = [int(1, 2), cin, ...spatial];
    const w = [cout, cin / g, ...kernel];
    it(`conv3d x${JSON.stringify(x)} w${JSON.stringify(w)} stride ${stride} padding ${padding} dilation ${dilation} groups ${g}`, () => {
      gradCheck({ params: { x: { shape: x }, w: { shape: w } }, build: (b, p) => b.conv3d(p.x!, p.w!, { stride, padding, dilation, groups: g }), seed: trial });
    });
  }

  for (let trial = 0; trial < 6; trial++) {
    const batch = Array.from({ length: int(0, 2) }, () => int(1, 3));
    const aBatch = batch.map((d) => (next() < 0.4 ? 1 : d)).slice(int(0, batch.length));
    const bBatch = batch.map((d) => (next() < 0.4 ? 1 : d)).slice(int(0, batch.length));
    const [m, k, n] = triple(1, 4);
    const a = [...aBatch, m, k];
    const bs = [...bBatch, k, n];
    it(`matmul ${JSON.stringify(a)} x ${JSON.stringify(bs)}`, () => {
      gradCheck({ params: { a: { shape: a }, b: { shape: bs } }, build: (g, p) => g.matmul(p.a!, p.b!), seed: trial });
    });
  }

  for (let trial = 0; trial < 6; trial++) {
    const shape = Array.from({ length: int(1, 4) }, () => int(1, 4));
    const axes = shape.map((_, i) => i).filter(() => next() < 0.5);
    const keep = next() < 0.5;
    const op = next() < 0.5 ? "sum" : "max";
    it(`reduce_${op} ${JSON.stringify(shape)} axes ${JSON.stringify(axes)} keepdims ${keep}`, () => {
      gradCheck({ params: { x: { shape } }, build: (b, p) => b.reduce(op, p.x!, axes, keep), seed: trial });
    });
  }

  for (let trial = 0; trial < 6; trial++) {
    const shape = Array.from({ length: int(1, 3) }, () => int(1, 6));
    const starts = shape.map((d) => int(0, d - 1));
    const ends = shape.map((d, i) => int(starts[i]! + 1, d));
    const steps = shape.map(() => int(1, 3));
    it(`slice ${JSON.stringify(shape)} [${starts}:${ends}:${steps}] then pad`, () => {
      gradCheck({
        params: { x: { shape } },
        build: (b, p) => {
          const s = b.slice(p.x!, starts, ends, steps);
          return b.pad(s, steps.map((v) => v - 1), starts.map((v) => v % 2), 0);
        },
        seed: trial,
      });
    });
  }
});
