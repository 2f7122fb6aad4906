/**
 * A restricted Python unpickler (protocols 0-5) that builds plain values and never runs code.
 *
 * Pickle is a small stack machine whose GLOBAL opcode names any Python callable and whose REDUCE
 * opcode calls it; that is how a malicious checkpoint runs `os.system`. Here GLOBAL only resolves
 * names on an allow-list of things that occur in tensor state dicts (OrderedDict, torch's tensor
 * rebuild functions and storage types, a few inert containers), and "calling" one of them builds a
 * TypeScript value describing it. Any other name is refused before anything else happens.
 */
import { GlobalRef, OpaqueObject, PickleError, applyGlobal, isAllowedGlobal, isTensorRef } from "./pickle-globals.ts";

export { GlobalRef, OpaqueObject, PickleError, STORAGE_DTYPES, isTensorRef } from "./pickle-globals.ts";
export type { PickleDict, StorageRef, TensorRef } from "./pickle-globals.ts";

/** Raised for a GLOBAL outside the allow-list; `qualifiedName` is "module.name". */
export class ForbiddenGlobalError extends PickleError {
  constructor(readonly qualifiedName: string) {
    super(`the pickle references \`${qualifiedName}\``);
  }
}

export interface UnpickleOptions {
  /** Resolves a persistent id (torch uses them for storages). */
  persistentLoad?: (pid: unknown) => unknown;
}

