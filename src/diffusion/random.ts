// Seeded Gaussian noise: same seed → same initial latents and augmentation noise → same video.
//
// Counter-based, so a value depends only on (seed, stream, index), never on how many values were drawn before
// or in which order: Philox4x32-10 (Salmon et al., "Parallel random numbers: as easy as 1, 2, 3", SC 2011;
// Random123's reference constants) keyed by the seed, counter = (block index lo, block index hi, stream, 0).
// Each 128-bit block gives two standard normal values by Box-Muller on two 53-bit uniforms.
// Streams used by the pipeline (fixed, so adding a draw elsewhere never shifts these):
//   NOISE_STREAM.latents        initial latents [1,F,C,h,w], C order (value i = element i)
//   NOISE_STREAM.imageNoiseAug  noise added to the reference image before VAE encode [1,3,H,W], C order
// Math.log/cos/sin are V8's fdlibm ports, so results are the same on every platform for a given Node build.
import { invalidParameterError } from '../core/is.ts';
import { float32, numel, type Float32Tensor } from '../core/tensor.ts';

export const NOISE_STREAM = { latents: 0, imageNoiseAug: 1 } as const;

const M0 = 0xd2511f53;
const M1 = 0xcd9e8d57;
const W0 = 0x9e3779b9;
const W1 = 0xbb67ae85;

/** High 32 bits of the 64-bit product of two uint32 (exact, via 16-bit halves). */
function mulhi(a: number, b: number): number {
  const al = a & 0xffff;
  const ah = a >>> 16;
  const bl = b & 0xffff;
  const bh = b >>> 16;
  const lh = al * bh;
  const hl = ah * bl;
  const mid = ((al * bl) >>> 16) + (lh & 0xffff) + (hl & 0xffff);
  return (ah * bh + (lh >>> 16) + (hl >>> 16) + Math.floor(mid / 65536)) >>> 0;
}

/** Philox4x32-10 of counter (c0..c3) under key (k0, k1); writes 4 uint32 into `out`. */
export function philox4x32(c0: number, c1: number, c2: number, c3: number, k0: number, k1: number, out: Uint32Array): void {
  let x0 = c0 >>> 0;
  let x1 = c1 >>> 0;
  let x2 = c2 >>> 0;
  let x3 = c3 >>> 0;
  let key0 = k0 >>> 0;
  let key1 = k1 >>> 0;
  for (let r = 0; r < 10; r++) {
    if (r > 0) {
      key0 = (key0 + W0) >>> 0;
      key1 = (key1 + W1) >>> 0;
    }
    const hi0 = mulhi(M0, x0);
    const lo0 = Math.imul(M0, x0) >>> 0;
    const hi1 = mulhi(M1, x2);
    const lo1 = Math.imul(M1, x2) >>> 0;
    x0 = (hi1 ^ x1 ^ key0) >>> 0;
    x1 = lo1;
    x2 = (hi0 ^ x3 ^ key1) >>> 0;
    x3 = lo0;
  }
  out[0] = x0;
  out[1] = x1;
  out[2] = x2;
  out[3] = x3;
}

const TWO_POW_26 = 67108864;
const TWO_POW_32 = 4294967296;
const TWO_POW_53 = 9007199254740992;

export function checkSeed(seed: number): void {
  if (!Number.isSafeInteger(seed) || seed < 0) throw invalidParameterError('seed', 'integer between 0 and 2^53 − 1', seed);
}

/**
 * `count` standard normal float32 values of `stream` starting at value index `offset`
 * (value i comes from block ⌊i/2⌋, half i mod 2), so any slice can be drawn independently.
 */
export function gaussian(seed: number, stream: number, count: number, offset = 0): Float32Array {
  checkSeed(seed);
  if (!Number.isInteger(stream) || stream < 0 || stream >= TWO_POW_32) throw invalidParameterError('stream', 'uint32', stream);
  const out = new Float32Array(count);
  const k0 = seed % TWO_POW_32;
  const k1 = Math.floor(seed / TWO_POW_32);
  const block = new Uint32Array(4);
  let lastBlock = -1;
  let z0 = 0;
  let z1 = 0;
  for (let i = 0; i < count; i++) {
    const v = offset + i;
    const b = Math.floor(v / 2);
    if (b !== lastBlock) {
      philox4x32(b % TWO_POW_32, Math.floor(b / TWO_POW_32), stream, 0, k0, k1, block);
      // u1 ∈ (0, 1) (never 0: log is finite), u2 ∈ [0, 1)
      const u1 = ((block[0] >>> 5) * TWO_POW_26 + (block[1] >>> 6) + 0.5) / TWO_POW_53;
      const u2 = ((block[2] >>> 5) * TWO_POW_26 + (block[3] >>> 6)) / TWO_POW_53;
      const r = Math.sqrt(-2 * Math.log(u1));
      z0 = r * Math.cos(2 * Math.PI * u2);
      z1 = r * Math.sin(2 * Math.PI * u2);
      lastBlock = b;
    }
    out[i] = v % 2 === 0 ? z0 : z1;
  }
  return out;
}

/** A float32 tensor of standard normal values (C order) from one stream. */
export function gaussianTensor(seed: number, stream: number, dims: readonly number[]): Float32Tensor {
  return float32(dims, gaussian(seed, stream, numel(dims)));
}
