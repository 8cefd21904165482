// Test helpers: decode a WeightEntry's bytes and lay them out as the logical tensor (C order).
import { bf16ToFloat, halfToFloat } from '../../src/core/tensor.ts';
import { readEntryBytes } from '../../src/weights/safetensors.ts';
import type { WeightEntry } from '../../src/weights/weight-source.ts';

export function decode(entry: WeightEntry, bytes: Uint8Array): number[] {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out: number[] = [];
  switch (entry.dtype) {
    case 'F32': for (let i = 0; i < bytes.length; i += 4) out.push(dv.getFloat32(i, true)); break;
    case 'F16': for (let i = 0; i < bytes.length; i += 2) out.push(halfToFloat(dv.getUint16(i, true))); break;
    case 'BF16': for (let i = 0; i < bytes.length; i += 2) out.push(bf16ToFloat(dv.getUint16(i, true))); break;
    case 'I64': for (let i = 0; i < bytes.length; i += 8) out.push(Number(dv.getBigInt64(i, true))); break;
    default: throw new Error(`test helper: dtype ${entry.dtype}`);
  }
  return out;
}

/** Logical values in C order: the stored tensor transposed by `layout.perm` when there is one. */
export function logicalValues(entry: WeightEntry): number[] {
  const stored = decode(entry, readEntryBytes(entry));
  if (!entry.layout) return stored;
  const { storedShape, perm } = entry.layout;
  const storedStride: number[] = [];
  let acc = 1;
  for (let i = storedShape.length - 1; i >= 0; i--) { storedStride[i] = acc; acc *= storedShape[i]; }
  const shape = entry.shape;
  const idx = shape.map(() => 0);
  const out: number[] = [];
  for (let k = 0; k < stored.length; k++) {
    let off = 0;
    for (let i = 0; i < shape.length; i++) off += idx[i] * storedStride[perm[i]];
    out.push(stored[off]);
    for (let i = shape.length - 1; i >= 0; i--) { if (++idx[i] < shape[i]) break; idx[i] = 0; }
  }
  return out;
}

/** Values of a strided view of a flat storage, computed directly from torch's (offset, size, stride). */
export function strided(storage: readonly number[], offset: number, size: readonly number[], stride: readonly number[]): number[] {
  const out: number[] = [];
  const n = size.reduce((a, b) => a * b, 1);
  const idx = size.map(() => 0);
  for (let k = 0; k < n; k++) {
    out.push(storage[offset + idx.reduce((s, x, i) => s + x * stride[i], 0)]);
    for (let i = size.length - 1; i >= 0; i--) { if (++idx[i] < size[i]) break; idx[i] = 0; }
  }
  return out;
}

export const range = (n: number, f: (i: number) => number = (i) => i) => Array.from({ length: n }, (_, i) => f(i));
