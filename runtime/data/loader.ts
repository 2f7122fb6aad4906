/**
 * Batches clips from any ClipDataset and keeps `prefetch` batches loading ahead of the consumer.
 * Loading is asynchronous (video decoding runs in ffmpeg processes; image decoding is short), with
 * at most `concurrency` samples in flight.
 *
 * Every sample's randomness comes from Rng.fromKey(seed, epoch, index), and the epoch's order from
 * Rng.fromKey(seed, epoch): batches are identical whatever the concurrency or timing, and a run
 * resumed at (epoch, batch) sees exactly the batches the interrupted run would have.
 */
import { Rng } from "./rng.ts";
import type { ClipDataset, ClipSample } from "./types.ts";

export interface LoaderOptions {
  batchSize: number;
  /** Default true. */
  shuffle?: boolean;
  seed?: number;
  /** Drop the last incomplete batch (default true: every batch has batchSize clips). */
  dropLast?: boolean;
  /** Batches loading while the consumer works on one; 0 loads on demand. Default 2. */
  prefetch?: number;
  /** Samples loading at once; default 4. */
  concurrency?: number;
}

export interface Batch {
  /** [B, 3, T, H, W]. */
  clips: Float32Array;
  labels: Int32Array;
  /** Dataset indices of the clips. */
  indices: Int32Array;
  /** Present when the dataset gives captions. */
  captions?: string[];
  batchSize: number;
}

const SAMPLE_STREAM = 0x5a3b1e;
const ORDER_STREAM = 0x0d3e;

/** Runs at most `limit` tasks at once. */
class Limiter {
  private active = 0;
  private readonly waiting: (() => void)[] = [];
  constructor(private readonly limit: number) {}

  async run<T>(task: () => Promise<T>): Promise<T> {
    if (this.active >= this.limit) await new Promise<void>((resolve) => this.waiting.push(resolve));
    this.active++;
    try {
      return await task();
    } finally {
      this.active--;
      this.waiting.shift()?.();
    }
  }
}

export class ClipLoader {
  private readonly options: Required<LoaderOptions>;

  constructor(
    readonly dataset: ClipDataset,
    options: LoaderOptions,
  ) {
    this.options = { shuffle: true, seed: 0, dropLast: true, prefetch: 2, concurrency: 4, ...options };
    const { batchSize, prefetch, concurrency } = this.options;
    if (!Number.isInteger(batchSize) || batchSize < 1) throw new RangeError(`batchSize must be a positive integer, got ${batchSize}`);
    if (!Number.isInteger(prefetch) || prefetch < 0) throw new RangeError(`prefetch must be a non-negative integer, got ${prefetch}`);
    if (!Number.isInteger(concurrency) || concurrency < 1) throw new RangeError(`concurrency must be a positive integer, got ${concurrency}`);
  }

  batchesPerEpoch(): number {
    const { batchSize, dropLast } = this.options;
    return dropLast ? Math.floor(this.dataset.length / batchSize) : Math.ceil(this.dataset.length / batchSize);
  }

  /** The dataset indices of every batch of `epoch`, in order. */
  epochOrder(epoch: number): number[][] {
    const order = Array.from({ length: this.dataset.length }, (_, i) => i);
    if (this.options.shuffle) Rng.fromKey(this.options.seed, ORDER_STREAM, epoch).shuffle(order);
    const batches: number[][] = [];
    for (let b = 0; b < this.batchesPerEpoch(); b++) batches.push(order.slice(b * this.options.batchSize, (b + 1) * this.options.batchSize));
    return batches;
  }

  /** Batches of `epoch` from `startBatch` on (for resuming mid-epoch). */
  async *epoch(epoch: number, startBatch = 0): AsyncGenerator<Batch> {
    const batches = this.epochOrder(epoch).slice(startBatch);
    const limiter = new Limiter(this.options.concurrency);
    const pending: Promise<Batch>[] = [];
    let next = 0;
    const schedule = () => {
      while (next < batches.length && pending.length <= this.options.prefetch) {
        const batch = this.loadBatch(batches[next++]!, epoch, limiter);
        // Consumers that stop early must not leave unhandled rejections behind; awaiting below still throws.
        batch.catch(() => {});
        pending.push(batch);
      }
    };
    schedule();
    while (pending.length > 0) {
      const batch = await pending.shift()!;
      yield batch;
      schedule();
    }
  }

  private async loadBatch(indices: number[], epoch: number, limiter: Limiter): Promise<Batch> {
    const samples = await Promise.all(
      indices.map((index) => limiter.run(() => this.dataset.load(index, Rng.fromKey(this.options.seed, SAMPLE_STREAM, epoch, index)))),
    );
    return assembleBatch(samples, indices);
  }
}

export function assembleBatch(samples: readonly ClipSample[], indices: readonly number[]): Batch {
  const clipLength = samples[0]!.clip.length;
  const clips = new Float32Array(samples.length * clipLength);
  samples.forEach((sample, i) => {
    if (sample.clip.length !== clipLength) throw new RangeError(`clip ${indices[i]} has ${sample.clip.length} values, expected ${clipLength}`);
    clips.set(sample.clip, i * clipLength);
  });
  const batch: Batch = {
    clips,
    labels: Int32Array.from(samples, (s) => s.label),
    indices: Int32Array.from(indices),
    batchSize: samples.length,
  };
  if (samples.every((s) => s.caption !== undefined)) batch.captions = samples.map((s) => s.caption!);
  return batch;
}
