/**
 * What the restricted unpickler may name, and what "calling" each allowed name produces. Nothing
 * here executes Python: an allowed global becomes a GlobalRef, and REDUCE/NEWOBJ on it builds a
 * plain TypeScript value (a Map for OrderedDict, a TensorRef for torch's tensor rebuild functions,
 * an OpaqueObject for inert classes such as argparse.Namespace). Everything else is refused.
 */
import type { DType } from "./dtype.ts";

export class PickleError extends Error {}

export class GlobalRef {
  constructor(
    readonly module: string,
    readonly name: string,
  ) {}
  get qualifiedName(): string {
    return `${this.module}.${this.name}`;
  }
}

/** A storage named by a persistent id; the caller's `persistentLoad` decides what it refers to. */
export interface StorageRef {
  kind: "storage";
  key: string;
  dtype: DType;
  /** Elements of `dtype` in the storage. */
  numel: number;
}

export interface TensorRef {
  kind: "tensor";
  storage: StorageRef;
  storageOffset: number;
  shape: number[];
  stride: number[];
}

/** An allow-listed object that carries no tensors (argparse.Namespace, numpy scalar, ...): kept, never interpreted. */
export class OpaqueObject {
  state: unknown = undefined;
  constructor(
    readonly className: string,
    readonly args: unknown[],
  ) {}
}

export type PickleDict = Map<unknown, unknown>;

export function isTensorRef(value: unknown): value is TensorRef {
  return typeof value === "object" && value !== null && (value as TensorRef).kind === "tensor";
}

export const STORAGE_DTYPES: Readonly<Record<string, DType>> = {
  FloatStorage: "F32",
  HalfStorage: "F16",
  BFloat16Storage: "BF16",
  DoubleStorage: "F64",
  LongStorage: "I64",
  IntStorage: "I32",
  ShortStorage: "I16",
  CharStorage: "I8",
  ByteStorage: "U8",
  BoolStorage: "BOOL",
};

const INERT_CLASSES = new Set([
  "argparse.Namespace",
  "torch.device",
  "numpy.core.multiarray.scalar",
  "numpy._core.multiarray.scalar",
  "numpy.dtype",
]);
const TORCH_DTYPE_VALUES = new Set(["float32", "float16", "bfloat16", "float64", "int64", "int32", "int16", "int8", "uint8", "bool"]);

export function isAllowedGlobal(module: string, name: string): boolean {
  const qualified = `${module}.${name}`;
  if (module === "torch" && (name in STORAGE_DTYPES || TORCH_DTYPE_VALUES.has(name) || name === "Size" || name === "device")) return true;
  if (module === "torch._utils") {
    return ["_rebuild_tensor", "_rebuild_tensor_v2", "_rebuild_parameter", "_rebuild_parameter_with_state"].includes(name);
  }
  if (qualified === "collections.OrderedDict" || qualified === "_codecs.encode") return true;
  if ((module === "builtins" || module === "__builtin__") && (name === "set" || name === "frozenset")) return true;
  return INERT_CLASSES.has(qualified);
}

function toNumber(value: unknown, what: string): number {
  if (typeof value === "number" && Number.isInteger(value)) return value;
  if (typeof value === "bigint" && value <= BigInt(Number.MAX_SAFE_INTEGER) && value >= BigInt(Number.MIN_SAFE_INTEGER)) return Number(value);
  throw new PickleError(`${what} is not an integer (${String(value)})`);
}

function toIntList(value: unknown, what: string): number[] {
  if (!Array.isArray(value)) throw new PickleError(`${what} is not a tuple`);
  return value.map((v, i) => toNumber(v, `${what}[${i}]`));
}

function asStorage(value: unknown): StorageRef {
  if (typeof value === "object" && value !== null && (value as StorageRef).kind === "storage") return value as StorageRef;
  throw new PickleError("a tensor is rebuilt from something that is not a storage");
}

/** "Calls" an allow-listed global with `args`, producing a plain value. */
export function applyGlobal(callable: unknown, args: unknown[]): unknown {
  if (!(callable instanceof GlobalRef)) throw new PickleError("REDUCE applied to something that is not a class or function");
  const name = callable.qualifiedName;
  switch (name) {
    case "collections.OrderedDict": {
      const dict: PickleDict = new Map();
      const pairs = args[0];
      if (Array.isArray(pairs)) for (const pair of pairs) if (Array.isArray(pair)) dict.set(pair[0], pair[1]);
      return dict;
    }
    case "torch._utils._rebuild_tensor":
    case "torch._utils._rebuild_tensor_v2":
      return {
        kind: "tensor",
        storage: asStorage(args[0]),
        storageOffset: toNumber(args[1], "storage offset"),
        shape: toIntList(args[2], "tensor size"),
        stride: toIntList(args[3], "tensor stride"),
      } satisfies TensorRef;
    case "torch._utils._rebuild_parameter":
    case "torch._utils._rebuild_parameter_with_state":
      return args[0];
    case "_codecs.encode":
      return Uint8Array.from(String(args[0]), (ch) => ch.charCodeAt(0) & 0xff);
    case "builtins.set":
    case "builtins.frozenset":
    case "__builtin__.set":
    case "__builtin__.frozenset":
    case "torch.Size":
      return Array.isArray(args[0]) ? [...args[0]] : [];
  }
  if (INERT_CLASSES.has(name)) return new OpaqueObject(name, args);
  throw new PickleError(`\`${name}\` cannot be called`);
}

