import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { float32 } from '../../src/core/tensor.ts';
import { checkpointPath, readCheckpoint, RunHasher, writeCheckpoint } from '../../src/diffusion/checkpoint.ts';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'cnext-ckpt-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

const ckpt = (step: number) => ({
  step,
  steps: 5,
  latents: float32([1, 2, 4, 3, 2], Float32Array.from({ length: 48 }, (_, i) => i * 0.5 - step)),
  imageEmbedding: float32([1, 3], Float32Array.of(1, -2, 3)),
  imageLatents: float32([1, 4, 3, 2], Float32Array.from({ length: 24 }, (_, i) => -i)),
});

describe('checkpoints', () => {
  it('round-trips the latents, conditioning and step, replacing the previous one atomically', () => {
    const dir = path.join(tmp, 'a');
    writeCheckpoint(dir, 'k1', ckpt(0));
    writeCheckpoint(dir, 'k1', ckpt(2));
    expect(fs.readdirSync(dir)).toEqual(['denoise.safetensors']);
    const r = readCheckpoint(dir, 'k1', [1, 2, 4, 3, 2]);
    expect(r.status).toBe('found');
    if (r.status !== 'found') return;
    expect(r.checkpoint.step).toBe(2);
    expect(r.checkpoint.steps).toBe(5);
    expect(r.checkpoint.latents).toEqual(ckpt(2).latents);
    expect(r.checkpoint.imageEmbedding).toEqual(ckpt(2).imageEmbedding);
    expect(r.checkpoint.imageLatents).toEqual(ckpt(2).imageLatents);
  });

  it('reports none / another run’s checkpoint / a wrong shape / a damaged file', () => {
    const dir = path.join(tmp, 'b');
    expect(readCheckpoint(dir, 'k').status).toBe('none');
    writeCheckpoint(dir, 'k', ckpt(1));
    expect(readCheckpoint(dir, 'other')).toEqual({ status: 'mismatch', file: checkpointPath(dir) });
    expect(() => readCheckpoint(dir, 'k', [1, 3, 4, 3, 2])).toThrow(
      `The checkpoint ${checkpointPath(dir)} holds latents of shape [1, 2, 4, 3, 2], expected [1, 3, 4, 3, 2]`,
    );
    fs.writeFileSync(checkpointPath(dir), 'garbage');
    expect(() => readCheckpoint(dir, 'k')).toThrow(`The checkpoint ${checkpointPath(dir)} cannot be read`);
  });

  it('keys runs by content: order of JSON keys does not matter, any byte does', () => {
    const key = (params: object, bytes: Uint8Array) => new RunHasher().json('p', params).bytes('img', bytes).digest();
    const img = Uint8Array.of(1, 2, 3);
    expect(key({ a: 1, b: [2, 3] }, img)).toBe(key({ b: [2, 3], a: 1 }, img));
    expect(key({ a: 1, b: [2, 3] }, img)).not.toBe(key({ a: 1, b: [2, 4] }, img));
    expect(key({ a: 1 }, img)).not.toBe(key({ a: 1 }, Uint8Array.of(1, 2, 4)));
    // labels and lengths are part of the hash: moving a byte between fields changes it
    expect(new RunHasher().text('x', 'ab').text('y', 'c').digest()).not.toBe(new RunHasher().text('x', 'a').text('y', 'bc').digest());
  });
});
