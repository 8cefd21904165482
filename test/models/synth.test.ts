import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { synthesizeModels, networkSpecs } from '../../models/synth.ts';
import { TINY_CONFIGS } from '../../models/configs.ts';
import { buildClipVision, resolveClipVisionConfig } from '../../src/nets/clip-vision.ts';
import { buildControlNeXt, resolveControlNeXtConfig } from '../../src/nets/controlnext-svd.ts';
import { buildVaeDecoder, buildVaeEncoder, resolveVaeConfig } from '../../src/nets/autoencoder-kl-temporal-decoder.ts';
import { buildUnet, resolveUnetConfig } from '../../src/nets/unet-spatio-temporal.ts';
import { Session } from '../../src/onnx/session.ts';
import { openWeightFile } from '../../src/weights/open.ts';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'cnext-synth-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

describe('synthesizeModels', () => {
  it('marks its folders synthetic: models list says installed and verify passes, against its own manifest', async () => {
    const { modelStatus, verifyModel } = await import('../../models/cache.ts');
    const { findModel } = await import('../../models/registry.ts');
    const root = path.join(tmp, 'listed');
    synthesizeModels(root, { preset: 'tiny', seed: 1 }); // fp16 names, like the demo's
    for (const name of ['svd-xt-1-1', 'controlnext-svd-v2']) {
      const entry = findModel(name)!;
      const s = modelStatus(root, entry);
      expect(s.state, name).toBe('installed');
      expect(s.synthetic).toEqual({ preset: 'tiny', seed: 1, dtype: 'F16' });
      const v = await verifyModel(root, entry);
      expect(v.every((x) => x.status === 'ok'), JSON.stringify(v.filter((x) => x.status !== 'ok'))).toBe(true);
    }
    // a damaged synthetic file is still caught
    const vae = path.join(root, 'svd-xt-1-1', 'vae', 'diffusion_pytorch_model.fp16.safetensors');
    fs.truncateSync(vae, fs.statSync(vae).size - 1);
    expect(modelStatus(root, findModel('svd-xt-1-1')!).state).toBe('partial');
  });

  it('records the real SVD-xt parameter counts from the network builders', () => {
    const s = networkSpecs('svd-xt');
    const params = (spec: ReadonlyArray<{ shape: readonly number[] }>) => spec.reduce((a, e) => a + e.shape.reduce((x, y) => x * y, 1), 0);
    // Published sizes: SVD UNet 1.52 B, OpenCLIP ViT-H/14 vision tower 632 M, ControlNeXt-SVD-v2 branch 3.5 M.
    expect(params(s.unet)).toBe(1_524_623_082);
    expect(params(s.image_encoder)).toBe(632_076_800);
    expect(params(s.controlnext)).toBe(3_526_400);
  });

  it('writes a tiny model folder whose every weight file loads strictly into its network', async () => {
    const r = synthesizeModels(tmp, { preset: 'tiny', seed: 3, baseUnet: true });
    const svd = r.svdDir;
    const read = (f: string) => JSON.parse(fs.readFileSync(path.join(svd, f), 'utf8')) as Record<string, unknown>;
    expect(read('model_index.json')._class_name).toBe('StableVideoDiffusionPipeline');
    expect(read('unet/config.json').block_out_channels).toEqual([...TINY_CONFIGS.unet.block_out_channels]);

    // Each build asserts the exact key set (missing or unexpected weights throw).
    const unetCfg = resolveUnetConfig(read('unet/config.json'));
    for (const file of [path.join(r.controlnextDir, 'unet.bin'), path.join(svd, 'unet/diffusion_pytorch_model.fp16.safetensors')]) {
      expect(() => buildUnet(openWeightFile(file), unetCfg, { control: true })).not.toThrow();
    }
    const vaeCfg = resolveVaeConfig(read('vae/config.json'));
    buildVaeEncoder(openWeightFile(path.join(svd, 'vae/diffusion_pytorch_model.fp16.safetensors')), vaeCfg);
    buildVaeDecoder(openWeightFile(path.join(svd, 'vae/diffusion_pytorch_model.fp16.safetensors')), vaeCfg);
    buildClipVision(openWeightFile(path.join(svd, 'image_encoder/model.fp16.safetensors')), resolveClipVisionConfig(read('image_encoder/config.json')));
    const cnCfg = JSON.parse(fs.readFileSync(path.join(r.controlnextDir, 'config.json'), 'utf8')) as Record<string, unknown>;
    const cn = buildControlNeXt(openWeightFile(path.join(r.controlnextDir, 'controlnet.bin')), resolveControlNeXtConfig(cnCfg));

    // And the fp16 torch-zip weights run: ControlNeXt on 2 frames of 64×64.
    const s = await Session.create(cn);
    const out = await s.run({
      sample: { type: 'float32', dims: [1, 2, 3, 64, 64], data: new Float32Array(2 * 3 * 64 * 64).fill(0.5) },
      timestep: { type: 'float32', dims: [1], data: Float32Array.of(0.3) },
    });
    await s.release();
    expect(out.output.dims).toEqual([2, TINY_CONFIGS.controlnextOutChannels, 7, 7]);
    expect([...(out.output.data as Float32Array)].every(Number.isFinite)).toBe(true);
  });

  it('is deterministic in the seed', () => {
    const a = synthesizeModels(path.join(tmp, 'a'), { preset: 'tiny', seed: 7 });
    const b = synthesizeModels(path.join(tmp, 'b'), { preset: 'tiny', seed: 7 });
    const c = synthesizeModels(path.join(tmp, 'c'), { preset: 'tiny', seed: 8 });
    const bytes = (r: typeof a) => fs.readFileSync(path.join(r.controlnextDir, 'controlnet.bin'));
    expect(bytes(a).equals(bytes(b))).toBe(true);
    expect(bytes(a).equals(bytes(c))).toBe(false);
  });
});
