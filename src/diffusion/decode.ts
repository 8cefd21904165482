// Latents → frames (fixtures README §5.8 step 8): z = latents·(1/scaling_factor) (a multiplication by the float32
// reciprocal), decoded in chunks of `chunk` frames, each chunk decoded as its own video (temporal layers only see
// the chunk; the last chunk may be shorter), then frames = clamp(x/2 + 0.5, 0, 1).
// Chunks are handed to `onChunk` as they come, so a long video is never held decoded in RAM.
import { CnextError, throwIfAborted } from '../core/errors.ts';
import { noEmit, type EmitFn } from '../core/events.ts';
import { invalidParameterError } from '../core/is.ts';
import { float32, shapeString, type Float32Tensor } from '../core/tensor.ts';
import type { Vae } from '../nets/interfaces.ts';

const f = Math.fround;

export interface DecodeOptions {
  /** decode_chunk_size: frames per VAE decoder call. */
  readonly chunk: number;
  /** Receives each chunk's raw decoder output [n, 3, H, W] (before postprocessing) and its first frame index. */
  readonly onChunk: (start: number, decoded: Float32Tensor) => Promise<void> | void;
  readonly emit?: EmitFn;
  readonly signal?: AbortSignal;
}

/** // (B·F, C, h, w) or (1, F, C, h, w) latents → VAE decoder output, chunk by chunk. */
export async function decodeLatents(vae: Vae, latents: Float32Tensor, options: DecodeOptions): Promise<void> {
  const { chunk, onChunk, emit = noEmit, signal } = options;
  if (!Number.isInteger(chunk) || chunk < 1) throw invalidParameterError('decodeChunk', 'integer of at least 1', chunk);
  const d = latents.dims;
  if (d.length !== 4 && !(d.length === 5 && d[0] === 1)) {
    throw new CnextError('INVALID_PARAMETER', `latents to decode have shape ${shapeString(d)}, expected [F, C, h, w] or [1, F, C, h, w]`);
  }
  const [frames, c, h, w] = d.length === 5 ? d.slice(1) : d;
  const frameSize = c * h * w;
  const scale = f(1 / vae.scalingFactor);
  for (let start = 0; start < frames; start += chunk) {
    throwIfAborted(signal);
    const n = Math.min(chunk, frames - start);
    const src = latents.data.subarray(start * frameSize, (start + n) * frameSize);
    const z = new Float32Array(src.length);
    for (let i = 0; i < z.length; i++) z[i] = src[i] * scale;
    const decoded = await vae.decode(float32([n, c, h, w], z), n);
    if (decoded.dims.length !== 4 || decoded.dims[0] !== n || decoded.dims[1] !== 3) {
      throw new CnextError('MODEL_OUTPUT', `the VAE decoder returned ${shapeString(decoded.dims)} for ${n} frames, expected [${n}, 3, H, W]`);
    }
    await onChunk(start, decoded);
    emit({ type: 'progress', stage: 'vae-decode', done: start + n, total: frames, unit: 'frames' });
  }
}

/** // (n, 3, H, W) decoder output → frames in [0, 1]: clamp(x/2 + 0.5, 0, 1) (VaeImageProcessor.denormalize). */
export function postprocessFrames(decoded: Float32Tensor): Float32Tensor {
  const out = new Float32Array(decoded.data.length);
  for (let i = 0; i < out.length; i++) {
    const v = f(decoded.data[i] / 2 + 0.5);
    out[i] = v < 0 ? 0 : v > 1 ? 1 : v; // NaN stays NaN, as torch.clamp leaves it
  }
  return float32(decoded.dims, out);
}

/** // (n, 3, H, W) frames in [0, 1] → n uint8 RGB images [H, W, 3] (round to nearest, as diffusers' numpy_to_pil). */
export function framesToRgb(frames: Float32Tensor): Uint8Array[] {
  const [n, , h, w] = frames.dims;
  const plane = h * w;
  const out: Uint8Array[] = [];
  for (let i = 0; i < n; i++) {
    const img = new Uint8Array(plane * 3);
    const base = i * 3 * plane;
    for (let p = 0; p < plane; p++) {
      for (let ch = 0; ch < 3; ch++) {
        const v = frames.data[base + ch * plane + p];
        img[p * 3 + ch] = Number.isNaN(v) ? 0 : Math.round(Math.min(1, Math.max(0, v)) * 255);
      }
    }
    out.push(img);
  }
  return out;
}
