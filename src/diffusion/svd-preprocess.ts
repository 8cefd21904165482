// Image preprocessing of the SVD pipeline (ControlNeXt's StableVideoDiffusionPipelineControlNeXt on diffusers
// v0.30.3), ../shared/fixtures/README.md §5.7 and §5.8 steps 2 and 5:
// - CLIP branch (`_encode_image` with a PIL image): u8/255 → 2x−1 → `_resize_with_antialiasing` to 224×224
//   (Gaussian blur, reflect padding, horizontal then vertical; bicubic align_corners=True, A = −0.75) → (x+1)/2 →
//   (x − mean)/std with the feature extractor's mean/std;
// - VAE branch (`image_processor.preprocess`): u8/255 → 2x−1;
// - pose frames: u8/255 → 2x−1 → (x+1)/2.
// torch does all of this in float32; every operation below is rounded with Math.fround where torch rounds.
import { CnextError } from '../core/errors.ts';
import { invalidParameterError } from '../core/is.ts';
import { float32, shapeString, type Float32Tensor, type Tensor } from '../core/tensor.ts';

const f = Math.fround;

/** The CLIP input size of SVD's image encoder. */
export const CLIP_IMAGE_SIZE = 224;

/** The two keys of feature_extractor/preprocessor_config.json that matter (the pipeline disables the rest). */
export interface ClipNormalization {
  readonly image_mean: readonly number[];
  readonly image_std: readonly number[];
}

/** Reads image_mean/image_std from a CLIPImageProcessor config object. */
export function parseClipNormalization(config: unknown): ClipNormalization {
  const c = (typeof config === 'object' && config !== null ? config : {}) as Record<string, unknown>;
  for (const key of ['image_mean', 'image_std'] as const) {
    const v = c[key];
    if (!Array.isArray(v) || v.length !== 3 || !v.every((x) => typeof x === 'number' && Number.isFinite(x))) {
      throw new CnextError('PREPROCESS_CONFIG', `preprocessor_config.json: ${key} must be 3 numbers, got ${JSON.stringify(v)}`);
    }
  }
  if ((c.image_std as number[]).some((s) => s === 0)) {
    throw new CnextError('PREPROCESS_CONFIG', `preprocessor_config.json: image_std must not contain 0, got ${JSON.stringify(c.image_std)}`);
  }
  return { image_mean: c.image_mean as number[], image_std: c.image_std as number[] };
}

/** A uint8 RGB image [H, W, 3] (HWC), e.g. a decoded frame. */
function checkHwc(image: Tensor, what: string): { h: number; w: number; data: Uint8Array } {
  if (image.type !== 'uint8' || image.dims.length !== 3 || image.dims[2] !== 3 || image.dims[0] < 1 || image.dims[1] < 1) {
    throw invalidParameterError(what, 'uint8 RGB image of shape [H, W, 3]', `${image.type} ${shapeString(image.dims)}`);
  }
  return { h: image.dims[0], w: image.dims[1], data: image.data as Uint8Array };
}

/** u8 HWC → float32 CHW of 2·(u/255) − 1, written at `out[offset…]`. */
function toSigned(data: Uint8Array, h: number, w: number, out: Float32Array, offset: number): void {
  const plane = h * w;
  for (let p = 0; p < plane; p++) {
    for (let ch = 0; ch < 3; ch++) out[offset + ch * plane + p] = f(2 * f(data[p * 3 + ch] / 255)) - 1;
  }
}

/** VAE-side preprocessing: uint8 [H,W,3] → 2·(u/255) − 1 as [1,3,H,W] in [−1, 1]. */
export function vaeImageTensor(image: Tensor): Float32Tensor {
  // (1, 3, H, W)
  const { h, w, data } = checkHwc(image, 'image');
  const out = new Float32Array(3 * h * w);
  toSigned(data, h, w, out, 0);
  return float32([1, 3, h, w], out);
}

/**
 * Pose frames as ControlNeXt gets them: uint8 [F,H,W,3] (or one [H,W,3]) → (2·(u/255) − 1 + 1)/2 as
 * [1,F,3,H,W] in [0, 1] — the float32 round trip of the pipeline (not simply u/255).
 */
