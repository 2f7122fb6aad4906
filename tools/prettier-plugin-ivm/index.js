// Prettier loads plugins with import(); the plugin is TypeScript, so register tsx's loader first,
// the way bin/ivc.mjs runs the CLI without a build step.
import { register } from "tsx/esm/api";

register();
const plugin = await import("./plugin.ts");

export const languages = plugin.languages;
export const parsers = plugin.parsers;
export const printers = plugin.printers;
export const defaultOptions = plugin.defaultOptions;
