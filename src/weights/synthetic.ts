// Synthetic weights: random tensors in the real on-disk layout (safetensors or torch zip), for tests and
// benchmarks of any size. Deterministic: a tensor's values depend only on (seed, name, shape, init), not on
// the file format, the order of the spec, or the chunking, so the same spec written both ways holds the
// same numbers. Written tensor by tensor in 1 M-element pieces: a 3 GB UNet never sits in memory.
import { halfFromF32Bits, halfToFloat } from '../core/tensor.ts';
import { writeSafetensorsStream, type TensorStreamToWrite } from './safetensors.ts';
import {
  contiguousStride, writeTorchZip, type TorchStorageToWrite, type TorchTensorToWrite, type TorchZipWriteOptions,
} from './torch-zip-writer.ts';
import type { WeightSource } from './weight-source.ts';

export type SyntheticDType = 'F32' | 'F16' | 'BF16' | 'I64';

export interface SyntheticTensorSpec {
  readonly name: string;
  readonly shape: readonly number[];
  /** Default F32 (or the options' dtype). I64 tensors hold arange over the last dim (like CLIP's position_ids). */
  readonly dtype?: SyntheticDType;
  /** Override the default init (see syntheticInit). */
  readonly mean?: number;
  readonly std?: number;
}

export type StateDictSpec = readonly SyntheticTensorSpec[];

export interface SyntheticOptions {
  readonly seed?: number;
  /** Store every float tensor in this dtype, whatever the spec says (I64 tensors stay I64). */
  readonly dtype?: 'F32' | 'F16' | 'BF16';
}

/** Elements per generated piece (4 MB of fp32). */
const CHUNK = 1 << 20;

/**
 * Default init, loosely like torch's: ≥2-D weights N(0, 1/fan_in) with fan_in = product of all but the first
 * dim; biases N(0, 0.02²); other 1-D `weight`s (norm scales) N(1, 0.02²); anything else N(0, 1).
 */
export function syntheticInit(t: SyntheticTensorSpec): { mean: number; std: number } {
  let mean = 0;
  let std = 1;
  if (t.shape.length >= 2) {
    const fanIn = t.shape.slice(1).reduce((a, b) => a * b, 1);
    std = 1 / Math.sqrt(Math.max(fanIn, 1));
  } else if (/(^|\.)bias$/.test(t.name)) {
    std = 0.02;
  } else if (t.shape.length === 1 && /(^|\.)weight$/.test(t.name)) {
    mean = 1;
    std = 0.02;
  }
  return { mean: t.mean ?? mean, std: t.std ?? std };
}

/** splitmix32 step: a well-mixed 32-bit value from a 32-bit counter. */
function splitmix32(x: number): number {
  x = (x + 0x9e3779b9) | 0;
  let z = x;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
  return (z ^ (z >>> 16)) >>> 0;
}

/** Normal variates from xoshiro128** + the polar method, seeded by (seed, name). */
export class GaussianStream {
  private s0: number; private s1: number; private s2: number; private s3: number;
  private spare = Number.NaN;

  constructor(seed: number, name: string) {
    let h = 0x811c9dc5 ^ (seed | 0) ^ Math.floor(seed / 2 ** 32); // FNV-1a over the name, keyed by the seed
    for (let i = 0; i < name.length; i++) h = Math.imul(h ^ name.charCodeAt(i), 0x01000193);
    this.s0 = splitmix32(h);
    this.s1 = splitmix32(this.s0 ^ 0x6a09e667);
    this.s2 = splitmix32(this.s1 ^ 0xbb67ae85);
    this.s3 = splitmix32(this.s2 ^ 0x3c6ef372) | 1; // never all zero
  }

  /** Uniform 32-bit integer (xoshiro128**). */
  nextU32(): number {
    const result = Math.imul(rotl(Math.imul(this.s1, 5), 7), 9) >>> 0;
    const t = this.s1 << 9;
    this.s2 ^= this.s0; this.s3 ^= this.s1; this.s1 ^= this.s2; this.s0 ^= this.s3;
    this.s2 ^= t;
    this.s3 = rotl(this.s3, 11);
    return result;
  }