export function poseFramesTensor(frames: Tensor): Float32Tensor {
  // (1, F, 3, H, W)
  const dims = frames.dims.length === 3 ? [1, ...frames.dims] : frames.dims;
  if (frames.type !== 'uint8' || dims.length !== 4 || dims[3] !== 3 || dims.some((d) => d < 1)) {
    throw invalidParameterError('pose frames', 'uint8 RGB frames of shape [F, H, W, 3]', `${frames.type} ${shapeString(frames.dims)}`);
  }
  const [n, h, w] = dims;
  const src = frames.data as Uint8Array;
  const plane = h * w;
  const out = new Float32Array(n * 3 * plane);
  for (let i = 0; i < n; i++) {
    const one = src.subarray(i * plane * 3, (i + 1) * plane * 3);
    toSigned(one, h, w, out, i * 3 * plane);
  }
  for (let i = 0; i < out.length; i++) out[i] = f(out[i] + 1) / 2;
  return float32([1, n, 3, h, w], out);
}

/** Blur σ and kernel size per axis (h, w) of `_resize_with_antialiasing` for an input of h×w → size×size. */
export function antialiasParams(h: number, w: number, size = CLIP_IMAGE_SIZE): { sigma: [number, number]; kernel: [number, number] } {
  const sigma: [number, number] = [Math.max((h / size - 1) / 2, 0.001), Math.max((w / size - 1) / 2, 0.001)];
  const kernel = sigma.map((s) => {
    const k = Math.trunc(Math.max(2 * 2 * s, 3));
    return k % 2 === 0 ? k + 1 : k;
  }) as [number, number];
  return { sigma, kernel };
}

/** Normalised 1-D Gaussian of `_gaussian(k, σ)`, float32 (σ is a float32 tensor there). */
export function gaussianKernel(k: number, sigma: number): Float32Array {
  const s = f(sigma);
  const den = f(2 * f(s * s));
  const g = new Float32Array(k);
  const half = Math.floor(k / 2);
  let sum = 0;
  for (let i = 0; i < k; i++) {
    const x = k % 2 === 0 ? i - half + 0.5 : i - half;
    g[i] = Math.exp(f(-f(x * x) / den));
    sum = f(sum + g[i]);
  }
  for (let i = 0; i < k; i++) g[i] = g[i] / sum;
  return g;
}

/** Reflect index (no edge repeat): −1 → 1, n → n − 2. */
function reflect(i: number, n: number): number {
  if (n === 1) return 0;
  while (i < 0 || i >= n) i = i < 0 ? -i : 2 * (n - 1) - i;
  return i;
}

/** Separable blur of one plane, reflect padding k//2 (odd k); horizontal pass, then vertical. */
function blurPlane(src: Float32Array, h: number, w: number, kx: Float32Array, ky: Float32Array): Float32Array {
  // (H, W) → (H, W)
  const tmp = new Float32Array(h * w);
  const hx = Math.floor(kx.length / 2);
  for (let y = 0; y < h; y++) {
    const row = y * w;
    for (let x = 0; x < w; x++) {
      let acc = 0;
      for (let j = 0; j < kx.length; j++) acc = f(acc + f(src[row + reflect(x + j - hx, w)] * kx[j]));
      tmp[row + x] = acc;
    }
  }
  const out = new Float32Array(h * w);
  const hy = Math.floor(ky.length / 2);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      let acc = 0;
      for (let j = 0; j < ky.length; j++) acc = f(acc + f(tmp[reflect(y + j - hy, h) * w + x] * ky[j]));
      out[y * w + x] = acc;
    }
  }
  return out;
}

