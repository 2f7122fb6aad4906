/** Official checkpoints to `.ivm` parameter paths: key layouts, mapping, centre inflation, loading. */
export { detectSource, rulesFor, SOURCE_DESCRIPTIONS, type SourceFormat, type TargetFamily, targetFamily } from "./formats.ts";
export { centreInflate } from "./inflate.ts";
export { type MappedCheckpoint, MappingError, mapCheckpoint, type MapOptions, type WeightArray } from "./map.ts";
export { combine, describeLoad, type LoadedWeights, loadWeights, type LoadWeightsOptions, mapFile } from "./load.ts";
