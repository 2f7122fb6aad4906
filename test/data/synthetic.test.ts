import { describe, expect, it } from "vitest";
import { MOTION_CLASSES, synthetic_motion, toChannelsFirst, visitOrder } from "../../runtime/data/synthetic.ts";
import { differenceMotion, meanFrame, nearestCentroidAccuracy, sortedBag } from "./features.ts";

describe("synthetic motion dataset", () => {
  it("is deterministic: the same seed gives the same bytes, in any generation order", () => {
    const a = synthetic_motion({ seed: 7, count: 16 });
    const b = synthetic_motion({ seed: 7, count: 16 });
    const forward = [...a].map((x) => x.clip);
    const backward = Array.from({ length: 16 }, (_, i) => b.get(15 - i).clip).reverse();
    forward.forEach((clip, i) => expect(Buffer.from(clip.buffer).equals(Buffer.from(backward[i]!.buffer))).toBe(true));
    const other = synthetic_motion({ seed: 8, count: 16 }).get(0).clip;
    expect(Buffer.from(other.buffer).equals(Buffer.from(forward[0]!.buffer))).toBe(false);
    const val = synthetic_motion({ seed: 7, split: "val", count: 16 }).get(0).clip;
    expect(Buffer.from(val.buffer).equals(Buffer.from(forward[0]!.buffer))).toBe(false);
  });

  it("balances classes and describes each clip's motion in its caption", () => {
    const data = synthetic_motion({ classes: 8, count: 80 });
    const counts = new Array<number>(8).fill(0);
    for (const { label, caption, clip } of data) {
      counts[label]!++;
      expect(caption).toMatch(new RegExp(`^a (red|green|blue|yellow|magenta|cyan|orange|white) (square|circle|triangle|cross) ${MOTION_CLASSES[label]!.phrase}$`));
      expect(clip.length).toBe(8 * 32 * 32 * 3);
      expect(Math.min(...clip)).toBeGreaterThanOrEqual(0);
      expect(Math.max(...clip)).toBeLessThanOrEqual(1);
    }
    expect(counts).toEqual(new Array(8).fill(10));
    expect(data.classNames).toEqual(["moves left", "moves right", "moves up", "moves down", "moves left then right", "moves right then left", "moves up then down", "moves down then up"]);
  });

  it("visits the same positions in every class, only in a different order", () => {
    for (const frames of [4, 5, 8, 16]) {
      const orders = (["once", "there-and-back", "twice"] as const).map((order) => visitOrder(order, frames));
      for (const order of orders) expect([...order].sort((a, b) => a - b)).toEqual(Array.from({ length: frames }, (_, k) => k));
      expect(new Set(orders.map((o) => o.join())).size).toBe(3);
    }
    expect(visitOrder("there-and-back", 8)).toEqual([0, 2, 4, 6, 7, 5, 3, 1]);
    expect(visitOrder("twice", 8)).toEqual([0, 2, 4, 6, 1, 3, 5, 7]);
  });

  it("cannot be solved without temporal order, and is easy with it", () => {
    const classes = 12;
    const train = [...synthetic_motion({ classes, count: 720, seed: 1 })];
    const val = [...synthetic_motion({ classes, count: 360, seed: 1, split: "val" })];
    const accuracy = (feature: (clip: Float32Array) => Float32Array) =>
      nearestCentroidAccuracy(
        train.map((x) => ({ features: feature(x.clip), label: x.label })),
        val.map((x) => ({ features: feature(x.clip), label: x.label })),
        classes,
      );
    const chance = 1 / classes;
    // 360 held-out clips: the standard error of an accuracy near chance is about 0.015.
    expect(accuracy((clip) => meanFrame(clip, 8))).toBeLessThan(chance + 0.06);
    expect(accuracy((clip) => sortedBag(clip, 8))).toBeLessThan(chance + 0.06);
    expect(accuracy((clip) => differenceMotion(clip, 8, 32))).toBeGreaterThan(0.9);
  });

  it("shuffle_frames: each clip is a fixed permutation of its own frames, and frame differences fall to the axis-only ceiling", () => {
    const frame = 32 * 32 * 3;
    const plain = synthetic_motion({ count: 24, seed: 3 });
    const shuffled = synthetic_motion({ count: 24, seed: 3, shuffleFrames: true });
    let moved = 0;
    for (let i = 0; i < 24; i++) {
      const a = plain.get(i);
      const b = shuffled.get(i);
      expect(b.label).toBe(a.label);
      const frames = (clip: Float32Array) => Array.from({ length: 8 }, (_, t) => Buffer.from(clip.slice(t * frame, (t + 1) * frame).buffer).toString("base64"));
      expect([...frames(b.clip)].sort()).toEqual([...frames(a.clip)].sort());
      if (frames(b.clip).join() !== frames(a.clip).join()) moved++;
      expect(Buffer.from(shuffled.get(i).clip.buffer).equals(Buffer.from(b.clip.buffer))).toBe(true);
    }
    expect(moved).toBeGreaterThan(20);
    const classes = 12;
    const train = [...synthetic_motion({ classes, count: 720, seed: 1, shuffleFrames: true })];
    const val = [...synthetic_motion({ classes, count: 360, seed: 1, split: "val", shuffleFrames: true })];
    const accuracy = nearestCentroidAccuracy(
      train.map((x) => ({ features: differenceMotion(x.clip, 8, 32), label: x.label })),
      val.map((x) => ({ features: differenceMotion(x.clip, 8, 32), label: x.label })),
      classes,
    );
    // Shuffled frames still show the motion's axis (horizontal or vertical), so an order-blind model can
    // tell which 6 of the 12 classes a clip belongs to and no more: 1/6, not 1/12.
    expect(accuracy).toBeLessThan(1 / 6 + 0.06);
  });

  it("generates a batch of 8 clips of 8x32x32 in a few milliseconds", () => {
    const data = synthetic_motion({ count: 64 });
    data.get(0); // warm up the JIT
    const start = performance.now();
    for (let i = 8; i < 16; i++) data.get(i);
    expect(performance.now() - start).toBeLessThan(40);
  });

  it("loads channels-first clips for the model, normalised on request", async () => {
    const data = synthetic_motion({ frames: 4, size: 16, count: 2, normalization: { mean: [0.5, 0.5, 0.5], std: [0.25, 0.25, 0.25] } });
    const { clip } = data.get(1);
    const loaded = await data.load(1);
    expect(loaded.clip.length).toBe(3 * 4 * 16 * 16);
    const plane = 4 * 16 * 16;
    // pixel (t=2, y=3, x=5), green channel
    const p = (2 * 16 + 3) * 16 + 5;
    expect(loaded.clip[plane + p]).toBeCloseTo((clip[p * 3 + 1]! - 0.5) / 0.25, 5);
    expect(toChannelsFirst(Float32Array.of(1, 2, 3, 4, 5, 6), 1, 1, 2)).toEqual(Float32Array.of(1, 4, 2, 5, 3, 6));
  });

  it("rejects impossible settings with a clear message", () => {
    expect(() => synthetic_motion({ frames: 3 })).toThrow(/frames must be an integer >= 4/);
    expect(() => synthetic_motion({ classes: 13 })).toThrow(/classes must be between 2 and 12/);
    expect(() => synthetic_motion({ count: 4 }).get(4)).toThrow(/index 4 outside/);
  });
});
