// SVD image preprocessing: CLIP branch (antialiased resize to 224), VAE branch and pose frames.
// Agreement with the reference on a real photo is the `svd_image_preprocess` fixture (test/parity/fixtures.test.ts).
import { describe, expect, it } from 'vitest';
import fs from 'node:fs';
import path from 'node:path';
import { absDiff, float32, type Tensor } from '../../src/core/tensor.ts';
import {
  antialiasParams, clipPixelValues, gaussianKernel, parseClipNormalization, poseFramesTensor, resizeWithAntialiasing,
  vaeImageTensor,
} from '../../src/diffusion/svd-preprocess.ts';
import { readAllTensors } from '../../src/parity/case.ts';
import { fixturesDir } from '../parity/fixtures-dir.ts';

const f = Math.fround;
const CLIP = parseClipNormalization({
  image_mean: [0.48145466, 0.4578275, 0.40821073], image_std: [0.26862954, 0.26130258, 0.27577711],
});

function u8Image(h: number, w: number, px: (y: number, x: number, c: number) => number): Tensor<'uint8'> {
  const data = new Uint8Array(h * w * 3);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) for (let c = 0; c < 3; c++) data[(y * w + x) * 3 + c] = px(y, x, c);
  return { type: 'uint8', dims: [h, w, 3], data };
}

/** Straightforward float64 reference of the antialiased resize, written independently of the implementation. */
function resizeRef(src: Float64Array, h: number, w: number, size: number): Float64Array {
  const sig = [Math.max((h / size - 1) / 2, 0.001), Math.max((w / size - 1) / 2, 0.001)];
  const ks = sig.map((s) => { const k = Math.trunc(Math.max(4 * s, 3)); return k % 2 ? k : k + 1; });
  const kern = (k: number, s: number) => {
    const g = Array.from({ length: k }, (_, i) => Math.exp(-((i - (k >> 1)) ** 2) / (2 * s * s)));
    const sum = g.reduce((a, b) => a + b, 0);
    return g.map((v) => v / sum);
  };
  const refl = (i: number, n: number) => (i < 0 ? -i : i >= n ? 2 * n - 2 - i : i);
  const ky = kern(ks[0], sig[0]);
  const kx = kern(ks[1], sig[1]);
  const at = (y: number, x: number) => {
    let v = 0;
    for (let a = 0; a < ky.length; a++) {
      for (let b = 0; b < kx.length; b++) v += ky[a] * kx[b] * src[refl(y + a - (ky.length >> 1), h) * w + refl(x + b - (kx.length >> 1), w)];
    }
    return v;
  };
  const blurred = new Float64Array(h * w);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) blurred[y * w + x] = at(y, x);
  const cubic = (d: number) => {
    const A = -0.75;
    const t = Math.abs(d);
    return t <= 1 ? (A + 2) * t ** 3 - (A + 3) * t ** 2 + 1 : t < 2 ? A * t ** 3 - 5 * A * t ** 2 + 8 * A * t - 4 * A : 0;
  };
  const out = new Float64Array(size * size);
  for (let oy = 0; oy < size; oy++) {
    for (let ox = 0; ox < size; ox++) {
      const sy = (oy * (h - 1)) / (size - 1);
      const sx = (ox * (w - 1)) / (size - 1);
      let v = 0;
      for (let j = Math.floor(sy) - 1; j <= Math.floor(sy) + 2; j++) {
        for (let i = Math.floor(sx) - 1; i <= Math.floor(sx) + 2; i++) {
          const yy = Math.min(Math.max(j, 0), h - 1);
          const xx = Math.min(Math.max(i, 0), w - 1);
          v += cubic(sy - j) * cubic(sx - i) * blurred[yy * w + xx];
        }
      }
      out[oy * size + ox] = v;
    }
  }
  return out;
}

describe('antialias parameters', () => {
  it('match the fixture for 1024×576 and degenerate to an identity blur when upsampling', () => {
    expect(antialiasParams(1024, 576)).toEqual({ sigma: [1.7857142857142856, 0.7857142857142858], kernel: [7, 3] });
    expect(antialiasParams(192, 128)).toEqual({ sigma: [0.001, 0.001], kernel: [3, 3] });
    expect(antialiasParams(672, 224).kernel).toEqual([5, 3]); // 4σ = 4 is even → 5
  });

  it('Gaussian kernels are normalised and symmetric; σ = 0.001 is exactly [0, 1, 0]', () => {
    const g = gaussianKernel(7, 1.7857142857142856);
    expect(g.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 6);
    for (let i = 0; i < 3; i++) expect(g[i]).toBe(g[6 - i]);
    expect([...gaussianKernel(3, 0.001)]).toEqual([0, 1, 0]);
  });
});

