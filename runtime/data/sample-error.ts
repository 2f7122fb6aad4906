/**
 * A single sample that cannot be loaded (missing file, undecodable image or video). The dataset
 * decides, per its `onBadSample` option, whether that skips the sample or stops the run.
 */
export class SampleError extends Error {
  constructor(
    readonly path: string,
    readonly reason: string,
  ) {
    super(`${path}: ${reason}`);
  }
}
