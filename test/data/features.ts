/**
 * Per-clip features for probing the synthetic dataset: two that ignore frame order and one built
 * from frame-to-frame motion, plus a nearest-centroid classifier.
 */

/** The average frame, flattened: what a frame-averaging model sees at best. */
export function meanFrame(clip: Float32Array, frames: number): Float32Array {
  const frameLength = clip.length / frames;
  const out = new Float32Array(frameLength);
  for (let t = 0; t < frames; t++) for (let i = 0; i < frameLength; i++) out[i] += clip[t * frameLength + i]! / frames;
  return out;
}

/** Each pixel's values over time, sorted: the whole bag of frames, with the order thrown away. */
export function sortedBag(clip: Float32Array, frames: number): Float32Array {
  const frameLength = clip.length / frames;
  const out = new Float32Array(clip.length);
  const column = new Float32Array(frames);
  for (let i = 0; i < frameLength; i++) {
    for (let t = 0; t < frames; t++) column[t] = clip[t * frameLength + i]!;
    column.sort();
    for (let t = 0; t < frames; t++) out[i * frames + t] = column[t]!;
  }
  return out;
}

/**
 * Motion from temporal differences. |x[t+1] - x[t]| is zero wherever nothing moved (background,
 * static shapes) and bright around the moving object, centred on the midpoint of its two
 * positions. The phase of the first Fourier coefficient of that map locates the midpoint on the
 * torus; the change of phase between consecutive difference maps, along x and along y, is the
 * feature: T-2 smoothed velocities per axis, independent of where the object is.
 */
export function differenceMotion(clip: Float32Array, frames: number, size: number): Float32Array {
  const frameLength = size * size * 3;
  const coefficients: { x: [number, number]; y: [number, number] }[] = [];
  for (let t = 0; t + 1 < frames; t++) {
    let xr = 0, xi = 0, yr = 0, yi = 0;
    for (let y = 0; y < size; y++) {
      for (let x = 0; x < size; x++) {
        const at = (y * size + x) * 3;
        let change = 0;
        for (let c = 0; c < 3; c++) change += Math.abs(clip[(t + 1) * frameLength + at + c]! - clip[t * frameLength + at + c]!);
        const ax = (2 * Math.PI * x) / size;
        const ay = (2 * Math.PI * y) / size;
        xr += change * Math.cos(ax);
        xi -= change * Math.sin(ax);
        yr += change * Math.cos(ay);
        yi -= change * Math.sin(ay);
      }
    }
    coefficients.push({ x: [xr, xi], y: [yr, yi] });
  }
  const shift = ([a, b]: [number, number], [c, d]: [number, number]) => (-Math.atan2(d * a - c * b, c * a + d * b) * size) / (2 * Math.PI);
  const features = new Float32Array(2 * (frames - 2));
  for (let t = 0; t + 2 < frames; t++) {
    features[t] = shift(coefficients[t]!.x, coefficients[t + 1]!.x);
    features[frames - 2 + t] = shift(coefficients[t]!.y, coefficients[t + 1]!.y);
  }
  return features;
}

/** Accuracy on `test` of the classifier assigning each example to the closest class centroid of `train`. */
export function nearestCentroidAccuracy(
  train: { features: Float32Array; label: number }[],
  test: { features: Float32Array; label: number }[],
  classes: number,
): number {
  const dim = train[0]!.features.length;
  const centroids = Array.from({ length: classes }, () => new Float64Array(dim));
  const counts = new Array<number>(classes).fill(0);
  for (const { features, label } of train) {
    counts[label]!++;
    for (let i = 0; i < dim; i++) centroids[label]![i] += features[i]!;
  }
  centroids.forEach((c, k) => c.forEach((_, i) => (c[i] /= Math.max(1, counts[k]!))));
  let correct = 0;
  for (const { features, label } of test) {
    let best = -1;
    let bestDistance = Infinity;
    for (let k = 0; k < classes; k++) {
      let distance = 0;
      for (let i = 0; i < dim; i++) distance += (features[i]! - centroids[k]![i]!) ** 2;
      if (distance < bestDistance) [best, bestDistance] = [k, distance];
    }
    if (best === label) correct++;
  }
  return correct / test.length;
}
