// PyTorch `.bin`/`.pt` files (torch.save, zip serialization): a zip whose entries are all STORED, with
// `<prefix>/data.pkl` (the pickled state dict) and one entry `<prefix>/data/<key>` per storage, each starting
// 64-byte aligned (torch pads the local header's extra field). The prefix is the file's stem (torch < 2) or
// `archive`. We read the central directory (zip64 too), unpickle data.pkl with the whitelisting unpickler
// and return where every tensor's bytes are — nothing else is read. Zip format: PKWARE APPNOTE.TXT 6.3.
import zlib from 'node:zlib';
import { CnextError } from '../core/errors.ts';
import { bufferSource, withFileSource, type ByteSource } from './byte-source.ts';
import {
  PickleDict, TorchTensor, quoteUntrusted, unpickle, type PickleValue,
} from './unpickler.ts';
import { DTYPE_BYTES, WeightSource, type WeightEntry } from './weight-source.ts';

export { bufferSource, type ByteSource };

export interface ZipEntry {
  readonly name: string;
  readonly method: number;
  readonly flags: number;
  readonly crc32: number;
  readonly compressedSize: number;
  readonly size: number;
  readonly localHeaderOffset: number;
}

/** The zip's central directory lists less than this (a real SVD UNet .bin has ~700 entries, < 100 kB). */
const MAX_CENTRAL_DIRECTORY_BYTES = 64 * 1024 * 1024;
/** data.pkl of a real UNet is ~100 kB; anything this big is not a state dict. */
const MAX_PICKLE_BYTES = 64 * 1024 * 1024;
const EOCD_SIG = 0x06054b50;
const ZIP64_LOCATOR_SIG = 0x07064b50;
const ZIP64_EOCD_SIG = 0x06064b50;
const CD_SIG = 0x02014b50;
const LOCAL_SIG = 0x04034b50;
const UTF8 = new TextDecoder('utf-8');

export class TorchZipReader {
  readonly entries: ReadonlyMap<string, ZipEntry>;
  private readonly src: ByteSource;
  private readonly file: string;

  constructor(src: ByteSource, file: string) {
    this.src = src;
    this.file = file;
    this.entries = this.readCentralDirectory();
  }

  malformed(why: string): CnextError {
    return new CnextError('WEIGHTS_MALFORMED', `${this.file} is not a valid PyTorch zip file: ${why}`);
  }

  private bytes(pos: number, len: number, what: string): DataView {
    if (!Number.isSafeInteger(pos) || pos < 0 || len < 0 || pos + len > this.src.size) {
      throw this.malformed(`${what} at byte ${pos} (+${len}) lies outside the file (${this.src.size} bytes; truncated download?)`);
    }
    const b = this.src.read(pos, len);
    if (b.length !== len) throw this.malformed(`${what} at byte ${pos} could not be read in full`);
    return new DataView(b.buffer, b.byteOffset, b.byteLength);
  }

  private u64(v: DataView, at: number, what: string): number {
    const x = v.getBigUint64(at, true);
    if (x > BigInt(Number.MAX_SAFE_INTEGER)) throw this.malformed(`${what} ${x} is too large`);
    return Number(x);
  }

