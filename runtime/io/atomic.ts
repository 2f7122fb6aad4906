/**
 * Crash-safe file replacement: the data goes to a temporary file in the target's directory, is
 * fsynced, renamed over the target (atomic on POSIX within one file system) and the directory is
 * fsynced so the rename itself survives a power cut. A reader therefore sees either the complete
 * old file or the complete new one, never a mix, whenever the writer is killed.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { randomBytes } from "node:crypto";

const TEMP_MARKER = ".tmp-";

function tempPrefix(target: string): string {
  return `.${path.basename(target)}${TEMP_MARKER}`;
}

function processIsAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

/**
 * Removes temporary files that a killed writer of `target` left behind. Files of writers that are
 * still running (their pid is alive) are left alone.
 */
export function removeStaleTempFiles(target: string): string[] {
  const dir = path.dirname(path.resolve(target));
  const prefix = tempPrefix(target);
  const removed: string[] = [];
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch {
    return removed;
  }
  for (const name of names) {
    if (!name.startsWith(prefix)) continue;
    const pid = Number(name.slice(prefix.length).split("-")[0]);
    if (!Number.isInteger(pid) || pid === process.pid || processIsAlive(pid)) continue;
    try {
      fs.unlinkSync(path.join(dir, name));
      removed.push(name);
    } catch {
      // Another process may have cleaned it up first; nothing to do.
    }
  }
  return removed;
}

/** Temporary files of `target` currently present (left by killed or running writers). */
export function listTempFiles(target: string): string[] {
  const dir = path.dirname(path.resolve(target));
  const prefix = tempPrefix(target);
  return fs.readdirSync(dir).filter((name) => name.startsWith(prefix));
}

function fsyncDirectory(dir: string): void {
  let fd: number | undefined;
  try {
    fd = fs.openSync(dir, "r");
    fs.fsyncSync(fd);
  } catch (error) {
    // Some file systems refuse fsync on directories; the rename is still atomic there.
    const code = (error as NodeJS.ErrnoException).code;
    if (code !== "EINVAL" && code !== "EISDIR" && code !== "EPERM") throw error;
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
}

/**
 * Writes `chunks` (in order) to `target` atomically. Chunks are written one by one, so a large
 * checkpoint never needs to exist as one contiguous buffer.
 */
export function writeFileAtomic(target: string, chunks: Iterable<Uint8Array>): void {
  const resolved = path.resolve(target);
  const dir = path.dirname(resolved);
  fs.mkdirSync(dir, { recursive: true });
  removeStaleTempFiles(resolved);
  const temp = path.join(dir, `${tempPrefix(resolved)}${process.pid}-${randomBytes(4).toString("hex")}`);
  const fd = fs.openSync(temp, "wx", 0o644);
  let renamed = false;
  try {
    for (const chunk of chunks) {
      let written = 0;
      while (written < chunk.byteLength) {
        written += fs.writeSync(fd, chunk, written, chunk.byteLength - written);
      }
    }
    fs.fsyncSync(fd);
    fs.closeSync(fd);
    fs.renameSync(temp, resolved);
    renamed = true;
    fsyncDirectory(dir);
  } finally {
    if (!renamed) {
      try {
        fs.closeSync(fd);
      } catch {
        // Already closed before the failure.
      }
      fs.rmSync(temp, { force: true });
    }
  }
}