  /** Fill `out` with N(mean, std²): Marsaglia's polar method (no trigonometry; ~1.8× Box–Muller's speed here). */
  fill(out: Float32Array, mean: number, std: number): void {
    let i = 0;
    if (!Number.isNaN(this.spare) && out.length) { out[i++] = mean + std * this.spare; this.spare = Number.NaN; }
    for (; i < out.length; i += 2) {
      let u: number;
      let v: number;
      let s: number;
      do {
        u = this.nextU32() * 4.656612873077393e-10 - 1; // [-1, 1)
        v = this.nextU32() * 4.656612873077393e-10 - 1;
        s = u * u + v * v;
      } while (s >= 1 || s === 0);
      const m = Math.sqrt((-2 * Math.log(s)) / s);
      out[i] = mean + std * u * m;
      if (i + 1 < out.length) out[i + 1] = mean + std * v * m;
      else this.spare = v * m;
    }
  }
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}

function numelOf(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) {
    if (!Number.isSafeInteger(d) || d < 0) throw new RangeError(`invalid dim ${d} in shape [${shape.join(', ')}]`);
    n *= d;
  }
  return n;
}

function dtypeOf(t: SyntheticTensorSpec, opts: SyntheticOptions): SyntheticDType {
  const d = t.dtype ?? 'F32';
  return d === 'I64' ? d : (opts.dtype ?? d);
}

/**
 * The tensor's bytes in pieces, in C order of `shape` (for a transposed torch tensor, pass the stored shape
 * with the logical spec's name and init: the values are a property of the storage).
 */
export function* syntheticChunks(t: SyntheticTensorSpec, shape: readonly number[], dtype: SyntheticDType, seed: number): Generator<Uint8Array> {
  const n = numelOf(shape);
  if (dtype === 'I64') {
    const last = shape.length ? shape[shape.length - 1] : 1;
    for (let start = 0; start < n; start += CHUNK) {
      const m = Math.min(CHUNK, n - start);
      const out = new BigInt64Array(m);
      for (let i = 0; i < m; i++) out[i] = BigInt((start + i) % Math.max(last, 1));
      yield new Uint8Array(out.buffer);
    }
    return;
  }
  const { mean, std } = syntheticInit(t);
  const g = new GaussianStream(seed, t.name);
  const f = new Float32Array(Math.min(CHUNK, n));
  for (let start = 0; start < n; start += CHUNK) {
    const m = Math.min(CHUNK, n - start);
    const v = m === f.length ? f : f.subarray(0, m);
    g.fill(v, mean, std);
    if (dtype === 'F32') { yield new Uint8Array(v.buffer, 0, m * 4).slice(); continue; }
    const h = new Uint16Array(m);
    const bits = new Uint32Array(v.buffer, 0, m);
    if (dtype === 'F16') {
      for (let i = 0; i < m; i++) h[i] = halfFromF32Bits(bits[i]);
    } else {
      for (let i = 0; i < m; i++) { const x = bits[i]; h[i] = (x + 0x7fff + ((x >>> 16) & 1)) >>> 16; } // round to nearest even
    }
    yield new Uint8Array(h.buffer);
  }
}

/** All values of one synthetic tensor as float32 (tests; small tensors). */
export function syntheticValues(t: SyntheticTensorSpec, seed: number, dtype: SyntheticDType = t.dtype ?? 'F32'): Float32Array {
  const out = new Float32Array(numelOf(t.shape));
  let at = 0;
  for (const c of syntheticChunks(t, t.shape, dtype, seed)) {
    if (dtype === 'F32') out.set(new Float32Array(c.buffer, c.byteOffset, c.byteLength / 4), at);
    else if (dtype === 'I64') new BigInt64Array(c.buffer, c.byteOffset, c.byteLength / 8).forEach((x, i) => { out[at + i] = Number(x); });
    else {
      const h = new Uint16Array(c.buffer, c.byteOffset, c.byteLength / 2);
      const f = new Float32Array(1);
      const b = new Uint32Array(f.buffer);
      h.forEach((x, i) => {
        if (dtype === 'BF16') { b[0] = x << 16; out[at + i] = f[0]; } else out[at + i] = halfToFloat(x);
      });
    }
    at += c.byteLength / (dtype === 'F32' ? 4 : dtype === 'I64' ? 8 : 2);
  }
  return out;
}

