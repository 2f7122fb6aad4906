/**
 * Memory plan: every stored value gets a buffer. Parameters, inputs, constants and graph outputs
 * have their own; intermediates share buffers whenever their lifetimes (first write to last read, in
 * dispatch order) do not overlap, best fit by size. The plan and its total bytes are known at compile
 * time.
 */
import type { Node, ValueId } from "../ir/types.ts";

export interface BufferAssignment {
  readonly buffers: { id: string; bytes: number }[];
  readonly bufferOf: ReadonlyMap<ValueId, string>;
}

/** Bytes of a stored value: 4 per element, 2 when stored as f16; WebGPU sizes are multiples of 4. */
export function storedBytes(n: Node, half: boolean): number {
  const elements = (n.shape as number[]).reduce((a, b) => a * b, 1);
  return Math.max(4, Math.ceil((elements * (half ? 2 : 4)) / 4) * 4);
}

export function planBuffers(
  stored: readonly Node[],
  steps: readonly { writes: readonly ValueId[]; reads: readonly ValueId[] }[],
  pinned: ReadonlySet<ValueId>,
  half: ReadonlySet<ValueId> = new Set(),
): BufferAssignment {
  const bytesOf = (n: Node) => storedBytes(n, half.has(n.id));
  const first = new Map<ValueId, number>();
  const last = new Map<ValueId, number>();
  steps.forEach((s, i) => {
    for (const w of s.writes) if (!first.has(w)) first.set(w, i);
    for (const r of s.reads) last.set(r, i);
  });
  const buffers: { id: string; bytes: number }[] = [];
  const bufferOf = new Map<ValueId, string>();
  const free: { id: string; bytes: number }[] = [];
  const releases = new Map<number, string[]>();

  for (const n of stored) {
    if (pinned.has(n.id) || !first.has(n.id)) {
      const id = `b${buffers.length}`;
      buffers.push({ id, bytes: bytesOf(n) });
      bufferOf.set(n.id, id);
    }
  }
  const transient = stored.filter((n) => !pinned.has(n.id) && first.has(n.id)).sort((a, b) => first.get(a.id)! - first.get(b.id)!);
  let cursor = 0;
  for (const n of transient) {
    const start = first.get(n.id)!;
    // Release buffers whose last reader ran strictly before this value's producer.
    for (; cursor < start; cursor++) for (const b of releases.get(cursor) ?? []) free.push(buffers.find((x) => x.id === b)!);
    const need = bytesOf(n);
    let best = -1;
    for (let i = 0; i < free.length; i++) if (free[i]!.bytes >= need && (best < 0 || free[i]!.bytes < free[best]!.bytes)) best = i;
    let id: string;
    if (best >= 0) {
      id = free[best]!.id;
      free.splice(best, 1);
    } else {
      id = `b${buffers.length}`;
      buffers.push({ id, bytes: need });
    }
    bufferOf.set(n.id, id);
    const end = last.get(n.id) ?? start;
    releases.set(end, [...(releases.get(end) ?? []), id]);
  }
  return { buffers, bufferOf };
}
