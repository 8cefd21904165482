// Writes PyTorch zip files the way torch.save does (synthetic weights, tests): STORED entries whose data
// starts 64-byte aligned (padding in the local header's "FB" extra field), zip64 end records, and a
// protocol-2 data.pkl with OrderedDict + _rebuild_tensor_v2 + persistent ids ('storage', torch.XStorage,
// key, 'cpu', numel) memoized like CPython's pickler. Storages are streamed piece by piece.
import fs from 'node:fs';
import zlib from 'node:zlib';
import { withAtomicFile } from '../core/atomic-file.ts';
import { STORAGE_DTYPES } from './unpickler.ts';
import { DTYPE_BYTES, type WeightDType } from './weight-source.ts';

export interface TorchStorageToWrite {
  readonly key: string;
  readonly dtype: WeightDType;
  readonly numel: number;
  /** The storage's little-endian bytes in pieces; together exactly numel × element size. */
  readonly chunks: () => Iterable<Uint8Array>;
}

export interface TorchTensorToWrite {
  readonly name: string;
  /** Key of a storage in the same call (several tensors may share one). */
  readonly storage: string;
  readonly storageOffset: number;
  readonly shape: readonly number[];
  /** In elements, like tensor.stride(). */
  readonly stride: readonly number[];
}

export interface TorchZipWriteOptions {
  /** The archive's top folder: torch ≥ 2 writes `archive`, older versions the file's stem. */
  readonly prefix?: string;
  /** Use zip64 fields for every entry even when small (to test the zip64 path without a 4 GiB file). */
  readonly forceZip64?: boolean;
  /** Tests only: store these bytes as data.pkl instead of the pickled state dict (hostile or broken pickles). */
  readonly dataPkl?: Uint8Array;
}

export function contiguousStride(shape: readonly number[]): number[] {
  const s = new Array<number>(shape.length);
  let acc = 1;
  for (let i = shape.length - 1; i >= 0; i--) { s[i] = acc; acc *= shape[i]; }
  return s;
}

const STORAGE_CLASS: Partial<Record<WeightDType, string>> = Object.fromEntries(
  Object.entries(STORAGE_DTYPES).map(([cls, dt]) => [dt, cls]),
);

/** CPython's protocol-2 pickler, reduced to what a state dict needs. */
class Pickler {
  private readonly parts: Buffer[] = [];
  private memoCount = 0;
  /** Objects CPython would memoize by identity: globals and interned constant strings. */
  private readonly memo = new Map<string, number>();

  op(...bytes: number[]): void { this.parts.push(Buffer.from(bytes)); }

  put(): void {
    const i = this.memoCount++;
    if (i < 256) this.op(0x71, i); // BINPUT
    else { const b = Buffer.alloc(5); b[0] = 0x72; b.writeUInt32LE(i, 1); this.parts.push(b); } // LONG_BINPUT
  }

  private get(i: number): void {
    if (i < 256) this.op(0x68, i); // BINGET
    else { const b = Buffer.alloc(5); b[0] = 0x6a; b.writeUInt32LE(i, 1); this.parts.push(b); } // LONG_BINGET
  }

  /** `memoKey`: reuse an earlier copy (BINGET) like CPython does for the same object. */
  str(s: string, memoKey?: string): void {
    if (memoKey !== undefined && this.memo.has(memoKey)) return this.get(this.memo.get(memoKey) as number);
    const b = Buffer.from(s, 'utf8');
    const h = Buffer.alloc(5);
    h[0] = 0x58; // BINUNICODE
    h.writeUInt32LE(b.length, 1);
    this.parts.push(h, b);
    if (memoKey !== undefined) this.memo.set(memoKey, this.memoCount);
    this.put();
  }

  int(v: number): void {
    if (!Number.isSafeInteger(v)) throw new RangeError(`cannot pickle ${v} as an integer`);
    if (v >= 0 && v < 256) return this.op(0x4b, v); // BININT1
    if (v >= 0 && v < 65536) return this.op(0x4d, v & 0xff, v >> 8); // BININT2
    if (v >= -(2 ** 31) && v < 2 ** 31) { const b = Buffer.alloc(5); b[0] = 0x4a; b.writeInt32LE(v, 1); this.parts.push(b); return; }
    // LONG1: shortest little-endian two's complement
    let x = BigInt(v);
    const out: number[] = [];
    for (;;) {
      out.push(Number(x & 0xffn));
      x >>= 8n;
      const signBit = (out[out.length - 1] & 0x80) !== 0;
      if ((x === 0n && !signBit) || (x === -1n && signBit)) break;
    }
    this.op(0x8a, out.length, ...out);
  }

  global(module: string, name: string): void {
    const key = `global:${module}.${name}`;
    if (this.memo.has(key)) return this.get(this.memo.get(key) as number);
    this.parts.push(Buffer.from(`c${module}\n${name}\n`, 'latin1'));
    this.memo.set(key, this.memoCount);
    this.put();
  }

