/**
 * PyTorch `torch.save` files, read without Python and without executing pickle code.
 *
 * Zip format (torch >= 1.6): `<prefix>/data.pkl` is a pickle whose tensors point, through
 * persistent ids `('storage', torch.FloatStorage, key, location, numel)`, at raw little-endian
 * storages `<prefix>/data/<key>`. Legacy format: four pickles back to back (magic number, protocol
 * version, system info, the object), a pickled list of storage keys, then for each key an int64
 * element count followed by the storage bytes.
 *
 * Tensors stay as references until `materialize` copies their elements out (in C order, whatever
 * the strides and storage offset), so optimizer state that is never used is never read.
 */
import * as fs from "node:fs";
import { UserError } from "../../cli/errors.ts";
import { DTYPE_BYTES, bytesToRuntimeArray, elementCount, type DType, type LoadedTensor } from "./dtype.ts";
import { ForbiddenGlobalError, GlobalRef, PickleError, STORAGE_DTYPES, unpickle, type StorageRef, type TensorRef } from "./pickle.ts";
import { ZipFormatError, ZipReader } from "./zip.ts";

/** The legacy format's first pickle is this number. */
const LEGACY_MAGIC = 0x1950a86a20f9469cfc6cn;

export interface TorchFile {
  /** The unpickled object: Maps for dicts, arrays for lists and tuples, TensorRef for tensors. */
  root: unknown;
  format: "zip" | "legacy";
  /** The stored bytes of a storage, read on first use. */
  storageBytes(storage: StorageRef): Uint8Array;
  close(): void;
}

export function refusalFor(file: string, error: ForbiddenGlobalError): UserError {
  return new UserError(
    `refusing to load ${file}: the checkpoint calls \`${error.qualifiedName}\`; ivc loads plain tensor state dicts only`,
    "a checkpoint that needs arbitrary Python objects to load may run code; re-save just the weights, e.g. torch.save(model.state_dict(), path), or convert to safetensors",
  );
}

function damaged(file: string, detail: string): UserError {
  return new UserError(`${file} is not a readable PyTorch checkpoint: ${detail}`, "the file is truncated or damaged; re-download or re-save it");
}

function storageFromPersistentId(file: string, pid: unknown): StorageRef {
  if (!Array.isArray(pid) || pid[0] !== "storage" || pid.length < 5) {
    throw damaged(file, `unexpected persistent id ${JSON.stringify(pid)}`);
  }
  const [, type, key, , numel] = pid;
  const dtype = type instanceof GlobalRef && type.module === "torch" ? STORAGE_DTYPES[type.name] : undefined;
  if (dtype === undefined) throw damaged(file, `storage ${String(key)} has an unsupported type ${type instanceof GlobalRef ? type.qualifiedName : String(type)}`);
  if (pid.length > 5 && pid[5] !== null) throw damaged(file, "the checkpoint uses storage views (torch < 0.4), which are not supported");
  return { kind: "storage", key: String(key), dtype, numel: Number(numel) };
}

/** Runs one pickle, turning the unpickler's errors into user-facing ones naming `file`. */
function runPickle(file: string, bytes: Uint8Array, start: number, persistentLoad?: (pid: unknown) => unknown): { value: unknown; end: number } {
  try {
    return unpickle(bytes, { persistentLoad }, start);
  } catch (error) {
    if (error instanceof ForbiddenGlobalError) throw refusalFor(file, error);
    if (error instanceof PickleError) throw damaged(file, error.message);
    throw error;
  }
}

function openZip(file: string): TorchFile {
  let zip: ZipReader;
  try {
    zip = new ZipReader(file);
  } catch (error) {
    if (error instanceof ZipFormatError) throw damaged(file, error.message);
    throw error;
  }
  try {
    const pickleName = zip.names().find((name) => name === "data.pkl" || name.endsWith("/data.pkl"));
    if (!pickleName) throw damaged(file, "the zip archive has no data.pkl (is it a torch.save file?)");
    const prefix = pickleName.slice(0, pickleName.length - "data.pkl".length);
    const byteorderName = `${prefix}byteorder`;
    if (zip.entries.has(byteorderName) && zip.read(byteorderName).toString("latin1").trim() !== "little") {
      throw new UserError(`${file} was saved on a big-endian machine; ivc reads little-endian checkpoints only`, "re-save it on a little-endian (x86 or ARM) machine");
    }
    const root = runPickle(file, zip.read(pickleName), 0, (pid) => storageFromPersistentId(file, pid)).value;
    const cache = new Map<string, Uint8Array>();
    return {
      root,
      format: "zip",
      storageBytes(storage) {
        let bytes = cache.get(storage.key);
        if (!bytes) {
          try {
            bytes = zip.read(`${prefix}data/${storage.key}`);
          } catch (error) {
            if (error instanceof ZipFormatError) throw damaged(file, `storage ${storage.key}: ${error.message}`);
            throw error;
          }
          cache.set(storage.key, bytes);
        }
        return bytes;
      },
      close: () => zip.close(),
    };
  } catch (error) {
    zip.close();
    if (error instanceof ZipFormatError) throw damaged(file, error.message);
    throw error;
  }
}

