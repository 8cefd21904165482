import { describe, expect, it } from 'vitest';
import { filePath } from '../../models/layout.ts';
import { DEFAULT_PULL, REGISTRY, filesToPull, findModel } from '../../models/registry.ts';

describe('REGISTRY', () => {
  it('has unique names and safe relative paths', () => {
    expect(new Set(REGISTRY.map((m) => m.name)).size).toBe(REGISTRY.length);
    for (const m of REGISTRY) {
      expect(m.name).toMatch(/^[a-z0-9][a-z0-9._-]*$/);
      const paths = m.files.map((f) => f.path);
      expect(new Set(paths).size).toBe(paths.length);
      for (const f of m.files) {
        expect(() => filePath('/root', m, f)).not.toThrow();
        if (f.sha256 !== undefined) expect(f.sha256).toMatch(/^[0-9a-f]{64}$/);
        if (f.bytes !== undefined) expect(Number.isSafeInteger(f.bytes) && f.bytes > 0).toBe(true);
      }
      // Where size or checksum is not pinned, the entry says so.
      if (m.source.kind === 'hf' && m.files.some((f) => f.bytes === undefined || f.sha256 === undefined)) {
        expect(m.unknown?.length).toBeGreaterThan(0);
      }
      if (m.alternativeTo) expect(findModel(m.alternativeTo)).toBeDefined();
    }
  });

  it('SVD 1.1 is the gated diffusers folder with the fp16 variant files', () => {
    const svd = findModel('svd-xt-1-1')!;
    expect(svd.source).toEqual({ kind: 'hf', repo: 'stabilityai/stable-video-diffusion-img2vid-xt-1-1', revision: 'main', gated: true });
    expect(filesToPull(svd, true).map((f) => f.path)).toEqual([
      'model_index.json',
      'scheduler/scheduler_config.json',
      'feature_extractor/preprocessor_config.json',
      'image_encoder/config.json',
      'image_encoder/model.fp16.safetensors',
      'unet/config.json',
      'unet/diffusion_pytorch_model.fp16.safetensors',
      'vae/config.json',
      'vae/diffusion_pytorch_model.fp16.safetensors',
    ]);
    // The plain SVD UNet is replaced by ControlNeXt's fine-tuned one: optional.
    expect(filesToPull(svd, false).map((f) => f.path)).not.toContain('unet/diffusion_pytorch_model.fp16.safetensors');
  });

  it('ControlNeXt-SVD-v2 weights come from the folder the upstream README links', () => {
    const c = findModel('controlnext-svd-v2')!;
    expect(c.source).toMatchObject({ kind: 'hf', repo: 'Pbihao/ControlNeXt' });
    expect(c.files.map((f) => [f.path, f.remote])).toEqual([
      ['unet.bin', 'ControlNeXt-SVD/v2/unet.bin'],
      ['controlnet.bin', 'ControlNeXt-SVD/v2/controlnet.bin'],
    ]);
  });

  it('MediaPipe bundles are built locally, and the default pull set is downloadable', () => {
    expect(findModel('mediapipe')!.source.kind).toBe('local-build');
    for (const n of DEFAULT_PULL) expect(findModel(n)!.source.kind).toBe('hf');
  });
});

describe('MediaPipe bundles in the registry', () => {
  it('are where the pose stage builds them, with the hashes it checks', async () => {
    const { BUNDLE_SHA256, bundleCacheDir } = await import('../../pose/mediapipe/bundles.ts');
    const { modelDir } = await import('../../models/layout.ts');
    const { REGISTRY: all } = await import('../../models/registry.ts');
    const mp = all.find((m) => m.name === 'mediapipe')!;
    for (const env of [{ CNEXT_CACHE: '/c' }, { HOME: '/h' }]) {
      expect(modelDir('/models', mp, env)).toBe(bundleCacheDir(env));
    }
    expect(Object.fromEntries(mp.files.map((f) => [f.path.replace(/\.task$/, ''), f.sha256]))).toEqual(BUNDLE_SHA256);
  });
});