describe('resizeWithAntialiasing', () => {
  function maxDiffToRef(h: number, w: number, px: (y: number, x: number) => number): number {
    const src = new Float32Array(h * w);
    for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) src[y * w + x] = px(y, x);
    const got = resizeWithAntialiasing(float32([1, 1, h, w], src));
    expect(got.dims).toEqual([1, 1, 224, 224]);
    const want = resizeRef(Float64Array.from(src), h, w, 224);
    let max = 0;
    for (let i = 0; i < want.length; i++) max = Math.max(max, Math.abs(got.data[i] - want[i]));
    return max;
  }

  it('matches a float64 reference of blur + bicubic align_corners (downscale and upscale)', () => {
    // Smooth images: only float32 rounding separates the two.
    expect(maxDiffToRef(301, 250, (y, x) => Math.sin(x * 0.05) + Math.cos(y * 0.03) * 0.7)).toBeLessThan(5e-6);
    expect(maxDiffToRef(97, 130, (y, x) => Math.sin(x * 0.2 + y * 0.1))).toBeLessThan(5e-6);
    // Sharp image: torch computes source coordinates in float32 (≈3e-5 px off here), which shows on steep edges.
    expect(maxDiffToRef(301, 250, (y, x) => Math.sin((y * 250 + x) * 0.37))).toBeLessThan(2e-4);
  });

  it('keeps a constant image constant and maps corners onto corners', () => {
    const h = 60;
    const w = 500;
    const data = new Float32Array(h * w);
    for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) data[y * w + x] = y === 0 ? x / 100 : 0.25;
    const out = resizeWithAntialiasing(float32([1, 1, h, w], data));
    expect(Math.abs(out.data[100 * 224 + 100] - 0.25)).toBeLessThan(1e-7);
    const row0 = resizeWithAntialiasing(float32([1, 1, 2, w], Float32Array.from({ length: 2 * w }, (_, i) => i % w)));
    // x = 0 after the 3-tap blur with reflect padding sees (1, 0, 1): 2a/(1+2a), a = exp(−1/(2σ²)); replicate would give a/(1+2a)
    const sigma = (w / 224 - 1) / 2;
    const a = Math.exp(-1 / (2 * sigma * sigma));
    expect(row0.data[0]).toBeCloseTo((2 * a) / (1 + 2 * a), 5);
    expect(row0.data[223]).toBeCloseTo(w - 1 - (2 * a) / (1 + 2 * a), 3);
  });

  it('a 224×224 image passes through unchanged (identity blur, unit-scale bicubic)', () => {
    const img = float32([1, 3, 224, 224], Float32Array.from({ length: 3 * 224 * 224 }, (_, i) => Math.sin(i)));
    const out = resizeWithAntialiasing(img).data;
    expect(Buffer.from(out.buffer).equals(Buffer.from(img.data.buffer))).toBe(true); // bit for bit
  });

  it('rejects images too small for the reflect padding and wrong ranks', () => {
    expect(() => resizeWithAntialiasing(float32([1, 3, 1, 5]))).toThrow('image 5×1 is too small for a 3×3 reflect-padded blur');
    expect(() => resizeWithAntialiasing(float32([3, 224, 224]))).toThrow('Expected float32 tensor of shape [1, C, H, W] for image');
  });
});

