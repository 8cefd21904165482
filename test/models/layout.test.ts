import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { filePath, manifestPath, modelDir, modelsRoot, partialPath } from '../../models/layout.ts';

describe('modelsRoot', () => {
  it('defaults to ~/.cache/controlnext-motion/models', () => {
    expect(modelsRoot({ env: {}, home: '/home/u' })).toBe('/home/u/.cache/controlnext-motion/models');
  });
  it('XDG_CACHE_HOME, then CNEXT_CACHE, then --models take precedence in that order', () => {
    expect(modelsRoot({ env: { XDG_CACHE_HOME: '/x' }, home: '/h' })).toBe('/x/controlnext-motion/models');
    expect(modelsRoot({ env: { XDG_CACHE_HOME: '/x', CNEXT_CACHE: '/c' }, home: '/h' })).toBe('/c/models');
    expect(modelsRoot({ models: '/m', env: { CNEXT_CACHE: '/c' } })).toBe('/m');
    expect(modelsRoot({ models: 'rel', env: {} })).toBe(path.resolve('rel'));
  });
});

describe('paths inside a model folder', () => {
  const e = { name: 'svd-xt-1-1' };
  it('mirror the hub layout', () => {
    expect(modelDir('/r', e)).toBe('/r/svd-xt-1-1');
    expect(filePath('/r', e, { path: 'unet/config.json' })).toBe('/r/svd-xt-1-1/unet/config.json');
    expect(partialPath('/r/a.bin')).toBe('/r/a.bin.partial');
    expect(manifestPath('/r', e)).toBe('/r/svd-xt-1-1/.cnext-manifest.json');
  });
  it('refuse paths that leave the folder', () => {
    expect(() => filePath('/r', e, { path: '../x' })).toThrow('Registry path ../x of svd-xt-1-1 leaves the model folder');
    expect(() => filePath('/r', e, { path: '/etc/passwd' })).toThrow('leaves the model folder');
  });
});