/** Source taps and weights of bicubic align_corners=True along one axis (torch upsample_bicubic2d, float32). */
function cubicTaps(inSize: number, outSize: number): { idx: Int32Array; wt: Float32Array } {
  const A = -0.75;
  const conv1 = (x: number) => f(f(f(f(f((A + 2) * x) - (A + 3)) * x) * x) + 1);
  const conv2 = (x: number) => f(f(f(f(f(f(A * x) - 5 * A) * x) + 8 * A) * x) - 4 * A);
  const scale = outSize > 1 ? f((inSize - 1) / (outSize - 1)) : 0;
  const idx = new Int32Array(outSize * 4);
  const wt = new Float32Array(outSize * 4);
  for (let o = 0; o < outSize; o++) {
    const real = f(scale * o);
    const i0 = Math.floor(real);
    const t = f(real - i0);
    const x2 = f(1 - t);
    wt[o * 4 + 0] = conv2(f(t + 1));
    wt[o * 4 + 1] = conv1(t);
    wt[o * 4 + 2] = conv1(x2);
    wt[o * 4 + 3] = conv2(f(x2 + 1));
    for (let j = 0; j < 4; j++) idx[o * 4 + j] = Math.min(Math.max(i0 - 1 + j, 0), inSize - 1);
  }
  return { idx, wt };
}

/** Bicubic (A = −0.75, align_corners=True, clamped borders) of one plane: rows first, then columns. */
function bicubicPlane(src: Float32Array, h: number, w: number, oh: number, ow: number): Float32Array {
  // (H, W) → (oh, ow)
  const ty = cubicTaps(h, oh);
  const tx = cubicTaps(w, ow);
  const out = new Float32Array(oh * ow);
  for (let y = 0; y < oh; y++) {
    for (let x = 0; x < ow; x++) {
      let acc = 0;
      for (let j = 0; j < 4; j++) {
        const row = ty.idx[y * 4 + j] * w;
        let r = 0;
        for (let i = 0; i < 4; i++) r = f(r + f(src[row + tx.idx[x * 4 + i]] * tx.wt[x * 4 + i]));
        acc = f(acc + f(r * ty.wt[y * 4 + j]));
      }
      out[y * ow + x] = acc;
    }
  }
  return out;
}

/**
 * `_resize_with_antialiasing(x, (size, size))` on a [1,C,H,W] tensor: Gaussian blur then bicubic align_corners.
 * Values are not clamped.
 */
export function resizeWithAntialiasing(x: Float32Tensor, size = CLIP_IMAGE_SIZE): Float32Tensor {
  // (1, C, H, W) → (1, C, size, size)
  if (x.dims.length !== 4 || x.dims[0] !== 1) throw invalidParameterError('image', 'float32 tensor of shape [1, C, H, W]', shapeString(x.dims));
  const [, c, h, w] = x.dims;
  const { sigma, kernel } = antialiasParams(h, w, size);
  const ky = gaussianKernel(kernel[0], sigma[0]);
  const kx = gaussianKernel(kernel[1], sigma[1]);
  if (kx.length / 2 >= w || ky.length / 2 >= h) {
    throw new CnextError('PREPROCESS_IMAGE', `image ${w}×${h} is too small for a ${kernel[1]}×${kernel[0]} reflect-padded blur`);
  }
  const out = new Float32Array(c * size * size);
  for (let ch = 0; ch < c; ch++) {
    const plane = x.data.subarray(ch * h * w, (ch + 1) * h * w);
    out.set(bicubicPlane(blurPlane(plane, h, w, kx, ky), h, w, size, size), ch * size * size);
  }
  return float32([1, c, size, size], out);
}

export interface ClipPixelValues {
  /** (1, 3, 224, 224): what the image encoder gets. */
  readonly pixelValues: Float32Tensor;
  /** (1, 3, 224, 224): after the antialiased resize, still in [−1, 1] space (fixture dbg.resized). */
  readonly resized: Float32Tensor;
}

/** CLIP-branch preprocessing of the reference image: uint8 [H,W,3] → pixel_values [1,3,224,224]. */
export function clipPixelValues(image: Tensor, norm: ClipNormalization): ClipPixelValues {
  const resized = resizeWithAntialiasing(vaeImageTensor(image));
  const plane = CLIP_IMAGE_SIZE * CLIP_IMAGE_SIZE;
  const out = new Float32Array(3 * plane);
  for (let ch = 0; ch < 3; ch++) {
    const mean = f(norm.image_mean[ch]);
    const std = f(norm.image_std[ch]);
    for (let p = ch * plane; p < (ch + 1) * plane; p++) out[p] = f(f(resized.data[p] + 1) / 2 - mean) / std;
  }
  return { pixelValues: float32([1, 3, CLIP_IMAGE_SIZE, CLIP_IMAGE_SIZE], out), resized };
}