  private readCentralDirectory(): Map<string, ZipEntry> {
    const size = this.src.size;
    if (size < 22) throw this.malformed(`file is ${size} bytes, too short for a zip`);
    // End of central directory: the last 22 bytes, unless a comment (≤ 65535 bytes) follows it.
    const tailLen = Math.min(size, 22 + 0xffff);
    const tail = this.bytes(size - tailLen, tailLen, 'end of file');
    let eocd = -1;
    for (let i = tailLen - 22; i >= 0; i--) {
      if (tail.getUint32(i, true) === EOCD_SIG && i + 22 + tail.getUint16(i + 20, true) <= tailLen) { eocd = i; break; }
    }
    if (eocd < 0) throw this.malformed('no end-of-central-directory record (not a zip, or truncated)');
    const eocdPos = size - tailLen + eocd;
    if (tail.getUint16(eocd + 4, true) !== 0 || tail.getUint16(eocd + 6, true) !== 0) throw this.malformed('multi-disk zips are not supported');
    let count = tail.getUint16(eocd + 10, true);
    let cdSize = tail.getUint32(eocd + 12, true);
    let cdOffset = tail.getUint32(eocd + 16, true);
    // zip64: torch always writes the zip64 end record and its locator just before the classic one.
    if (eocdPos >= 20 && this.bytes(eocdPos - 20, 4, 'zip64 locator').getUint32(0, true) === ZIP64_LOCATOR_SIG) {
      const loc = this.bytes(eocdPos - 20, 20, 'zip64 locator');
      const recPos = this.u64(loc, 8, 'zip64 record offset');
      const rec = this.bytes(recPos, 56, 'zip64 end record');
      if (rec.getUint32(0, true) !== ZIP64_EOCD_SIG) throw this.malformed(`no zip64 end record at byte ${recPos}`);
      count = this.u64(rec, 32, 'entry count');
      cdSize = this.u64(rec, 40, 'central directory size');
      cdOffset = this.u64(rec, 48, 'central directory offset');
    } else if (count === 0xffff || cdSize === 0xffffffff || cdOffset === 0xffffffff) {
      throw this.malformed('zip64 fields without a zip64 end record');
    }
    if (cdSize > MAX_CENTRAL_DIRECTORY_BYTES) throw this.malformed(`central directory of ${cdSize} bytes is implausibly large`);
    if (count * 46 > cdSize) throw this.malformed(`${count} entries cannot fit in a central directory of ${cdSize} bytes`);
    const cd = this.bytes(cdOffset, cdSize, 'central directory');
    const entries = new Map<string, ZipEntry>();
    let p = 0;
    for (let i = 0; i < count; i++) {
      if (p + 46 > cdSize || cd.getUint32(p, true) !== CD_SIG) throw this.malformed(`central directory entry ${i} is corrupt`);
      const nameLen = cd.getUint16(p + 28, true);
      const extraLen = cd.getUint16(p + 30, true);
      const commentLen = cd.getUint16(p + 32, true);
      if (p + 46 + nameLen + extraLen + commentLen > cdSize) throw this.malformed(`central directory entry ${i} overruns the directory`);
      const name = UTF8.decode(new Uint8Array(cd.buffer, cd.byteOffset + p + 46, nameLen));
      let size32: number = cd.getUint32(p + 24, true);
      let csize32: number = cd.getUint32(p + 20, true);
      let lho: number = cd.getUint32(p + 42, true);
      // zip64 extended information (id 1): only the fields that are 0xFFFFFFFF in the fixed part, in this order.
      let e = p + 46 + nameLen;
      const eEnd = e + extraLen;
      while (e + 4 <= eEnd) {
        const id = cd.getUint16(e, true);
        const len = cd.getUint16(e + 2, true);
        if (e + 4 + len > eEnd) throw this.malformed(`entry ${quoteUntrusted(name)} has a corrupt extra field`);
        if (id === 1) {
          let q = e + 4;
          const take = (what: string): number => {
            if (q + 8 > e + 4 + len) throw this.malformed(`entry ${quoteUntrusted(name)} has a short zip64 field`);
            const v = this.u64(cd, q, what);
            q += 8;
            return v;
          };
          if (size32 === 0xffffffff) size32 = take('entry size');
          if (csize32 === 0xffffffff) csize32 = take('entry size');
          if (lho === 0xffffffff) lho = take('entry offset');
        }
        e += 4 + len;
      }
      entries.set(name, {
        name,
        flags: cd.getUint16(p + 8, true),
        method: cd.getUint16(p + 10, true),
        crc32: cd.getUint32(p + 16, true),
        compressedSize: csize32,
        size: size32,
        localHeaderOffset: lho,
      });
      p += 46 + nameLen + extraLen + commentLen;
    }
    return entries;
  }

  /** Absolute offset of the entry's bytes, from its *local* header (whose extra field differs from the directory's). */
  dataOffset(entry: ZipEntry): number {
    const what = `entry ${quoteUntrusted(entry.name)}`;
    if (entry.flags & 1) throw this.malformed(`${what} is encrypted`);
    if (entry.method !== 0) {
      throw new CnextError(
        'WEIGHTS_UNSUPPORTED',
        `${this.file}: ${what} is compressed (zip method ${entry.method}); PyTorch files store entries uncompressed, so tensors can be read in place`,
        { solutions: ['Re-save the file with torch.save, or unzip it and zip it again without compression (zip -0).'] },
      );
    }
    if (entry.compressedSize !== entry.size) throw this.malformed(`${what} is stored but its sizes differ`);
    const h = this.bytes(entry.localHeaderOffset, 30, `local header of ${what}`);
    if (h.getUint32(0, true) !== LOCAL_SIG) throw this.malformed(`no local header for ${what} at byte ${entry.localHeaderOffset}`);
    const nameLen = h.getUint16(26, true);
    const extraLen = h.getUint16(28, true);
    const name = this.bytes(entry.localHeaderOffset + 30, nameLen, `local header of ${what}`);
    if (UTF8.decode(name) !== entry.name) throw this.malformed(`local header of ${what} names another file`);
    const start = entry.localHeaderOffset + 30 + nameLen + extraLen;
    if (start + entry.size > this.src.size) {
      throw this.malformed(`${what} ends at byte ${start + entry.size}, past the end of the file (${this.src.size} bytes; truncated download?)`);
    }
    return start;
  }