/** Runs the pickle in `data` starting at `start`; returns the value and where STOP was. */
export function unpickle(data: Uint8Array, options: UnpickleOptions = {}, start = 0): { value: unknown; end: number } {
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const stack: unknown[] = [];
  const marks: number[] = [];
  const memo = new Map<number, unknown>();
  let pos = start;

  const need = (n: number): void => {
    if (pos + n > data.byteLength) throw new PickleError("the pickle stream ends in the middle of an instruction (truncated)");
  };
  const u8 = (): number => (need(1), data[pos++]!);
  const u16 = (): number => (need(2), (pos += 2), view.getUint16(pos - 2, true));
  const u32 = (): number => (need(4), (pos += 4), view.getUint32(pos - 4, true));
  const i32 = (): number => (need(4), (pos += 4), view.getInt32(pos - 4, true));
  const u64 = (): number => (need(8), (pos += 8), Number(view.getBigUint64(pos - 8, true)));
  const bytes = (n: number): Uint8Array => (need(n), (pos += n), data.slice(pos - n, pos));
  const utf8 = (n: number): string => Buffer.from(bytes(n)).toString("utf8");
  const line = (): string => {
    const end = data.indexOf(0x0a, pos);
    if (end < 0) throw new PickleError("the pickle stream ends inside a text line (truncated)");
    const text = Buffer.from(data.subarray(pos, end)).toString("latin1");
    pos = end + 1;
    return text;
  };
  const pop = (): unknown => {
    if (stack.length === 0 || (marks.length > 0 && stack.length <= marks[marks.length - 1]!)) throw new PickleError("stack underflow");
    return stack.pop();
  };
  const top = (): unknown => {
    if (stack.length === 0) throw new PickleError("stack underflow");
    return stack[stack.length - 1];
  };
  const popMark = (): unknown[] => {
    const at = marks.pop();
    if (at === undefined) throw new PickleError("an instruction needs a MARK that is not there");
    return stack.splice(at);
  };
  const littleEndianSigned = (raw: Uint8Array): number | bigint => {
    if (raw.byteLength === 0) return 0;
    let value = 0n;
    for (let i = raw.byteLength - 1; i >= 0; i--) value = (value << 8n) | BigInt(raw[i]!);
    if (raw[raw.byteLength - 1]! & 0x80) value -= 1n << BigInt(raw.byteLength * 8);
    return value <= BigInt(Number.MAX_SAFE_INTEGER) && value >= BigInt(Number.MIN_SAFE_INTEGER) ? Number(value) : value;
  };
  const resolveGlobal = (module: string, name: string): GlobalRef => {
    if (!isAllowedGlobal(module, name)) throw new ForbiddenGlobalError(`${module}.${name}`);
    return new GlobalRef(module, name);
  };
  const setItems = (target: unknown, items: unknown[]): void => {
    if (!(target instanceof Map)) throw new PickleError("SETITEM on something that is not a dict");
    for (let i = 0; i + 1 < items.length; i += 2) target.set(items[i], items[i + 1]);
  };
  const appendItems = (target: unknown, items: unknown[]): void => {
    if (!Array.isArray(target)) throw new PickleError("APPEND on something that is not a list");
    target.push(...items);
  };
  const persistent = (pid: unknown): unknown => {
    if (!options.persistentLoad) throw new PickleError("the pickle refers to external storage, which this file format does not provide");
    return options.persistentLoad(pid);
  };

  for (;;) {
    const opcode = u8();
    switch (opcode) {
      case 0x80: // PROTO
        if (u8() > 5) throw new PickleError("pickle protocol newer than 5");
        break;
      case 0x95: // FRAME
        u64();
        break;
      case 0x2e: // STOP
        return { value: pop(), end: pos };
      case 0x28: // MARK
        marks.push(stack.length);
        break;
      case 0x7d: // EMPTY_DICT
        stack.push(new Map());
        break;
      case 0x5d: // EMPTY_LIST
        stack.push([]);
        break;
      case 0x29: // EMPTY_TUPLE
        stack.push([]);
        break;
      case 0x8f: // EMPTY_SET
        stack.push([]);
        break;
      case 0x74: // TUPLE
      case 0x6c: // LIST
      case 0x91: // FROZENSET
        stack.push(popMark());
        break;
      case 0x85: // TUPLE1
        stack.push([pop()]);
        break;
      case 0x86: { // TUPLE2
        const b = pop();
        stack.push([pop(), b]);
        break;
      }
      case 0x87: { // TUPLE3
        const c = pop();
        const b = pop();
        stack.push([pop(), b, c]);
        break;
      }
      case 0x64: { // DICT
        const dict = new Map();
        setItems(dict, popMark());
        stack.push(dict);
        break;
      }
      case 0x73: { // SETITEM
        const value = pop();
        const key = pop();
        setItems(top(), [key, value]);
        break;
      }
      case 0x75: { // SETITEMS
        const items = popMark();
        setItems(top(), items);
        break;
      }
      case 0x61: { // APPEND
        const value = pop();
        appendItems(top(), [value]);
        break;
      }
      case 0x65: // APPENDS
      case 0x90: { // ADDITEMS
        const items = popMark();
        appendItems(top(), items);
        break;
      }
      case 0x71: // BINPUT
        memo.set(u8(), top());
        break;
      case 0x72: // LONG_BINPUT
        memo.set(u32(), top());
        break;
      case 0x94: // MEMOIZE
        memo.set(memo.size, top());
        break;
      case 0x70: // PUT
        memo.set(Number(line()), top());
        break;
      case 0x68: // BINGET
      case 0x6a: // LONG_BINGET
      case 0x67: { // GET
        const index = opcode === 0x68 ? u8() : opcode === 0x6a ? u32() : Number(line());
        if (!memo.has(index)) throw new PickleError(`memo entry ${index} is read before it is written`);
        stack.push(memo.get(index));
        break;
      }
      case 0x4a: // BININT
        stack.push(i32());
        break;
      case 0x4b: // BININT1
        stack.push(u8());
        break;
      case 0x4d: // BININT2
        stack.push(u16());
        break;
      case 0x8a: // LONG1
        stack.push(littleEndianSigned(bytes(u8())));
        break;
      case 0x8b: // LONG4
        stack.push(littleEndianSigned(bytes(u32())));
        break;
      case 0x49: { // INT (text; "01"/"00" are the protocol-0 booleans)
        const text = line();
        stack.push(text === "01" ? true : text === "00" ? false : Number(text));
        break;
      }
      case 0x4c: // LONG (text)
        stack.push(Number(line().replace(/L$/, "")));
        break;
      case 0x47: // BINFLOAT (big-endian)
        need(8);
        stack.push(view.getFloat64(pos, false));
        pos += 8;
        break;
      case 0x46: // FLOAT (text)
        stack.push(Number(line()));
        break;
      case 0x88: // NEWTRUE
        stack.push(true);
        break;
      case 0x89: // NEWFALSE
        stack.push(false);
        break;
      case 0x4e: // NONE
        stack.push(null);
        break;
      case 0x58: // BINUNICODE
        stack.push(utf8(u32()));
        break;
      case 0x8c: // SHORT_BINUNICODE
        stack.push(utf8(u8()));
        break;
      case 0x8d: // BINUNICODE8
        stack.push(utf8(u64()));
        break;
      case 0x56: // UNICODE (text, raw-unicode-escape; plain keys only need the literal text)
        stack.push(line());
        break;
      case 0x54: // BINSTRING
        stack.push(Buffer.from(bytes(i32())).toString("latin1"));
        break;
      case 0x55: // SHORT_BINSTRING
        stack.push(Buffer.from(bytes(u8())).toString("latin1"));
        break;
      case 0x53: { // STRING (text, quoted)
        const text = line();
        stack.push(text.slice(1, -1));
        break;
      }
      case 0x42: // BINBYTES
        stack.push(bytes(u32()));
        break;
      case 0x43: // SHORT_BINBYTES
        stack.push(bytes(u8()));
        break;
      case 0x8e: // BINBYTES8
      case 0x96: // BYTEARRAY8
        stack.push(bytes(u64()));
        break;
      case 0x63: { // GLOBAL
        const module = line();
        const name = line();
        stack.push(resolveGlobal(module, name));
        break;
      }
      case 0x93: { // STACK_GLOBAL
        const name = pop();
        const module = pop();
        if (typeof module !== "string" || typeof name !== "string") throw new PickleError("STACK_GLOBAL needs two strings");
        stack.push(resolveGlobal(module, name));
        break;
      }
      case 0x52: { // REDUCE
        const args = pop();
        const callable = pop();
        stack.push(applyGlobal(callable, Array.isArray(args) ? args : []));
        break;
      }
      case 0x81: { // NEWOBJ
        const args = pop();
        const cls = pop();
        stack.push(applyGlobal(cls, Array.isArray(args) ? args : []));
        break;
      }
      case 0x92: { // NEWOBJ_EX
        pop(); // keyword arguments: none of the allow-listed classes needs them
        const args = pop();
        const cls = pop();
        stack.push(applyGlobal(cls, Array.isArray(args) ? args : []));
        break;
      }
      case 0x62: { // BUILD
        const state = pop();
        const target = top();
        if (target instanceof OpaqueObject) target.state = state;
        else if (!(target instanceof Map) && !isTensorRef(target)) {
          throw new PickleError("BUILD (setting object state) on a value that is not an allowed object");
        }
        // OrderedDict state (the state_dict's `_metadata` version table) and tensor hooks are not needed.
        break;
      }
      case 0x51: // BINPERSID
        stack.push(persistent(pop()));
        break;
      case 0x50: // PERSID
        stack.push(persistent(line()));
        break;
      case 0x30: // POP
        if (marks.length > 0 && stack.length === marks[marks.length - 1]) marks.pop();
        else pop();
        break;
      case 0x31: // POP_MARK
        popMark();
        break;
      case 0x32: // DUP
        stack.push(top());
        break;
      case 0x69: { // INST: a class named inline, instantiated with the marked arguments
        const module = line();
        const cls = resolveGlobal(module, line());
        stack.push(applyGlobal(cls, popMark()));
        break;
      }
      case 0x6f: // OBJ
        throw new PickleError("the pickle instantiates a class with OBJ, which plain state dicts never do");
      case 0x82: // EXT1
      case 0x83: // EXT2
      case 0x84: // EXT4
        throw new PickleError("the pickle uses the copyreg extension registry, which plain state dicts never do");
      case 0x97: // NEXT_BUFFER
      case 0x98: // READONLY_BUFFER
        throw new PickleError("the pickle uses out-of-band buffers (protocol 5), which torch checkpoints never do");
      default:
        throw new PickleError(`unknown pickle opcode 0x${opcode.toString(16).padStart(2, "0")} at byte ${pos - 1}`);
    }
  }
}
