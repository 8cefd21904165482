// The two views of the reference image the UNet is conditioned on (fixtures README §5.8 steps 1–2):
// the CLIP image embedding, and the VAE latent of the noise-augmented image (latent_dist.mode(), not scaled).
// Only the conditional rows are returned; the sampler builds the zero rows of the unconditional half.
import { CnextError } from '../core/errors.ts';
import { float32, shapeString, type Float32Tensor, type Tensor } from '../core/tensor.ts';
import type { ImageEncoder, Vae } from '../nets/interfaces.ts';
import { debugPut, type DebugSink } from './debug.ts';
import { clipPixelValues, vaeImageTensor, type ClipNormalization } from './svd-preprocess.ts';

const f = Math.fround;

/** // (H, W, 3) u8 → (1, D): CLIP image_embeds of the reference image (§5.7 preprocessing). */
export async function encodeImageEmbedding(
  encoder: ImageEncoder,
  refImage: Tensor,
  norm: ClipNormalization,
  debug?: DebugSink,
  cfg = true,
): Promise<Float32Tensor> {
  const { pixelValues } = clipPixelValues(refImage, norm);
  debugPut(debug, 'dbg.clip_pixel_values', () => pixelValues);
  const emb = await encoder.encode(pixelValues);
  if (emb.dims.length !== 2 || emb.dims[0] !== 1) {
    throw new CnextError('MODEL_OUTPUT', `the image encoder returned image_embeds of shape ${shapeString(emb.dims)}, expected [1, D]`);
  }
  debugPut(debug, 'dbg.image_embeddings', () => withZeroRow(emb, [1, emb.dims[1]], cfg));
  return emb;
}

/** image + strength·noise in float32 (upstream: `image + noise_aug_strength * noise`). */
export function augmentImage(image: Float32Tensor, noise: Float32Tensor, strength: number): Float32Tensor {
  if (noise.dims.length !== image.dims.length || noise.dims.some((d, i) => d !== image.dims[i])) {
    throw new CnextError('INVALID_PARAMETER', `image noise has shape ${shapeString(noise.dims)}, expected ${shapeString(image.dims)}`);
  }
  const s = f(strength);
  const out = new Float32Array(image.data.length);
  for (let i = 0; i < out.length; i++) out[i] = image.data[i] + f(s * noise.data[i]);
  return float32(image.dims, out);
}

/** // (H, W, 3) u8, noise (1, 3, H, W) → (1, C, h, w): VAE latent mode of the noise-augmented reference image. */
export async function encodeImageLatents(
  vae: Vae,
  refImage: Tensor,
  noise: Float32Tensor,
  noiseAugStrength: number,
  debug?: DebugSink,
  cfg = true,
): Promise<Float32Tensor> {
  const input = augmentImage(vaeImageTensor(refImage), noise, noiseAugStrength);
  debugPut(debug, 'dbg.vae_input_image', () => input);
  const latents = await vae.encode(input);
  if (latents.dims.length !== 4 || latents.dims[0] !== 1) {
    throw new CnextError('MODEL_OUTPUT', `the VAE encoder returned latents of shape ${shapeString(latents.dims)}, expected [1, C, h, w]`);
  }
  debugPut(debug, 'dbg.image_latents', () => withZeroRow(latents, latents.dims.slice(1), cfg));
  return latents;
}

/** [zeros, x] stacked on a new batch axis (the CFG layout [uncond, cond]); just x without CFG. */
function withZeroRow(x: Float32Tensor, rowDims: readonly number[], cfg: boolean): Float32Tensor {
  if (!cfg) return float32([1, ...rowDims], x.data);
  const out = new Float32Array(2 * x.data.length);
  out.set(x.data, x.data.length);
  return float32([2, ...rowDims], out);
}
