/**
 * Centre inflation of a patch embedding (fact sheet 1.4, 1.9): CLIP's 2-D kernel [C, 3, P, P] (or
 * a 1-tap 3-D one [C, 3, 1, P, P]) becomes [C, 3, kt, P, P] with the 2-D kernel at the middle tap
 * ⌊kt/2⌋ and zeros elsewhere, as UniFormerV2's loader does. With kt = 3 and temporal stride 2 the
 * inflated convolution therefore equals the 2-D embedding of frames 0, 2, 4, ... at initialisation.
 */

/** The inflated kernel, or undefined when the shapes are not a 2-D/1-tap kernel and its 3-D form. */
export function centreInflate(
  data: Float32Array,
  found: readonly number[],
  expected: readonly number[],
): Float32Array | undefined {
  if (expected.length !== 5) return undefined;
  const [c, i, kt, kh, kw] = expected as [number, number, number, number, number];
  const flat =
    found.length === 4 ? found : found.length === 5 && found[2] === 1 ? [found[0]!, found[1]!, found[3]!, found[4]!] : undefined;
  if (!flat || flat[0] !== c || flat[1] !== i || flat[2] !== kh || flat[3] !== kw) return undefined;
  const plane = kh * kw;
  const out = new Float32Array(c * i * kt * plane);
  const centre = Math.floor(kt / 2);
  for (let ci = 0; ci < c * i; ci++) out.set(data.subarray(ci * plane, (ci + 1) * plane), (ci * kt + centre) * plane);
  return out;
}
