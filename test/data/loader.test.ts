import { describe, expect, it } from "vitest";
import { ClipLoader, type Batch } from "../../runtime/data/loader.ts";
import type { Rng } from "../../runtime/data/rng.ts";
import { synthetic_motion } from "../../runtime/data/synthetic.ts";
import type { ClipDataset, ClipSample } from "../../runtime/data/types.ts";

/** A dataset whose clip is [index, random draw] and whose loads take a variable time; it records when loads start. */
class SlowDataset implements ClipDataset {
  readonly frames = 1;
  readonly size = 1;
  readonly classNames = ["even", "odd"];
  readonly started: number[] = [];
  constructor(
    readonly length: number,
    private readonly delayMs: (index: number) => number,
  ) {}
  async load(index: number, rng: Rng): Promise<ClipSample> {
    this.started.push(index);
    await new Promise((resolve) => setTimeout(resolve, this.delayMs(index)));
    return { clip: Float32Array.of(index, rng.float(), 0), label: index % 2 };
  }
}

async function collect(loader: ClipLoader, epoch: number, startBatch = 0): Promise<Batch[]> {
  const batches: Batch[] = [];
  for await (const batch of loader.epoch(epoch, startBatch)) batches.push(batch);
  return batches;
}

describe("clip loader", () => {
  it("batches synthetic clips as [B, 3, T, H, W] with labels and captions", async () => {
    const data = synthetic_motion({ frames: 4, size: 16, count: 10 });
    const loader = new ClipLoader(data, { batchSize: 4, seed: 1 });
    const batches = await collect(loader, 0);
    expect(batches).toHaveLength(2);
    const [first] = batches;
    expect(first!.clips.length).toBe(4 * 3 * 4 * 16 * 16);
    expect(first!.labels).toEqual(Int32Array.from(first!.indices, (i) => data.labelOf(i)));
    const one = await data.load(first!.indices[2]!);
    expect(first!.clips.subarray(2 * one.clip.length, 3 * one.clip.length)).toEqual(one.clip);
    expect(first!.captions![2]).toBe(one.caption);
  });

  it("gives the same batches whatever the concurrency and load timing", async () => {
    const fast = new ClipLoader(new SlowDataset(20, () => 0), { batchSize: 3, seed: 5, concurrency: 1, prefetch: 0 });
    const jittery = new ClipLoader(new SlowDataset(20, (i) => (i * 7) % 5), { batchSize: 3, seed: 5, concurrency: 6, prefetch: 3 });
    const a = await collect(fast, 2);
    const b = await collect(jittery, 2);
    expect(b.map((x) => [...x.clips])).toEqual(a.map((x) => [...x.clips]));
    expect(a).toHaveLength(6);
  });

  it("shuffles each epoch differently, covers every sample once, and resumes mid-epoch exactly", async () => {
    const loader = new ClipLoader(new SlowDataset(12, () => 0), { batchSize: 4, seed: 9, dropLast: false });
    const epoch0 = await collect(loader, 0);
    const epoch1 = await collect(loader, 1);
    const order = (batches: Batch[]) => batches.flatMap((b) => [...b.indices]);
    expect(order(epoch0).sort((x, y) => x - y)).toEqual(Array.from({ length: 12 }, (_, i) => i));
    expect(order(epoch0)).not.toEqual(order(epoch1));
    const resumed = await collect(loader, 1, 2);
    expect(resumed.map((b) => [...b.clips])).toEqual(epoch1.slice(2).map((b) => [...b.clips]));
    const ordered = new ClipLoader(new SlowDataset(5, () => 0), { batchSize: 2, shuffle: false, dropLast: false });
    expect((await collect(ordered, 0)).map((b) => [...b.indices])).toEqual([[0, 1], [2, 3], [4]]);
  });

  it("loads ahead of the consumer up to the prefetch depth", async () => {
    const data = new SlowDataset(40, () => 1);
    const loader = new ClipLoader(data, { batchSize: 4, shuffle: false, prefetch: 2, concurrency: 16 });
    const iterator = loader.epoch(0);
    await iterator.next();
    await new Promise((resolve) => setTimeout(resolve, 30));
    // While the consumer holds batch 0, batches 1 and 2 load, and no further.
    expect(new Set(data.started)).toEqual(new Set(Array.from({ length: 12 }, (_, i) => i)));
    await iterator.next();
    await new Promise((resolve) => setTimeout(resolve, 30));
    expect(new Set(data.started)).toEqual(new Set(Array.from({ length: 16 }, (_, i) => i)));
    await iterator.return(undefined);
  });

  it("propagates a failing sample to the consumer", async () => {
    const failing: ClipDataset = {
      length: 8, frames: 1, size: 1, classNames: ["x"],
      load: async (index) => {
        if (index === 5) throw new Error("sample 5 is broken");
        return { clip: Float32Array.of(index, 0, 0), label: 0 };
      },
    };
    const loader = new ClipLoader(failing, { batchSize: 2, shuffle: false });
    await expect(collect(loader, 0)).rejects.toThrow(/sample 5 is broken/);
  });

  it("rejects invalid settings", () => {
    const data = new SlowDataset(4, () => 0);
    expect(() => new ClipLoader(data, { batchSize: 0 })).toThrow(/batchSize must be a positive integer/);
    expect(() => new ClipLoader(data, { batchSize: 1, concurrency: 0 })).toThrow(/concurrency/);
  });
});