  /** Read a small entry whole, checking its CRC. */
  readSmall(entry: ZipEntry, max: number): Uint8Array {
    if (entry.size > max) throw this.malformed(`entry ${quoteUntrusted(entry.name)} of ${entry.size} bytes is implausibly large`);
    const at = this.dataOffset(entry);
    const v = this.bytes(at, entry.size, `entry ${quoteUntrusted(entry.name)}`);
    const b = new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
    if (zlib.crc32(b) >>> 0 !== entry.crc32 >>> 0) throw this.malformed(`entry ${quoteUntrusted(entry.name)} fails its CRC check (corrupt file)`);
    return b;
  }
}

/** Strides (in elements) of a C-contiguous tensor of this shape. */
function contiguousStrides(shape: readonly number[]): number[] {
  const s = new Array<number>(shape.length);
  let acc = 1;
  for (let i = shape.length - 1; i >= 0; i--) { s[i] = acc; acc *= shape[i]; }
  return s;
}

export interface TorchZipContents {
  readonly entries: WeightEntry[];
  /** The archive's top folder (`archive` or the file stem at save time). */
  readonly prefix: string;
}

/** Parse a torch zip from any byte source; `file` is the canonical path recorded in each entry. */
export function readTorchZipFrom(src: ByteSource, file: string): TorchZipContents {
  const zip = new TorchZipReader(src, file);
  const pkls = [...zip.entries.keys()].filter((n) => /^[^/]+\/data\.pkl$/.test(n));
  if (pkls.length !== 1) {
    throw zip.malformed(pkls.length ? `${pkls.length} data.pkl entries` : 'no <folder>/data.pkl entry (a zip, but not one written by torch.save)');
  }
  const prefix = pkls[0].slice(0, -'/data.pkl'.length);
  const byteorder = zip.entries.get(`${prefix}/byteorder`);
  if (byteorder) {
    const order = new TextDecoder('latin1').decode(zip.readSmall(byteorder, 16)).trim();
    if (order !== 'little') throw new CnextError('WEIGHTS_UNSUPPORTED', `${file}: saved on a ${quoteUntrusted(order)}-endian machine; only little-endian files are supported`);
  }
  const root = unpickle(zip.readSmall(zip.entries.get(pkls[0]) as ZipEntry, MAX_PICKLE_BYTES), `${file} (${prefix}/data.pkl)`);
  const tensors: Array<[string, TorchTensor]> = [];
  collectTensors(root, '', tensors, new Set(), (why) => zip.malformed(why));
  const names = new Set<string>();
  for (const [n] of tensors) {
    if (names.has(n)) throw zip.malformed(`two tensors are named ${quoteUntrusted(n)} (a nested dict repeats a dotted key)`);
    names.add(n);
  }

  const storageStart = new Map<string, number>();
  const entries: WeightEntry[] = [];
  for (const [name, t] of tensors) entries.push(tensorEntry(zip, file, prefix, name, t, storageStart));
  return { entries, prefix };
}

/** State dict → (name, tensor). Nested dicts (e.g. a checkpoint's "state_dict") give dotted names; other values are skipped. */
function collectTensors(
  v: PickleValue, prefix: string, out: Array<[string, TorchTensor]>, seen: Set<PickleDict>, err: (why: string) => CnextError,
): void {
  if (!(v instanceof PickleDict)) {
    throw err(prefix ? `${quoteUntrusted(prefix)} is not a dict` : 'data.pkl does not hold a dict (state dict) at the top level');
  }
  if (seen.has(v) || seen.size > 64) throw err('the state dict contains itself or is nested too deeply');
  seen.add(v);
  for (const [k, x] of v.map) {
    if (typeof k !== 'string') {
      if (x instanceof TorchTensor) throw err('a tensor is stored under a key that is not a string');
      continue;
    }
    if (x instanceof TorchTensor) out.push([prefix + k, x]);
    else if (x instanceof PickleDict) collectTensors(x, `${prefix}${k}.`, out, seen, err);
  }
  seen.delete(v);
}