  /** A tuple of already-emitted items (CPython: TUPLE1-3 for short ones, MARK … TUPLE otherwise). */
  tuple(n: number, emitItems: () => void): void {
    if (n === 0) return this.op(0x29); // EMPTY_TUPLE, not memoized
    if (n > 3) this.op(0x28); // MARK
    emitItems();
    this.op(n > 3 ? 0x74 : 0x84 + n); // TUPLE or TUPLE1..3
    this.put();
  }

  intTuple(v: readonly number[]): void { this.tuple(v.length, () => v.forEach((x) => this.int(x))); }

  /** collections.OrderedDict() */
  orderedDict(): void {
    this.global('collections', 'OrderedDict');
    this.op(0x29, 0x52); // EMPTY_TUPLE REDUCE
    this.put();
  }

  /** Items in batches of 1000 like CPython's _batch_setitems. */
  setItems<T>(items: readonly T[], emit: (item: T) => void): void {
    for (let i = 0; i < items.length; i += 1000) {
      const batch = items.slice(i, i + 1000);
      if (batch.length > 1) this.op(0x28); // MARK
      batch.forEach(emit);
      this.op(batch.length > 1 ? 0x75 : 0x73); // SETITEMS / SETITEM
    }
  }

  bytes(): Buffer { return Buffer.concat(this.parts); }
}

/** data.pkl for `OrderedDict(name → tensor)` with torch's `_metadata` ({module: {'version': 1}}). */
export function pickleStateDict(tensors: readonly TorchTensorToWrite[], storages: ReadonlyMap<string, TorchStorageToWrite>): Buffer {
  const p = new Pickler();
  p.op(0x80, 2); // PROTO 2
  p.orderedDict();
  p.setItems(tensors, (t) => {
    const s = storages.get(t.storage);
    if (!s) throw new RangeError(`tensor ${t.name}: no storage ${t.storage}`);
    const cls = STORAGE_CLASS[s.dtype];
    if (!cls) throw new RangeError(`tensor ${t.name}: no torch storage class for ${s.dtype}`);
    p.str(t.name);
    p.global('torch._utils', '_rebuild_tensor_v2');
    p.tuple(6, () => {
      p.tuple(5, () => { // persistent id
        p.str('storage', 'storage');
        p.global('torch', cls);
        p.str(s.key, `key:${s.key}`);
        p.str('cpu', 'cpu');
        p.int(s.numel);
      });
      p.op(0x51); // BINPERSID
      p.int(t.storageOffset);
      p.intTuple(t.shape);
      p.intTuple(t.stride);
      p.op(0x89); // NEWFALSE: requires_grad
      p.orderedDict(); // backward_hooks
    });
    p.op(0x52); // REDUCE
    p.put();
  });
  // state: {'_metadata': OrderedDict(module → {'version': 1})}, then BUILD
  const modules = new Set<string>(['']);
  for (const t of tensors) {
    const parts = t.name.split('.');
    for (let i = 1; i < parts.length; i++) modules.add(parts.slice(0, i).join('.'));
  }
  p.op(0x7d); // EMPTY_DICT
  p.put();
  p.str('_metadata');
  p.orderedDict();
  p.setItems([...modules], (m) => {
    p.str(m);
    p.op(0x7d);
    p.put();
    p.str('version', 'version');
    p.int(1);
    p.op(0x73); // SETITEM
  });
  p.op(0x73, 0x62, 0x2e); // SETITEM BUILD STOP
  return p.bytes();
}

interface CentralRecord { name: Buffer; crc: number; size: number; offset: number }

const U32_MAX = 0xffffffff;

/**
 * Write a torch zip: `<prefix>/data.pkl`, `<prefix>/byteorder`, `<prefix>/data/<key>` per storage, `<prefix>/version`.
 * Storages are written in the given order; written to a temporary file, then renamed.
 */
