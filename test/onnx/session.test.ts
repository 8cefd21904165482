import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { assertProviderAvailable } from '../../src/onnx/session.ts';

describe('execution providers', () => {
  it('CPU is always available', () => {
    expect(() => assertProviderAvailable('cpu')).not.toThrow();
  });

  it('CUDA without its provider library fails up front, saying how to install it', () => {
    const pkg = path.dirname(createRequire(import.meta.url).resolve('onnxruntime-node/package.json'));
    const lib = path.join(pkg, 'bin', 'napi-v6', process.platform, process.arch, 'libonnxruntime_providers_cuda.so');
    if (process.platform === 'linux' && fs.existsSync(lib)) {
      expect(() => assertProviderAvailable('cuda')).not.toThrow(); // a GPU install
      return;
    }
    expect(() => assertProviderAvailable('cuda')).toThrow(/--device cuda needs onnxruntime-node's CUDA execution provider, which is not installed/);
    try {
      assertProviderAvailable('cuda');
    } catch (e) {
      expect((e as { solutions: string[] }).solutions[0]).toContain('ONNXRUNTIME_NODE_INSTALL=cuda12 node node_modules/onnxruntime-node/script/install.js');
    }
  });
});
