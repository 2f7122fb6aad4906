/** Reading .ivm files: missing files and bytes that are not UTF-8 become diagnostics. */
import { readFileSync } from "node:fs";
import type { Diagnostic } from "../diagnostics/diagnostic.ts";
import { makeDiagnostic } from "../diagnostics/diagnostic.ts";
import { LineIndex } from "./spans.ts";

export interface SourceText {
  /** The file's text; lossily decoded (bad bytes as U+FFFD) when it is not valid UTF-8. */
  readonly text: string;
  readonly diagnostics: Diagnostic[];
}

/**
 * Byte index of the first byte that does not belong to a well-formed UTF-8 sequence, or -1; only
 * used to locate the problem once TextDecoder's fatal mode has found one.
 */
export function firstInvalidUtf8(bytes: Uint8Array): number {
  let i = 0;
  while (i < bytes.length) {
    const b = bytes[i]!;
    if (b < 0x80) {
      i++;
      continue;
    }
    let need: number;
    let min: number;
    if (b >= 0xc2 && b <= 0xdf) [need, min] = [1, 0x80];
    else if (b >= 0xe0 && b <= 0xef) [need, min] = [2, 0x800];
    else if (b >= 0xf0 && b <= 0xf4) [need, min] = [3, 0x10000];
    else return i;
    let cp = b & (0x3f >> need);
    for (let k = 1; k <= need; k++) {
      const c = bytes[i + k];
      if (c === undefined || (c & 0xc0) !== 0x80) return i;
      cp = (cp << 6) | (c & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return i;
    i += need + 1;
  }
  return -1;
}

function reasonFor(e: unknown): string {
  const code = (e as NodeJS.ErrnoException)?.code;
  if (code === "ENOENT") return "no such file";
  if (code === "EISDIR") return "it is a directory";
  if (code === "EACCES" || code === "EPERM") return "permission denied";
  return (e as Error)?.message ?? String(e);
}

export function decodeSource(bytes: Uint8Array, file: string): SourceText {
  try {
    return { text: new TextDecoder("utf-8", { fatal: true }).decode(bytes), diagnostics: [] };
  } catch {
    // Not UTF-8: decode lossily so that parsing goes on, and say where the first bad byte is.
  }
  const text = new TextDecoder("utf-8").decode(bytes);
  const bad = Math.max(0, firstInvalidUtf8(bytes));
  const prefix = new TextDecoder("utf-8", { ignoreBOM: false }).decode(bytes.subarray(0, bad));
  const offset = Math.min(prefix.length, text.length);
  const span = new LineIndex(text).span(file, offset, Math.min(offset + 1, text.length));
  const diagnostic = makeDiagnostic("IV1006", span, {
    byte: bytes[bad]!.toString(16).padStart(2, "0").toUpperCase(),
    offset: bad,
  });
  return { text, diagnostics: [diagnostic] };
}

export function readSource(path: string): SourceText {
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(path);
  } catch (e) {
    return { text: "", diagnostics: [makeDiagnostic("IV1007", undefined, { path, reason: reasonFor(e) })] };
  }
  return decodeSource(bytes, path);
}
