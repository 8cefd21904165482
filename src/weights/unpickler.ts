// A whitelisting reader for the `data.pkl` that torch.save writes: a data parser, never an interpreter.
// It knows the pickle opcodes a state dict needs (protocol 2, plus a few harmless protocol 3/4 ones) and
// exactly these globals: collections.OrderedDict, torch._utils._rebuild_tensor_v2 / _rebuild_parameter and
// torch.*Storage. Anything else (posix.system, builtins.eval, INST/OBJ/NEWOBJ, …) is refused by name.
// "Calling" a whitelisted global only builds a plain record below; nothing is ever looked up or executed.
// Opcode reference: CPython Lib/pickletools.py.
import { CnextError } from '../core/errors.ts';
import type { WeightDType } from './weight-source.ts';

/** torch.*Storage class name → element type. */
export const STORAGE_DTYPES: Readonly<Record<string, WeightDType>> = {
  FloatStorage: 'F32', HalfStorage: 'F16', BFloat16Storage: 'BF16', DoubleStorage: 'F64',
  LongStorage: 'I64', IntStorage: 'I32', ShortStorage: 'I16', CharStorage: 'I8', ByteStorage: 'U8', BoolStorage: 'BOOL',
};

/** A global the pickle named (only whitelisted ones are ever created). */
export class PickleGlobal {
  constructor(readonly module: string, readonly name: string) {}
  get qualified(): string { return `${this.module}.${this.name}`; }
}
export class PickleTuple {
  constructor(readonly items: readonly PickleValue[]) {}
}
export class PickleList {
  readonly items: PickleValue[] = [];
}
/** dict or collections.OrderedDict; `state` is what BUILD set (OrderedDict's `_metadata`). */
export class PickleDict {
  readonly map = new Map<PickleValue, PickleValue>();
  state: PickleValue = null;
  constructor(readonly ordered: boolean) {}
}
/** A persistent id ('storage', torch.XStorage, key, location, numel) → the zip entry `data/<key>`. */
export class TorchStorage {
  constructor(readonly dtype: WeightDType, readonly key: string, readonly location: string, readonly numel: number) {}
}
/** What torch._utils._rebuild_tensor_v2 would rebuild: a strided view of a storage. */
export class TorchTensor {
  constructor(
    readonly storage: TorchStorage,
    readonly storageOffset: number,
    readonly size: readonly number[],
    readonly stride: readonly number[],
  ) {}
}

export type PickleValue =
  | null | boolean | number | bigint | string | Uint8Array
  | PickleGlobal | PickleTuple | PickleList | PickleDict | TorchStorage | TorchTensor;

const OPCODE_NAMES: Readonly<Record<number, string>> = {
  0x28: 'MARK', 0x2e: 'STOP', 0x30: 'POP', 0x31: 'POP_MARK', 0x32: 'DUP', 0x46: 'FLOAT', 0x49: 'INT', 0x4a: 'BININT',
  0x4b: 'BININT1', 0x4c: 'LONG', 0x4d: 'BININT2', 0x4e: 'NONE', 0x50: 'PERSID', 0x51: 'BINPERSID', 0x52: 'REDUCE',
  0x53: 'STRING', 0x54: 'BINSTRING', 0x55: 'SHORT_BINSTRING', 0x56: 'UNICODE', 0x58: 'BINUNICODE', 0x61: 'APPEND',
  0x62: 'BUILD', 0x63: 'GLOBAL', 0x64: 'DICT', 0x7d: 'EMPTY_DICT', 0x65: 'APPENDS', 0x67: 'GET', 0x68: 'BINGET',
  0x69: 'INST', 0x6a: 'LONG_BINGET', 0x6c: 'LIST', 0x5d: 'EMPTY_LIST', 0x6f: 'OBJ', 0x70: 'PUT', 0x71: 'BINPUT',
  0x72: 'LONG_BINPUT', 0x73: 'SETITEM', 0x74: 'TUPLE', 0x29: 'EMPTY_TUPLE', 0x75: 'SETITEMS', 0x47: 'BINFLOAT',
  0x80: 'PROTO', 0x81: 'NEWOBJ', 0x82: 'EXT1', 0x83: 'EXT2', 0x84: 'EXT4', 0x85: 'TUPLE1', 0x86: 'TUPLE2',
  0x87: 'TUPLE3', 0x88: 'NEWTRUE', 0x89: 'NEWFALSE', 0x8a: 'LONG1', 0x8b: 'LONG4', 0x42: 'BINBYTES',
  0x43: 'SHORT_BINBYTES', 0x8c: 'SHORT_BINUNICODE', 0x8d: 'BINUNICODE8', 0x8e: 'BINBYTES8', 0x8f: 'EMPTY_SET',
  0x90: 'ADDITEMS', 0x91: 'FROZENSET', 0x92: 'NEWOBJ_EX', 0x93: 'STACK_GLOBAL', 0x94: 'MEMOIZE', 0x95: 'FRAME',
  0x96: 'BYTEARRAY8', 0x97: 'NEXT_BUFFER', 0x98: 'READONLY_BUFFER',
};

