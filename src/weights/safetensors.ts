// safetensors: 8-byte little-endian header length N, N bytes of JSON, then raw little-endian data.
// Spec: https://github.com/huggingface/safetensors (format section). We read only the header.
import fs from 'node:fs';
import { withAtomicFile } from '../core/atomic-file.ts';
import { CnextError } from '../core/errors.ts';
import { bf16ToFloat, halfToFloat, type Tensor } from '../core/tensor.ts';
import { withFileSource, type ByteSource } from './byte-source.ts';
import { DTYPE_BYTES, WeightSource, type WeightDType, type WeightEntry } from './weight-source.ts';

/** A header larger than this is not a weight file (the real ones are < 1 MB). */
const MAX_HEADER_BYTES = 100 * 1024 * 1024;

export interface SafetensorsHeader {
  readonly entries: WeightEntry[];
  readonly metadata: Record<string, string>;
  readonly dataStart: number;
}

function malformed(file: string, why: string): CnextError {
  // `why` may quote the file's own text (names, JSON.parse's excerpt): keep the message on one line.
  const safe = why.replace(/[\u0000-\u001f\u007f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
  return new CnextError('WEIGHTS_MALFORMED', `${file} is not a valid safetensors file: ${safe}`);
}

/** Parse the header of `file` and check every tensor lies inside the file. Reads no tensor data. */
export function readSafetensorsHeader(file: string): SafetensorsHeader {
  return withFileSource(file, (src, real) => readSafetensorsHeaderFrom(src, real, file));
}

/** The same from any byte source; `real` is recorded in each entry, `file` names it in messages. */
export function readSafetensorsHeaderFrom(src: ByteSource, real: string, file = real): SafetensorsHeader {
  const size = src.size;
  if (size < 8) throw malformed(file, `file is ${size} bytes, shorter than the 8-byte header length`);
  const lenBuf = src.read(0, 8);
  if (lenBuf.length !== 8) throw malformed(file, 'truncated header');
  const n = new DataView(lenBuf.buffer, lenBuf.byteOffset, 8).getBigUint64(0, true);
  if (n > BigInt(size - 8)) throw malformed(file, `header length ${n} exceeds the file size ${size}`);
  if (n > BigInt(MAX_HEADER_BYTES)) throw malformed(file, `header length ${n} is implausibly large (> ${MAX_HEADER_BYTES})`);
  const headerLen = Number(n);
  const headerBuf = Buffer.from(src.read(8, headerLen));
  if (headerBuf.length !== headerLen) throw malformed(file, 'truncated header');
  return parseHeader(file, real, headerBuf, 8 + headerLen, size);
}

function parseHeader(file: string, real: string, headerBuf: Buffer, dataStart: number, size: number): SafetensorsHeader {
  let json: unknown;
  try {
    json = JSON.parse(headerBuf.toString('utf8'));
  } catch (e) {
    throw malformed(file, `header is not JSON (${(e as Error).message})`);
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw malformed(file, 'header is not a JSON object');
  const entries: WeightEntry[] = [];
  let metadata: Record<string, string> = {};
  for (const [name, v] of Object.entries(json as Record<string, unknown>)) {
    if (name === '__metadata__') {
      if (typeof v === 'object' && v !== null) metadata = v as Record<string, string>;
      continue;
    }
    if (typeof v !== 'object' || v === null) throw malformed(file, `entry ${name} is not an object`);
    const { dtype, shape, data_offsets } = v as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    if (typeof dtype !== 'string' || !(dtype in DTYPE_BYTES)) throw malformed(file, `tensor ${name} has unsupported dtype ${String(dtype)}`);
    if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
      throw malformed(file, `tensor ${name} has an invalid shape ${JSON.stringify(shape)}`);
    }
    if (
      !Array.isArray(data_offsets) || data_offsets.length !== 2 ||
      !data_offsets.every((d) => Number.isSafeInteger(d) && d >= 0) || data_offsets[1] < data_offsets[0]
    ) {
      throw malformed(file, `tensor ${name} has invalid data_offsets ${JSON.stringify(data_offsets)}`);
    }
    const [begin, end] = data_offsets as [number, number];
    const elems = (shape as number[]).reduce((a, b) => a * b, 1);
    const bytes = elems * DTYPE_BYTES[dtype as WeightDType];
    if (end - begin !== bytes) {
      throw malformed(file, `tensor ${name} of shape [${shape.join(', ')}] ${dtype} needs ${bytes} bytes but data_offsets span ${end - begin}`);
    }
    if (dataStart + end > size) {
      throw malformed(file, `tensor ${name} ends at byte ${dataStart + end}, past the end of the file (${size} bytes; truncated download?)`);
    }
    entries.push({ name, dtype: dtype as WeightDType, shape: shape as number[], file: real, offset: dataStart + begin, length: bytes });
  }
  return { entries, metadata, dataStart };
}

export function openSafetensors(file: string): WeightSource {
  return new WeightSource(readSafetensorsHeader(file).entries, file);
}

/** Read one tensor's bytes (tests, fixtures, small tensors). Network weights are never read this way. */
export function readEntryBytes(entry: WeightEntry): Buffer {
  const fd = fs.openSync(entry.file, 'r');
  try {
    const buf = Buffer.alloc(entry.length);
    const got = fs.readSync(fd, buf, 0, entry.length, entry.offset);
    if (got !== entry.length) throw new CnextError('WEIGHTS_MALFORMED', `${entry.file}: tensor ${entry.name} is truncated`);
    return buf;
  } finally {
    fs.closeSync(fd);
  }
}

/** Read one small tensor into memory as a typed Tensor (fixtures, tests). Floats come back as float32. */
export function readTensor(entry: WeightEntry): Tensor {
  if (entry.layout) throw new CnextError('WEIGHTS_UNSUPPORTED', `${entry.name}: reading non-contiguous tensors is not supported here`);
  const buf = readEntryBytes(entry);
  const n = entry.length / DTYPE_BYTES[entry.dtype];
  const dims = entry.shape;
  switch (entry.dtype) {
    case 'F32': return { type: 'float32', dims, data: new Float32Array(buf.buffer, buf.byteOffset, n).slice() };
    case 'F64': return { type: 'float32', dims, data: Float32Array.from(new Float64Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.length))) };
    case 'F16': { const h = new Uint16Array(buf.buffer, buf.byteOffset, n); return { type: 'float32', dims, data: Float32Array.from(h, halfToFloat) }; }
    case 'BF16': { const h = new Uint16Array(buf.buffer, buf.byteOffset, n); return { type: 'float32', dims, data: Float32Array.from(h, bf16ToFloat) }; }
    case 'I64': return { type: 'int64', dims, data: new BigInt64Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.length)) };
    case 'I32': return { type: 'int32', dims, data: new Int32Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.length)) };
    case 'U8': case 'BOOL': return { type: 'uint8', dims, data: new Uint8Array(buf) };
    default: throw new CnextError('WEIGHTS_UNSUPPORTED', `${entry.name}: dtype ${entry.dtype} cannot be read into memory`);
  }
}

