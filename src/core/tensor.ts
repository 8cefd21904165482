// A dense tensor as it crosses module boundaries: the same shape as onnxruntime's, without importing it.
// Only `src/onnx/session.ts` converts to and from ORT tensors.

export type DType = 'float32' | 'float16' | 'int64' | 'int32' | 'uint8';

export interface DataOf {
  float32: Float32Array;
  float16: Uint16Array; // raw IEEE half bits
  int64: BigInt64Array;
  int32: Int32Array;
  uint8: Uint8Array;
}

export interface Tensor<T extends DType = DType> {
  readonly type: T;
  readonly dims: readonly number[];
  readonly data: DataOf[T];
}

export type Float32Tensor = Tensor<'float32'>;

export function numel(dims: readonly number[]): number {
  let n = 1;
  for (const d of dims) n *= d;
  return n;
}

export function float32(dims: readonly number[], data?: Float32Array): Float32Tensor {
  const n = numel(dims);
  if (data && data.length !== n) {
    throw new RangeError(`float32 tensor of shape [${dims.join(', ')}] needs ${n} values, got ${data.length}`);
  }
  return { type: 'float32', dims: [...dims], data: data ?? new Float32Array(n) };
}

export function shapeString(dims: readonly number[]): string {
  return `[${dims.join(', ')}]`;
}

/** Max and mean absolute difference, as `cnext parity` reports them. */
export function absDiff(a: ArrayLike<number>, b: ArrayLike<number>): { maxAbs: number; meanAbs: number } {
  if (a.length !== b.length) throw new RangeError(`length mismatch: ${a.length} vs ${b.length}`);
  let max = 0;
  let sum = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i] - b[i]);
    if (!(d <= max)) max = Number.isNaN(d) ? Number.POSITIVE_INFINITY : d;
    sum += Number.isNaN(d) ? Number.POSITIVE_INFINITY : d;
  }
  return { maxAbs: max, meanAbs: a.length ? sum / a.length : 0 };
}

const f16Buf = new DataView(new ArrayBuffer(4));
/** IEEE half bits → number (used by weight readers and tests; hot paths use ORT). */
export function halfToFloat(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const f = h & 0x3ff;
  if (e === 0) return s * f * 2 ** -24;
  if (e === 31) return f ? Number.NaN : s * Number.POSITIVE_INFINITY;
  return s * (1 + f / 1024) * 2 ** (e - 15);
}

/** float32 bits → IEEE half bits, round to nearest even (the bit-level form of floatToHalf, for hot loops). */
export function halfFromF32Bits(x: number): number {
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  let mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0);
  const e = exp - 112; // rebias 127 → 15
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - e;
    let h = mant >> shift;
    const rem = mant & ((1 << shift) - 1);
    const half = 1 << (shift - 1);
    if (rem > half || (rem === half && h & 1)) h++;
    return sign | h;
  }
  let h = (e << 10) | (mant >> 13);
  const rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && h & 1)) h++; // a carry may round up into the exponent (→ inf): correct
  return sign | h;
}

/** number → IEEE half bits, round to nearest even. */
export function floatToHalf(v: number): number {
  f16Buf.setFloat32(0, v);
  return halfFromF32Bits(f16Buf.getUint32(0));
}

export function bf16ToFloat(b: number): number {
  f16Buf.setUint32(0, (b & 0xffff) << 16);
  return f16Buf.getFloat32(0);
}

/** Narrow a tensor returned by a network to float32, or fail loudly. */
export function asFloat32(t: Tensor | undefined, what = 'tensor'): Float32Tensor {
  if (!t) throw new Error(`${what} is missing`);
  if (t.type !== 'float32') throw new Error(`${what} is ${t.type}, expected float32`);
  return t as Float32Tensor;
}
