/** Child process: loads sample 0 of the dataset described by argv[2] and prints the outcome as JSON. */
import { UserError } from "../../../cli/errors.ts";
import { Rng } from "../../../runtime/data/rng.ts";
import { VideoFolderDataset } from "../../../runtime/data/video-folder.ts";

try {
  const dataset = new VideoFolderDataset({ annotations: process.argv[2]!, frames: 2, size: 8, mode: "eval" });
  await dataset.load(0, Rng.fromKey(0));
  console.log(JSON.stringify({ ok: true }));
} catch (error) {
  console.log(JSON.stringify({ ok: false, userError: error instanceof UserError, message: (error as Error).message, help: (error as UserError).help }));
}
