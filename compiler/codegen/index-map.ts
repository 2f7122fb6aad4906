/**
 * Strided index maps: how a logical index (row-major over `sizes`) lands in a flat buffer. Views
 * (permute, broadcast, slice, the patch view of a stride=kernel convolution) are folded into kernels
 * as index maps instead of being materialised.
 */
export interface IndexMap {
  /** Outermost first. */
  readonly sizes: readonly number[];
  /** Element strides; 0 broadcasts. */
  readonly strides: readonly number[];
  /** Element offset of logical index 0. */
  readonly offset?: number;
}

export function numel(sizes: readonly number[]): number {
  return sizes.reduce((a, b) => a * b, 1);
}

export function contiguousStrides(sizes: readonly number[]): number[] {
  const s = new Array<number>(sizes.length);
  let acc = 1;
  for (let i = sizes.length - 1; i >= 0; i--) {
    s[i] = acc;
    acc *= sizes[i];
  }
  return s;
}

export function contiguous(sizes: readonly number[]): IndexMap {
  return { sizes, strides: contiguousStrides(sizes) };
}

/** A one-dimensional map: index i -> offset + i * stride. */
export function linear(size: number, stride: number, offset = 0): IndexMap {
  return { sizes: [size], strides: [stride], offset };
}

/** Drops size-1 axes and merges neighbours that step like one axis, so kernels divide less. */
export function simplify(map: IndexMap): IndexMap {
  const sizes: number[] = [];
  const strides: number[] = [];
  map.sizes.forEach((size, i) => {
    if (size === 1) return;
    const last = sizes.length - 1;
    if (last >= 0 && strides[last] === map.strides[i] * size) {
      sizes[last] *= size;
      strides[last] = map.strides[i];
    } else {
      sizes.push(size);
      strides.push(map.strides[i]);
    }
  });
  return { sizes, strides, offset: map.offset ?? 0 };
}

/** Offset of logical element i under `map`, computed on the CPU (for references and tests). */
export function offsetOf(map: IndexMap, i: number): number {
  let off = map.offset ?? 0;
  let rest = i;
  for (let d = map.sizes.length - 1; d >= 0; d--) {
    off += (rest % map.sizes[d]) * map.strides[d];
    rest = Math.floor(rest / map.sizes[d]);
  }
  return off;
}

/**
 * WGSL u32 expression for the offset of logical index `v` (a WGSL u32 expression). Constant sizes let
 * the shader compiler turn the divisions into multiplications.
 */
export function offsetExpr(map: IndexMap, v: string): string {
  const m = simplify(map);
  const terms: string[] = [];
  let inner = 1;
  for (let d = m.sizes.length - 1; d >= 0; d--) {
    if (m.strides[d] !== 0) {
      let idx = inner === 1 ? v : `(${v}) / ${inner}u`;
      if (d > 0) idx = `(${idx}) % ${m.sizes[d]}u`;
      terms.push(m.strides[d] === 1 ? `(${idx})` : `(${idx}) * ${m.strides[d]}u`);
    }
    inner *= m.sizes[d];
  }
  if (m.offset) terms.push(`${m.offset}u`);
  return terms.length ? terms.join(" + ") : "0u";
}

/** True when the map is `offset + i * 1` (consecutive indices are consecutive in memory). */
export function isUnitStride(map: IndexMap): boolean {
  const m = simplify(map);
  return m.sizes.length === 0 || (m.sizes.length === 1 && m.strides[0] === 1);
}

/** The same map counted in vec4 units; only valid when `vec4Aligned(map)`. */
export function inVec4Units(map: IndexMap): IndexMap {
  return { sizes: map.sizes, strides: map.strides.map((s) => s / 4), offset: (map.offset ?? 0) / 4 };
}

/** Every stride and the offset are multiples of 4 elements. */
export function vec4Aligned(map: IndexMap): boolean {
  return (map.offset ?? 0) % 4 === 0 && simplify(map).strides.every((s) => s % 4 === 0);
}