const ALLOWED_GLOBALS = new Set([
  'collections.OrderedDict',
  'torch._utils._rebuild_tensor_v2',
  'torch._utils._rebuild_parameter',
  ...Object.keys(STORAGE_DTYPES).map((s) => `torch.${s}`),
]);

/** Untrusted text for a one-line message: control characters escaped, long strings cut. */
export function quoteUntrusted(s: string, max = 80): string {
  const cut = s.length > max ? `${s.slice(0, max)}…` : s;
  return JSON.stringify(cut);
}

const UTF8 = new TextDecoder('utf-8');
const LATIN1 = new TextDecoder('latin1');
const MARK = Symbol('mark');
type StackItem = PickleValue | typeof MARK;

/**
 * Parse `data` (the bytes of data.pkl) into plain records. `where` names the file for messages.
 * Throws CnextError WEIGHTS_UNSAFE_PICKLE for anything outside the state-dict vocabulary and
 * WEIGHTS_MALFORMED for broken bytes.
 */
export function unpickle(data: Uint8Array, where: string): PickleValue {
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const stack: StackItem[] = [];
  const marks: number[] = [];
  const memo = new Map<number, PickleValue>();
  const storages = new Map<string, TorchStorage>();
  let pos = 0;
  let opPos = 0;

  const malformed = (why: string) =>
    new CnextError('WEIGHTS_MALFORMED', `${where}: malformed pickle at byte ${opPos}: ${why}`);
  const unsafe = (what: string) =>
    new CnextError(
      'WEIGHTS_UNSAFE_PICKLE',
      `${where}: refusing ${what} at byte ${opPos}: only PyTorch state-dict objects are allowed (nothing was executed)`,
    );
  const need = (n: number) => {
    if (n < 0 || pos + n > data.length) throw malformed(`needs ${n} bytes, ${data.length - pos} left (truncated?)`);
  };
  const u8 = () => { need(1); return data[pos++]; };
  const u16 = () => { need(2); const v = view.getUint16(pos, true); pos += 2; return v; };
  const u32 = () => { need(4); const v = view.getUint32(pos, true); pos += 4; return v; };
  const bytes = (n: number) => { need(n); const b = data.subarray(pos, pos + n); pos += n; return b; };
  const utf8 = (n: number) => UTF8.decode(bytes(n));
  const line = () => {
    const end = data.indexOf(0x0a, pos);
    if (end < 0 || end - pos > 256) throw malformed('unterminated GLOBAL name');
    const s = LATIN1.decode(data.subarray(pos, end));
    pos = end + 1;
    return s;
  };
  const pop = (): PickleValue => {
    if (stack.length === 0 || (marks.length && stack.length <= marks[marks.length - 1])) throw malformed('stack underflow');
    return stack.pop() as PickleValue;
  };
  const top = (): PickleValue => {
    if (stack.length === 0 || (marks.length && stack.length <= marks[marks.length - 1])) throw malformed('stack underflow');
    return stack[stack.length - 1] as PickleValue;
  };
  const popMark = (): PickleValue[] => {
    const m = marks.pop();
    if (m === undefined) throw malformed('no MARK on the stack');
    return stack.splice(m) as PickleValue[];
  };
  const global = (module: string, name: string): PickleGlobal => {
    const q = `${module}.${name}`;
    if (!ALLOWED_GLOBALS.has(q)) throw unsafe(`global ${quoteUntrusted(q)}`);
    return new PickleGlobal(module, name);
  };
  const int = (v: PickleValue, what: string): number => {
    if (typeof v === 'number' && Number.isSafeInteger(v)) return v;
    throw malformed(`${what} is not an integer`);
  };
  const intTuple = (v: PickleValue, what: string): number[] => {
    if (!(v instanceof PickleTuple)) throw malformed(`${what} is not a tuple`);
    return v.items.map((x) => int(x, what));
  };

  const reduce = (fn: PickleValue, args: PickleValue): PickleValue => {
    if (!(fn instanceof PickleGlobal)) throw unsafe('REDUCE of a value that is not a whitelisted global');
    if (!(args instanceof PickleTuple)) throw malformed(`${fn.qualified} called with arguments that are not a tuple`);
    const a = args.items;
    switch (fn.qualified) {
      case 'collections.OrderedDict':
        if (a.length !== 0) throw unsafe('collections.OrderedDict with arguments');
        return new PickleDict(true);
      case 'torch._utils._rebuild_tensor_v2': {
        // (storage, storage_offset, size, stride, requires_grad, backward_hooks[, metadata])
        if (a.length !== 6 && a.length !== 7) throw malformed(`_rebuild_tensor_v2 takes 6 or 7 arguments, got ${a.length}`);
        const [storage, offset, size, stride] = a;
        if (!(storage instanceof TorchStorage)) throw malformed('_rebuild_tensor_v2: first argument is not a storage');
        const sz = intTuple(size, 'tensor size');
        const st = intTuple(stride, 'tensor stride');
        if (sz.length !== st.length) throw malformed(`tensor size has ${sz.length} dims but stride ${st.length}`);
        return new TorchTensor(storage, int(offset, 'storage offset'), sz, st);
      }
      case 'torch._utils._rebuild_parameter':
        if (a.length !== 3 || !(a[0] instanceof TorchTensor)) throw malformed('_rebuild_parameter expects (tensor, requires_grad, hooks)');
        return a[0];
      default:
        throw unsafe(`call of ${fn.qualified}`); // storage classes are only valid inside a persistent id
    }
  };

  const persistentLoad = (pid: PickleValue): TorchStorage => {
    if (!(pid instanceof PickleTuple) || pid.items.length !== 5 || pid.items[0] !== 'storage') {
      throw unsafe('a persistent id that is not a torch storage');
    }
    const [, cls, key, location, numel] = pid.items;
    if (!(cls instanceof PickleGlobal) || cls.module !== 'torch' || !(cls.name in STORAGE_DTYPES)) {
      throw unsafe('a persistent id whose storage type is not a torch.*Storage');
    }
    if (typeof key !== 'string' || typeof location !== 'string') throw malformed('storage key or location is not a string');
    const n = int(numel, 'storage size');
    if (n < 0) throw malformed(`storage ${quoteUntrusted(key)} has negative size ${n}`);
    const dtype = STORAGE_DTYPES[cls.name];
    const seen = storages.get(key);
    if (seen) {
      if (seen.dtype !== dtype || seen.numel !== n) throw malformed(`storage ${quoteUntrusted(key)} is declared twice with different types`);
      return seen;
    }
    const s = new TorchStorage(dtype, key, location, n);
    storages.set(key, s);
    return s;
  };

  for (;;) {
    opPos = pos;
    const op = u8();
    switch (op) {
      case 0x80: { const v = u8(); if (v > 5) throw malformed(`unknown pickle protocol ${v}`); break; } // PROTO
      case 0x95: bytes(8); break; // FRAME: length of the next frame; frames are only a read-ahead hint
      case 0x2e: { // STOP
        if (marks.length || stack.length !== 1) throw malformed(`STOP with ${stack.length} values on the stack`);
        return stack[0] as PickleValue;
      }
      case 0x28: marks.push(stack.length); break; // MARK
      case 0x30: pop(); break; // POP
      case 0x31: popMark(); break; // POP_MARK
      case 0x32: stack.push(top()); break; // DUP
      case 0x4e: stack.push(null); break; // NONE
      case 0x88: stack.push(true); break; // NEWTRUE
      case 0x89: stack.push(false); break; // NEWFALSE
      case 0x4a: { need(4); stack.push(view.getInt32(pos, true)); pos += 4; break; } // BININT
      case 0x4b: stack.push(u8()); break; // BININT1
      case 0x4d: stack.push(u16()); break; // BININT2
      case 0x8a: { // LONG1: little-endian two's complement of n bytes
        const n = u8();
        if (n > 8) throw malformed(`integer of ${n} bytes is too large`);
        const b = bytes(n);
        let v = 0n;
        for (let i = n - 1; i >= 0; i--) v = (v << 8n) | BigInt(b[i]);
        if (n > 0 && b[n - 1] & 0x80) v -= 1n << BigInt(8 * n);
        stack.push(v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v);
        break;
      }
      case 0x47: { need(8); stack.push(view.getFloat64(pos, false)); pos += 8; break; } // BINFLOAT
      case 0x58: stack.push(utf8(u32())); break; // BINUNICODE
      case 0x8c: stack.push(utf8(u8())); break; // SHORT_BINUNICODE
      case 0x42: stack.push(bytes(u32()).slice()); break; // BINBYTES
      case 0x43: stack.push(bytes(u8()).slice()); break; // SHORT_BINBYTES
      case 0x29: stack.push(new PickleTuple([])); break; // EMPTY_TUPLE
      case 0x74: stack.push(new PickleTuple(popMark())); break; // TUPLE
      case 0x85: { const a = pop(); stack.push(new PickleTuple([a])); break; } // TUPLE1
      case 0x86: { const b = pop(); const a = pop(); stack.push(new PickleTuple([a, b])); break; } // TUPLE2
      case 0x87: { const c = pop(); const b = pop(); const a = pop(); stack.push(new PickleTuple([a, b, c])); break; } // TUPLE3
      case 0x5d: stack.push(new PickleList()); break; // EMPTY_LIST
      case 0x6c: { const l = new PickleList(); l.items.push(...popMark()); stack.push(l); break; } // LIST
      case 0x61: { const v = pop(); const l = top(); if (!(l instanceof PickleList)) throw unsafe('APPEND to a non-list'); l.items.push(v); break; }
      case 0x65: { // APPENDS
        const items = popMark();
        const l = top();
        if (!(l instanceof PickleList)) throw unsafe('APPENDS to a non-list');
        for (const v of items) l.items.push(v);
        break;
      }
      case 0x7d: stack.push(new PickleDict(false)); break; // EMPTY_DICT
      case 0x64: { stack.push(setItems(new PickleDict(false), popMark())); break; } // DICT
      case 0x73: { const v = pop(); const k = pop(); setItems(top(), [k, v]); break; } // SETITEM
      case 0x75: { const items = popMark(); setItems(top(), items); break; } // SETITEMS
      case 0x71: memo.set(u8(), top()); break; // BINPUT
      case 0x72: memo.set(u32(), top()); break; // LONG_BINPUT
      case 0x94: memo.set(memo.size, top()); break; // MEMOIZE
      case 0x68: case 0x6a: { // BINGET, LONG_BINGET
        const i = op === 0x68 ? u8() : u32();
        if (!memo.has(i)) throw malformed(`memo entry ${i} was never stored`);
        stack.push(memo.get(i) as PickleValue);
        break;
      }
      case 0x63: { const module = line(); const name = line(); stack.push(global(module, name)); break; } // GLOBAL
      case 0x93: { // STACK_GLOBAL
        const name = pop(); const module = pop();
        if (typeof module !== 'string' || typeof name !== 'string') throw malformed('STACK_GLOBAL needs two strings');
        stack.push(global(module, name));
        break;
      }
      case 0x52: { const args = pop(); const fn = pop(); stack.push(reduce(fn, args)); break; } // REDUCE
      case 0x51: stack.push(persistentLoad(pop())); break; // BINPERSID
      case 0x62: { // BUILD: only OrderedDict's instance dict (torch keeps `_metadata` there)
        const state = pop();
        const obj = top();
        if (!(obj instanceof PickleDict) || !obj.ordered || !(state instanceof PickleDict)) throw unsafe('BUILD on anything but an OrderedDict');
        obj.state = state;
        break;
      }
      default: {
        const name = OPCODE_NAMES[op];
        throw name
          ? unsafe(`opcode ${name}`)
          : malformed(`unknown opcode 0x${op.toString(16).padStart(2, '0')}`);
      }
    }
  }

  function setItems(d: StackItem, items: PickleValue[]): PickleDict {
    if (!(d instanceof PickleDict)) throw unsafe('SETITEM(S) on a non-dict');
    if (items.length % 2) throw malformed('odd number of items for SETITEMS');
    for (let i = 0; i < items.length; i += 2) d.map.set(items[i], items[i + 1]);
    return d;
  }
}