describe('clipPixelValues', () => {
  it('normalises with the feature extractor mean/std after the resize', () => {
    const img = u8Image(224, 224, (y, x, c) => (y * 7 + x * 3 + c * 50) % 256);
    const { pixelValues, resized } = clipPixelValues(img, CLIP);
    expect(pixelValues.dims).toEqual([1, 3, 224, 224]);
    expect(Buffer.from(resized.data.buffer).equals(Buffer.from(vaeImageTensor(img).data.buffer))).toBe(true);
    for (const [y, x, c] of [[0, 0, 0], [10, 200, 1], [223, 5, 2]]) {
      const u = (y * 7 + x * 3 + c * 50) % 256;
      const want = (u / 255 - CLIP.image_mean[c]) / CLIP.image_std[c];
      expect(pixelValues.data[c * 224 * 224 + y * 224 + x]).toBeCloseTo(want, 6);
    }
  });

  it('upsampling path (image smaller than 224): matches the pipeline_tiny reference dbg.clip_pixel_values', () => {
    const dir = path.join(fixturesDir(), 'pipeline_tiny');
    const pipe = JSON.parse(fs.readFileSync(path.join(dir, 'case.json'), 'utf8')) as { config: { feature_extractor: unknown } };
    const io = readAllTensors(path.join(dir, 'io.safetensors'));
    const { pixelValues } = clipPixelValues(io.get('in.ref_image_u8')!, parseClipNormalization(pipe.config.feature_extractor));
    const d = absDiff(pixelValues.data, io.get('dbg.clip_pixel_values')!.data as Float32Array);
    // the svd_image_preprocess case's tolerance (the same computation on a downscaled photo)
    expect(d.maxAbs).toBeLessThan(2.59e-4);
    expect(d.meanAbs).toBeLessThan(8.45e-6);
  });

  it('reads mean/std from the preprocessor config and rejects broken ones', () => {
    expect(() => parseClipNormalization({ image_mean: [0.5, 0.5], image_std: [1, 1, 1] }))
      .toThrow('preprocessor_config.json: image_mean must be 3 numbers, got [0.5,0.5]');
    expect(() => parseClipNormalization({ image_mean: [0, 0, 0], image_std: [1, 0, 1] })).toThrow('image_std must not contain 0');
    expect(() => parseClipNormalization(undefined)).toThrow('image_mean must be 3 numbers, got undefined');
  });

  it('rejects anything but a uint8 [H, W, 3] image', () => {
    expect(() => clipPixelValues({ type: 'uint8', dims: [4, 4, 4], data: new Uint8Array(64) }, CLIP))
      .toThrow('Expected uint8 RGB image of shape [H, W, 3] for image but received \'uint8 [4, 4, 4]\'');
    expect(() => vaeImageTensor(float32([2, 2, 3]))).toThrow('received \'float32 [2, 2, 3]\'');
  });
});

describe('VAE and pose-frame tensors', () => {
  it('VAE input: HWC uint8 → [1,3,H,W] of 2·(u/255) − 1', () => {
    const img = u8Image(2, 3, (y, x, c) => [0, 255, 128][c] + (c === 2 ? y + x : 0));
    const t = vaeImageTensor(img);
    expect(t.dims).toEqual([1, 3, 2, 3]);
    expect(t.data.subarray(0, 6).every((v) => v === -1)).toBe(true);
    expect(t.data.subarray(6, 12).every((v) => v === 1)).toBe(true);
    expect(t.data[12 + 1 * 3 + 2]).toBe(f(f(2 * f(131 / 255)) - 1)); // channel 2, y 1, x 2
  });

  it('VAE input matches the pipeline_tiny reference (dbg.vae_input_image = preprocessed + 0.02·in.image_noise)', () => {
    const io = readAllTensors(path.join(fixturesDir(), 'pipeline_tiny', 'io.safetensors'));
    const x = vaeImageTensor(io.get('in.ref_image_u8')!);
    const noise = io.get('in.image_noise')!.data as Float32Array;
    const want = io.get('dbg.vae_input_image')!;
    expect(x.dims).toEqual(want.dims);
    const got = x.data.map((v, i) => v + f(f(0.02) * noise[i]));
    expect(absDiff(got, want.data as Float32Array).maxAbs).toBeLessThanOrEqual(1e-7);
  });

  it('pose frames: [F,H,W,3] → [1,F,3,H,W] through the float32 round trip (x+1)/2 of 2x−1', () => {
    const frames: Tensor<'uint8'> = { type: 'uint8', dims: [2, 1, 256, 3], data: new Uint8Array(2 * 256 * 3) };
    for (let i = 0; i < frames.data.length; i++) frames.data[i] = Math.floor(i / 3) % 256;
    const t = poseFramesTensor(frames);
    expect(t.dims).toEqual([1, 2, 3, 1, 256]);
    let differsFromPlain = 0;
    for (let u = 0; u < 256; u++) {
      const want = f(f(f(2 * f(u / 255)) - 1) + 1) / 2;
      expect(t.data[256 + u]).toBe(want); // frame 0, channel 1
      expect(t.data[3 * 256 + 2 * 256 + u]).toBe(want); // frame 1, channel 2
      if (want !== f(u / 255)) differsFromPlain++;
    }
    expect(differsFromPlain).toBeGreaterThan(0); // the round trip is not a no-op in float32
    expect(t.data[0]).toBe(0);
    expect(t.data[255]).toBe(1);
    expect(poseFramesTensor(u8Image(2, 2, () => 7)).dims).toEqual([1, 1, 3, 2, 2]);
    expect(() => poseFramesTensor({ type: 'uint8', dims: [2, 2], data: new Uint8Array(4) })).toThrow('for pose frames');
  });
});