export interface TensorToWrite {
  readonly dtype: WeightDType;
  readonly shape: readonly number[];
  /** Raw little-endian bytes, exactly product(shape) × element size. */
  readonly data: Uint8Array;
}

/**
 * Write a safetensors file. Tensors are written in the given order, so callers can produce odd offsets on
 * purpose (tests). Written to `file.tmp` then renamed, so a reader never sees half a file.
 */
export function writeSafetensors(
  file: string,
  tensors: ReadonlyMap<string, TensorToWrite> | Record<string, TensorToWrite>,
  metadata?: Record<string, string>,
): void {
  const list: Array<[string, TensorToWrite]> = tensors instanceof Map ? [...tensors.entries()] : Object.entries(tensors);
  writeSafetensorsStream(file, list.map(([name, t]) => [name, { dtype: t.dtype, shape: t.shape, chunks: () => [t.data] }] as const), metadata);
}

export interface TensorStreamToWrite {
  readonly dtype: WeightDType;
  readonly shape: readonly number[];
  /** The tensor's little-endian bytes in pieces; together exactly product(shape) × element size. */
  readonly chunks: () => Iterable<Uint8Array>;
}

/**
 * Like writeSafetensors, but tensor by tensor and piece by piece, so a multi-GB file (a full-size synthetic UNet)
 * never sits in memory. Same layout: the header is computed first from dtypes and shapes alone.
 */
export function writeSafetensorsStream(
  file: string,
  tensors: ReadonlyArray<readonly [string, TensorStreamToWrite]>,
  metadata?: Record<string, string>,
): void {
  const header: Record<string, unknown> = {};
  if (metadata) header.__metadata__ = metadata;
  let off = 0;
  const sizes: number[] = [];
  for (const [name, t] of tensors) {
    if (name in header) throw new RangeError(`tensor ${name} is listed twice`);
    const bytes = t.shape.reduce((a, b) => a * b, 1) * DTYPE_BYTES[t.dtype];
    header[name] = { dtype: t.dtype, shape: t.shape, data_offsets: [off, off + bytes] };
    sizes.push(bytes);
    off += bytes;
  }
  const raw = Buffer.from(JSON.stringify(header), 'utf8');
  const headerBytes = Buffer.concat([raw, Buffer.alloc((8 - (raw.length % 8)) % 8, 0x20)]);
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(headerBytes.length));
  withAtomicFile(file, (fd) => {
    fs.writeSync(fd, len);
    fs.writeSync(fd, headerBytes);
    tensors.forEach(([name, t], i) => {
      let written = 0;
      for (const c of t.chunks()) {
        written += c.byteLength;
        if (written > sizes[i]) break;
        fs.writeSync(fd, c);
      }
      if (written !== sizes[i]) throw new RangeError(`tensor ${name}: ${written} bytes for ${sizes[i]} expected`);
    });
  });
}