function openLegacy(file: string): TorchFile {
  const bytes = fs.readFileSync(file);
  let at = 0;
  const next = (persistentLoad?: (pid: unknown) => unknown): unknown => {
    const result = runPickle(file, bytes, at, persistentLoad);
    at = result.end;
    return result.value;
  };
  if (next() !== LEGACY_MAGIC) throw damaged(file, "it starts with a pickle but not with torch's magic number");
  const protocol = next();
  if (protocol !== 1001) throw damaged(file, `unsupported legacy torch protocol version ${String(protocol)}`);
  next(); // system info: endianness and type sizes, always little-endian 64-bit in practice
  const storages = new Map<string, StorageRef>();
  const root = next((pid) => {
    const storage = storageFromPersistentId(file, pid);
    storages.set(storage.key, storage);
    return storage;
  });
  const keys = next();
  if (!Array.isArray(keys)) throw damaged(file, "the storage key list is missing");
  const data = new Map<string, Uint8Array>();
  for (const key of keys.map(String)) {
    const storage = storages.get(key);
    if (at + 8 > bytes.byteLength) throw damaged(file, `the file ends before storage ${key}`);
    const numel = Number(bytes.readBigInt64LE(at));
    const length = numel * DTYPE_BYTES[storage?.dtype ?? "U8"];
    at += 8;
    if (at + length > bytes.byteLength) throw damaged(file, `storage ${key} is truncated`);
    data.set(key, bytes.subarray(at, at + length));
    at += length;
  }
  return {
    root,
    format: "legacy",
    storageBytes(storage) {
      const found = data.get(storage.key);
      if (!found) throw damaged(file, `storage ${storage.key} is referenced but not stored`);
      return found;
    },
    close() {},
  };
}

/** Opens a torch.save file of either format (the caller checked it is one). */
export function openTorchFile(file: string, format: "zip" | "legacy"): TorchFile {
  return format === "zip" ? openZip(file) : openLegacy(file);
}

function isContiguous(shape: readonly number[], stride: readonly number[]): boolean {
  let expected = 1;
  for (let dim = shape.length - 1; dim >= 0; dim--) {
    if (shape[dim] !== 1 && stride[dim] !== expected) return false;
    expected *= shape[dim]!;
  }
  return true;
}

/** Copies a tensor's elements out of its storage in C order, following strides and offset. */
export function materialize(file: string, torchFile: TorchFile, name: string, tensor: TensorRef): LoadedTensor {
  const { storage, shape, stride, storageOffset } = tensor;
  const dtype: DType = storage.dtype;
  const itemBytes = DTYPE_BYTES[dtype];
  const count = elementCount(shape);
  if (shape.length !== stride.length) throw damaged(file, `tensor "${name}" has ${shape.length} sizes but ${stride.length} strides`);
  let lastElement = storageOffset;
  for (let dim = 0; dim < shape.length; dim++) lastElement += (shape[dim]! - 1) * stride[dim]!;
  const source = torchFile.storageBytes(storage);
  if (count > 0 && (storageOffset < 0 || (lastElement + 1) * itemBytes > source.byteLength)) {
    throw damaged(file, `tensor "${name}" reaches element ${lastElement} of a storage holding ${source.byteLength / itemBytes}`);
  }
  let bytes: Uint8Array;
  if (isContiguous(shape, stride)) {
    bytes = source.subarray(storageOffset * itemBytes, (storageOffset + count) * itemBytes);
  } else {
    bytes = new Uint8Array(count * itemBytes);
    const index = new Array<number>(shape.length).fill(0);
    let sourceElement = storageOffset;
    for (let out = 0; out < count; out++) {
      bytes.set(source.subarray(sourceElement * itemBytes, (sourceElement + 1) * itemBytes), out * itemBytes);
      for (let dim = shape.length - 1; dim >= 0; dim--) {
        index[dim]!++;
        sourceElement += stride[dim]!;
        if (index[dim]! < shape[dim]!) break;
        sourceElement -= stride[dim]! * shape[dim]!;
        index[dim] = 0;
      }
    }
  }
  try {
    return { shape: [...shape], dtype, data: bytesToRuntimeArray(bytes, dtype, `tensor "${name}"`) };
  } catch (error) {
    throw new UserError(`${file}: ${(error as Error).message}`);
  }
}