function checkSpec(spec: StateDictSpec): void {
  const seen = new Set<string>();
  for (const t of spec) {
    if (seen.has(t.name)) throw new RangeError(`tensor ${t.name} is listed twice in the spec`);
    seen.add(t.name);
    numelOf(t.shape);
  }
}

/** Write `spec` as a safetensors file, tensor by tensor. */
export function writeSyntheticSafetensors(file: string, spec: StateDictSpec, opts: SyntheticOptions = {}): void {
  checkSpec(spec);
  const seed = opts.seed ?? 0;
  const list = spec.map((t): [string, TensorStreamToWrite] => {
    const dtype = dtypeOf(t, opts);
    return [t.name, { dtype, shape: t.shape, chunks: () => syntheticChunks(t, t.shape, dtype, seed) }];
  });
  writeSafetensorsStream(file, list, { format: 'pt', synthetic_seed: String(seed) });
}

export interface SyntheticTorchZipOptions extends SyntheticOptions, TorchZipWriteOptions {
  /**
   * Store these tensors non-contiguously, as torch does for `w.t()`: the storage holds a C-contiguous tensor of
   * the permuted shape `storedShape[perm[i]] = shape[i]`, and the state dict records the transposed strides.
   * Values are then generated in storage order.
   */
  readonly transposed?: Readonly<Record<string, readonly number[]>>;
  /** Extra tensors that are views into another tensor's storage: contiguous `shape` starting at element `offset`. */
  readonly views?: ReadonlyArray<{ readonly name: string; readonly of: string; readonly offset: number; readonly shape: readonly number[] }>;
}

/** Write `spec` as a PyTorch zip (what torch.save(state_dict) writes), one storage per tensor. */
export function writeSyntheticTorchZip(file: string, spec: StateDictSpec, opts: SyntheticTorchZipOptions = {}): void {
  checkSpec(spec);
  const seed = opts.seed ?? 0;
  const storages: TorchStorageToWrite[] = [];
  const tensors: TorchTensorToWrite[] = [];
  const keyOf = new Map<string, string>();
  spec.forEach((t, i) => {
    const key = String(i);
    const dtype = dtypeOf(t, opts);
    const perm = opts.transposed?.[t.name];
    let stored: readonly number[] = t.shape;
    let stride = contiguousStride(t.shape);
    if (perm) {
      if (perm.length !== t.shape.length || [...perm].sort((a, b) => a - b).some((p, j) => p !== j)) {
        throw new RangeError(`transposed ${t.name}: [${perm.join(', ')}] is not a permutation of ${t.shape.length} dims`);
      }
      const s = new Array<number>(perm.length);
      perm.forEach((p, j) => { s[p] = t.shape[j]; });
      stored = s;
      const storedStride = contiguousStride(stored);
      stride = perm.map((p) => storedStride[p]);
    }
    storages.push({ key, dtype, numel: numelOf(t.shape), chunks: () => syntheticChunks(t, stored, dtype, seed) });
    tensors.push({ name: t.name, storage: key, storageOffset: 0, shape: t.shape, stride });
    keyOf.set(t.name, key);
  });
  for (const v of opts.views ?? []) {
    const key = keyOf.get(v.of);
    if (key === undefined) throw new RangeError(`view ${v.name}: no tensor ${v.of}`);
    tensors.push({ name: v.name, storage: key, storageOffset: v.offset, shape: v.shape, stride: contiguousStride(v.shape) });
  }
  writeTorchZip(file, storages, tensors, { prefix: opts.prefix, forceZip64: opts.forceZip64 });
}

/** The spec (names, shapes, dtypes) of an existing weight source, for a synthetic stand-in (marks every name used). */
export function specOf(source: WeightSource): SyntheticTensorSpec[] {
  return source.names().map((name) => {
    const e = source.get(name);
    const dtype: SyntheticDType = e.dtype === 'F16' || e.dtype === 'BF16' || e.dtype === 'I64' ? e.dtype : 'F32';
    return { name, shape: e.shape, dtype };
  });
}
