// A worker's networks: each built once, kept across jobs (release() does nothing), released on dispose().
import { describe, expect, it } from 'vitest';
import type { PipelineComponents } from '../../src/diffusion/pipeline.ts';
import { keepLoaded } from '../../src/farm/keep-loaded.ts';

class FakeNet {
  released = 0;
  #secret = 7; // private state: methods must run on the real object
  run(): number {
    return this.#secret;
  }
  async release(): Promise<void> {
    this.released++;
  }
}

function fake() {
  const loads: Record<string, number> = {};
  const nets: FakeNet[] = [];
  const loader = (name: string) => async () => {
    loads[name] = (loads[name] ?? 0) + 1;
    const n = new FakeNet();
    nets.push(n);
    return n as never;
  };
  const c = {
    imageEncoder: loader('imageEncoder'), vae: loader('vae'), unet: loader('unet'), controlnext: loader('controlnext'),
    schedulerConfig: {}, clipNormalization: { mean: [0, 0, 0], std: [1, 1, 1] }, key: 'paths',
  } as unknown as PipelineComponents;
  return { c, loads, nets };
}

describe('keepLoaded', () => {
  it('builds each network once, keeps it through release(), and releases all on dispose()', async () => {
    const { c, loads, nets } = fake();
    const k = keepLoaded(c, 'identity');
    expect(k.key).toBe('identity');
    for (let job = 0; job < 3; job++) {
      const unet = (await k.unet()) as unknown as FakeNet;
      expect(unet.run()).toBe(7);
      await unet.release();
      await (await k.vae()).release();
    }
    expect(loads).toEqual({ unet: 1, vae: 1 });
    expect(nets.map((n) => n.released)).toEqual([0, 0]);
    expect(k.loaded().sort()).toEqual(['unet', 'vae']);
    await k.dispose();
    expect(nets.map((n) => n.released)).toEqual([1, 1]);
    expect(k.loaded()).toEqual([]);
  });
});