export function writeTorchZip(
  file: string,
  storages: readonly TorchStorageToWrite[],
  tensors: readonly TorchTensorToWrite[],
  options: TorchZipWriteOptions = {},
): void {
  const prefix = options.prefix ?? 'archive';
  const force = options.forceZip64 ?? false;
  const byKey = new Map(storages.map((s) => [s.key, s]));
  if (byKey.size !== storages.length) throw new RangeError('duplicate storage keys');
  const pkl = options.dataPkl ?? pickleStateDict(tensors, byKey);

  withAtomicFile(file, (fd) => {
    let pos = 0;
    const write = (b: Uint8Array) => { fs.writeSync(fd, b, 0, b.byteLength, pos); pos += b.byteLength; };
    const central: CentralRecord[] = [];

    const addEntry = (name: string, size: number, chunks: Iterable<Uint8Array>) => {
      const nameBuf = Buffer.from(`${prefix}/${name}`, 'utf8');
      const offset = pos;
      const zip64 = force || size >= U32_MAX;
      // Local header: crc patched after the data; zip64 sizes in extra id 1; "FB" padding to a 64-byte boundary.
      const z64 = zip64 ? 20 : 0;
      const unpadded = offset + 30 + nameBuf.length + z64 + 4;
      const pad = (64 - (unpadded % 64)) % 64;
      const h = Buffer.alloc(30 + nameBuf.length + z64 + 4 + pad, 0x5a); // 'Z' fill, as torch pads
      h.writeUInt32LE(0x04034b50, 0);
      h.writeUInt16LE(zip64 ? 45 : 20, 4);
      h.writeUInt16LE(0x0800, 6); // UTF-8 names
      h.writeUInt16LE(0, 8); // STORED
      h.writeUInt32LE(0, 10); // DOS time, date
      h.writeUInt32LE(0, 14); // crc, patched below
      h.writeUInt32LE(zip64 ? U32_MAX : size, 18);
      h.writeUInt32LE(zip64 ? U32_MAX : size, 22);
      h.writeUInt16LE(nameBuf.length, 26);
      h.writeUInt16LE(z64 + 4 + pad, 28);
      nameBuf.copy(h, 30);
      let e = 30 + nameBuf.length;
      if (zip64) {
        h.writeUInt16LE(1, e); h.writeUInt16LE(16, e + 2);
        h.writeBigUInt64LE(BigInt(size), e + 4); h.writeBigUInt64LE(BigInt(size), e + 12);
        e += 20;
      }
      h.write('FB', e, 'latin1');
      h.writeUInt16LE(pad, e + 2);
      write(h);
      let crc = 0;
      let written = 0;
      for (const c of chunks) {
        written += c.byteLength;
        if (written > size) break;
        crc = zlib.crc32(c, crc);
        write(c);
      }
      if (written !== size) throw new RangeError(`entry ${name}: ${written} bytes for ${size} expected`);
      const crcBuf = Buffer.alloc(4);
      crcBuf.writeUInt32LE(crc >>> 0);
      fs.writeSync(fd, crcBuf, 0, 4, offset + 14);
      central.push({ name: nameBuf, crc: crc >>> 0, size, offset });
    };

    addEntry('data.pkl', pkl.length, [pkl]);
    addEntry('byteorder', 6, [Buffer.from('little')]);
    for (const s of storages) addEntry(`data/${s.key}`, s.numel * DTYPE_BYTES[s.dtype], s.chunks());
    addEntry('version', 2, [Buffer.from('3\n')]);

    const cdStart = pos;
    for (const r of central) {
      const bigSize = force || r.size >= U32_MAX;
      const bigOff = force || r.offset >= U32_MAX;
      const z = (bigSize ? 16 : 0) + (bigOff ? 8 : 0);
      const c = Buffer.alloc(46 + r.name.length + (z ? 4 + z : 0));
      c.writeUInt32LE(0x02014b50, 0);
      c.writeUInt16LE(z ? 45 : 20, 4);
      c.writeUInt16LE(z ? 45 : 20, 6);
      c.writeUInt16LE(0x0800, 8);
      c.writeUInt16LE(0, 10);
      c.writeUInt32LE(r.crc, 16);
      c.writeUInt32LE(bigSize ? U32_MAX : r.size, 20);
      c.writeUInt32LE(bigSize ? U32_MAX : r.size, 24);
      c.writeUInt16LE(r.name.length, 28);
      c.writeUInt16LE(z ? 4 + z : 0, 30);
      c.writeUInt32LE(bigOff ? U32_MAX : r.offset, 42);
      r.name.copy(c, 46);
      if (z) {
        let q = 46 + r.name.length;
        c.writeUInt16LE(1, q); c.writeUInt16LE(z, q + 2); q += 4;
        if (bigSize) { c.writeBigUInt64LE(BigInt(r.size), q); c.writeBigUInt64LE(BigInt(r.size), q + 8); q += 16; }
        if (bigOff) c.writeBigUInt64LE(BigInt(r.offset), q);
      }
      write(c);
    }
    const cdSize = pos - cdStart;
    // zip64 end record + locator (torch always writes them), then the classic end record.
    const z64Pos = pos;
    const end = Buffer.alloc(56 + 20 + 22);
    end.writeUInt32LE(0x06064b50, 0);
    end.writeBigUInt64LE(44n, 4);
    end.writeUInt16LE(45, 12);
    end.writeUInt16LE(45, 14);
    end.writeBigUInt64LE(BigInt(central.length), 24);
    end.writeBigUInt64LE(BigInt(central.length), 32);
    end.writeBigUInt64LE(BigInt(cdSize), 40);
    end.writeBigUInt64LE(BigInt(cdStart), 48);
    end.writeUInt32LE(0x07064b50, 56);
    end.writeBigUInt64LE(BigInt(z64Pos), 64);
    end.writeUInt32LE(1, 72);
    end.writeUInt32LE(0x06054b50, 76);
    end.writeUInt16LE(Math.min(central.length, 0xffff), 84);
    end.writeUInt16LE(Math.min(central.length, 0xffff), 86);
    end.writeUInt32LE(force ? U32_MAX : Math.min(cdSize, U32_MAX), 88);
    end.writeUInt32LE(force ? U32_MAX : Math.min(cdStart, U32_MAX), 92);
    write(end);
  });
}
