import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { main } from '../../src/cli/main.ts';
import { parseSynthOptions, synthBytes } from '../../src/cli/models-synth.ts';
import { tempDir } from '../job/helpers.ts';

let dir: string;
beforeAll(() => {
  dir = tempDir('cnext-synth-');
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

describe('cnext models synth', () => {
  it('validates its flags', () => {
    expect(parseSynthOptions({ preset: 'tiny', out: 'x', seed: '3', dtype: 'fp32' })).toEqual({ preset: 'tiny', out: 'x', seed: 3, dtype: 'fp32', baseUnet: false });
    expect(() => parseSynthOptions({ preset: 'huge', out: 'x' })).toThrow("Expected one of svd-xt, tiny for --preset but received 'huge' of type string");
    expect(() => parseSynthOptions({ preset: 'tiny', out: 'x', seed: '-1' })).toThrow('Expected integer between 0 and 2147483647 for --seed but received -1 of type number');
    expect(() => parseSynthOptions({ preset: 'tiny', out: 'x', dtype: 'bf16' })).toThrow("Expected one of fp16, fp32 for --dtype but received 'bf16' of type string");
  });

  it('writes a loadable folder in the real layout', async () => {
    const out = vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
    let code: number;
    try {
      code = await main(['models', 'synth', '--preset', 'tiny', '--out', path.join(dir, 'm'), '--seed', '5']);
    } finally {
      out.mockRestore();
    }
    expect(code).toBe(0);
    for (const f of ['svd-xt-1-1/model_index.json', 'svd-xt-1-1/unet/config.json', 'svd-xt-1-1/vae/diffusion_pytorch_model.fp16.safetensors', 'controlnext-svd-v2/unet.bin', 'controlnext-svd-v2/controlnet.bin']) {
      expect(fs.existsSync(path.join(dir, 'm', f)), f).toBe(true);
    }
    const { loadModelComponents } = await import('../../src/job/components.ts');
    expect(loadModelComponents(path.join(dir, 'm')).key).toContain('unet.bin');
    // the size estimate is the tensor bytes; the files add headers and zip structure only
    const weights = ['svd-xt-1-1/image_encoder/model.fp16.safetensors', 'svd-xt-1-1/vae/diffusion_pytorch_model.fp16.safetensors', 'controlnext-svd-v2/unet.bin', 'controlnext-svd-v2/controlnet.bin']
      .reduce((a, f) => a + fs.statSync(path.join(dir, 'm', f)).size, 0);
    const est = synthBytes('tiny', 'fp16', false);
    expect(weights).toBeGreaterThan(est);
    expect(weights).toBeLessThan(est * 1.1);
  });
});