function tensorEntry(
  zip: TorchZipReader, file: string, prefix: string, name: string, t: TorchTensor, storageStart: Map<string, number>,
): WeightEntry {
  const what = `tensor ${quoteUntrusted(name)}`;
  const { storage, size, stride, storageOffset } = t;
  const elem = DTYPE_BYTES[storage.dtype];
  let start = storageStart.get(storage.key);
  if (start === undefined) {
    const entry = zip.entries.get(`${prefix}/data/${storage.key}`);
    if (!entry) throw zip.malformed(`${what} points at storage ${quoteUntrusted(storage.key)}, which has no data/${quoteUntrusted(storage.key)} entry`);
    if (entry.size !== storage.numel * elem) {
      throw zip.malformed(`storage ${quoteUntrusted(storage.key)} should hold ${storage.numel} × ${elem} bytes but its entry has ${entry.size}`);
    }
    start = zip.dataOffset(entry);
    storageStart.set(storage.key, start);
  }
  if (size.some((d) => d < 0) || stride.some((s) => s < 0) || storageOffset < 0) {
    throw zip.malformed(`${what} has a negative size, stride or offset`);
  }
  let numel = 1;
  for (const d of size) numel *= d;
  if (!Number.isSafeInteger(numel * elem)) throw zip.malformed(`${what} of shape [${size.join(', ')}] is implausibly large`);
  let last = storageOffset; // index of the last element
  for (let i = 0; i < size.length; i++) if (numel > 0) last += (size[i] - 1) * stride[i];
  if ((numel > 0 && last >= storage.numel) || storageOffset > storage.numel) {
    throw zip.malformed(`${what} (offset ${storageOffset}, shape [${size.join(', ')}], stride [${stride.join(', ')}]) reaches past its storage of ${storage.numel} elements`);
  }
  const base = { name, dtype: storage.dtype, shape: [...size], file, offset: start + storageOffset * elem, length: numel * elem };
  if (numel <= 1) return base;
  // Dims of size 1 may have any stride. The others, sorted by decreasing stride, must be contiguous:
  // then the bytes are a C-contiguous tensor of the permuted shape (e.g. a transposed Linear weight).
  const big = size.map((_, i) => i).filter((i) => size[i] !== 1);
  const sorted = [...big].sort((a, b) => stride[b] - stride[a] || a - b);
  let expect = 1;
  for (let j = sorted.length - 1; j >= 0; j--) {
    if (stride[sorted[j]] !== expect) {
      throw new CnextError(
        'WEIGHTS_UNSUPPORTED',
        `${file}: ${what} has strides [${stride.join(', ')}] for shape [${size.join(', ')}], which are not a permutation of contiguous strides (an expanded or sliced view)`,
        { solutions: ['Re-save the state dict with contiguous tensors: {k: v.contiguous() for k, v in sd.items()}.'] },
      );
    }
    expect *= size[sorted[j]];
  }
  let k = 0;
  const order = size.map((d, i) => (d === 1 ? i : sorted[k++])); // stored dim j holds logical dim order[j]
  if (order.every((d, j) => d === j)) return base;
  const storedShape = order.map((d) => size[d]);
  const perm = new Array<number>(order.length);
  order.forEach((d, j) => { perm[d] = j; });
  // Sanity: the stored tensor's contiguous strides, permuted back, are the logical strides (size-1 dims aside).
  const storedStrides = contiguousStrides(storedShape);
  if (size.some((d, i) => d !== 1 && storedStrides[perm[i]] !== stride[i])) throw zip.malformed(`${what}: internal stride check failed`);
  return { ...base, layout: { storedShape, perm } };
}

/** Read the tensor index of a torch zip file (opens, reads the directory and data.pkl, closes). */
export function readTorchZip(file: string): TorchZipContents {
  return withFileSource(file, (src, real) => readTorchZipFrom(src, real));
}

export function openTorchZip(file: string): WeightSource {
  return new WeightSource(readTorchZip(file).entries, file);
}
