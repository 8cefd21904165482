import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { float32, type Float32Tensor } from '../../src/core/tensor.ts';
import { augmentImage, encodeImageLatents } from '../../src/diffusion/image-conditioning.ts';
import { collectDebug } from '../../src/diffusion/debug.ts';
import { vaeImageTensor } from '../../src/diffusion/svd-preprocess.ts';
import { readAllTensors } from '../../src/parity/case.ts';
import { fixturesDir } from '../parity/fixtures-dir.ts';
import { fakeVae, newLog } from './fakes.ts';

const io = readAllTensors(path.join(fixturesDir(), 'pipeline_tiny', 'io.safetensors'));

describe('image conditioning', () => {
  it('adds the augmentation noise exactly as the reference (dbg.vae_input_image, bit for bit)', () => {
    const got = augmentImage(vaeImageTensor(io.get('in.ref_image_u8')!), io.get('in.image_noise') as Float32Tensor, 0.02);
    expect(got.data).toEqual(io.get('dbg.vae_input_image')!.data);
  });

  it('puts a zero row before the latents in dbg.image_latents (CFG layout [uncond, cond])', async () => {
    const debug = collectDebug();
    const ref = { type: 'uint8' as const, dims: [16, 8, 3], data: new Uint8Array(16 * 8 * 3).fill(200) };
    const lat = await encodeImageLatents(fakeVae(newLog()), ref, float32([1, 3, 16, 8]), 0.02, debug);
    expect(lat.dims).toEqual([1, 4, 2, 1]);
    const d = debug.tensors.get('dbg.image_latents')!;
    expect(d.dims).toEqual([2, 4, 2, 1]);
    expect([...d.data.subarray(0, 8)]).toEqual(Array(8).fill(0));
    expect(d.data.subarray(8)).toEqual(lat.data);
  });

  it('rejects noise of the wrong shape', () => {
    expect(() => augmentImage(float32([1, 3, 4, 4]), float32([1, 3, 4, 5]), 0.02)).toThrow('image noise has shape [1, 3, 4, 5], expected [1, 3, 4, 4]');
  });
});
