// Float tensors at the boundary of fp16 graphs: the tensor types a network may take or give, and the
// conversions between them (for the few small tensors that cross in the other format; the large ones — pose
// frames, ControlNeXt features — are produced in the graph's own format and never converted).
import { float32, halfFromF32Bits, halfToFloat, type Float32Tensor, type Tensor } from '../core/tensor.ts';

export type FloatType = 'float32' | 'float16';
export type Float16Tensor = Tensor<'float16'>;
export type FloatTensor = Float32Tensor | Float16Tensor;
/** The data of a float tensor: float32 values, or raw IEEE half bits. */
export type FloatData = Float32Array | Uint16Array;

/** A zero tensor of the given type (or one over `data`). */
export function floatTensor(type: FloatType, dims: readonly number[], data?: FloatData): FloatTensor {
  if (type === 'float32') return float32(dims, data as Float32Array | undefined);
  const n = dims.reduce((a, b) => a * b, 1);
  if (data && data.length !== n) throw new RangeError(`float16 tensor of shape [${dims.join(', ')}] needs ${n} values, got ${data.length}`);
  return { type: 'float16', dims: [...dims], data: (data as Uint16Array | undefined) ?? new Uint16Array(n) };
}

export function newFloatData(type: FloatType, n: number): FloatData {
  return type === 'float32' ? new Float32Array(n) : new Uint16Array(n);
}

/** Round to float16 (nearest even). */
export function toFloat16(t: FloatTensor): Float16Tensor {
  if (t.type === 'float16') return t;
  const bits = new Uint32Array(t.data.buffer, t.data.byteOffset, t.data.length);
  const out = new Uint16Array(t.data.length);
  for (let i = 0; i < out.length; i++) out[i] = halfFromF32Bits(bits[i]);
  return { type: 'float16', dims: [...t.dims], data: out };
}

/** Widen to float32 (exact). */
export function toFloat32(t: FloatTensor): Float32Tensor {
  if (t.type === 'float32') return t;
  const lut = HALF_TO_FLOAT;
  return float32(t.dims, Float32Array.from(t.data, (h) => lut[h]));
}

export function toFloatType(t: FloatTensor, type: FloatType): FloatTensor {
  return type === 'float32' ? toFloat32(t) : toFloat16(t);
}

/** Narrow a network's output to the float type it was built to give, or fail loudly. */
export function asFloat(t: Tensor | undefined, type: FloatType, what = 'tensor'): FloatTensor {
  if (!t) throw new Error(`${what} is missing`);
  if (t.type !== type) throw new Error(`${what} is ${t.type}, expected ${type}`);
  if (type === 'float16' && !(t.data instanceof Uint16Array)) {
    // some runtimes hand float16 back as a Float16Array view: keep the bits, not the values
    const d = t.data as unknown as ArrayBufferView;
    return { type: 'float16', dims: t.dims, data: new Uint16Array(d.buffer, d.byteOffset, d.byteLength / 2) };
  }
  return t as FloatTensor;
}

/** Every half bit pattern → its float32 value. */
const HALF_TO_FLOAT = Float32Array.from({ length: 65536 }, (_, h) => halfToFloat(h));
