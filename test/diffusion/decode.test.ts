import { describe, expect, it } from 'vitest';
import type { JobEvent } from '../../src/core/events.ts';
import { float32, type Float32Tensor } from '../../src/core/tensor.ts';
import type { Vae } from '../../src/nets/interfaces.ts';
import { decodeLatents, framesToRgb, postprocessFrames } from '../../src/diffusion/decode.ts';

/** Records what it is given; "decodes" a latent value v into a 2×2 patch of v per channel 0..2. */
function recordingVae(calls: Array<{ n: number; z: Float32Array }>): Vae {
  return {
    scalingFactor: 0.18215,
    encode: async () => { throw new Error('unused'); },
    async decode(z, numFrames) {
      calls.push({ n: numFrames, z: z.data.slice() });
      const [n, , h, w] = z.dims;
      return float32([n, 3, 2 * h, 2 * w], Float32Array.from({ length: n * 3 * 4 * h * w }, (_, i) => z.data[Math.floor(i / (12 * h * w)) * 4 * h * w]));
    },
    release: async () => {},
  };
}

describe('decodeLatents', () => {
  it('multiplies by the float32 reciprocal of the scaling factor and decodes chunks as separate videos', async () => {
    const calls: Array<{ n: number; z: Float32Array }> = [];
    const latents = float32([1, 5, 4, 1, 1], Float32Array.from({ length: 20 }, (_, i) => i + 0.1));
    const got: Array<[number, number[]]> = [];
    const events: JobEvent[] = [];
    await decodeLatents(recordingVae(calls), latents, {
      chunk: 2,
      emit: (e) => events.push(e),
      onChunk: (start, d) => void got.push([start, [...d.dims]]),
    });
    expect(calls.map((c) => c.n)).toEqual([2, 2, 1]);
    const r = Math.fround(1 / 0.18215);
    expect(calls[2].z).toEqual(Float32Array.from([16.1, 17.1, 18.1, 19.1], (x) => Math.fround(x) * r));
    expect(got).toEqual([[0, [2, 3, 2, 2]], [2, [2, 3, 2, 2]], [4, [1, 3, 2, 2]]]);
    expect(events.map((e) => (e as { done: number }).done)).toEqual([2, 4, 5]);
  });

  it('stops between chunks when aborted and rejects a bad chunk size', async () => {
    const ctl = new AbortController();
    const calls: Array<{ n: number; z: Float32Array }> = [];
    const latents = float32([6, 4, 1, 1]);
    await expect(decodeLatents(recordingVae(calls), latents, { chunk: 2, signal: ctl.signal, onChunk: () => ctl.abort() })).rejects.toThrow('Cancelled');
    expect(calls).toHaveLength(1);
    await expect(decodeLatents(recordingVae([]), latents, { chunk: 0, onChunk: () => {} })).rejects.toThrow(
      'Expected integer of at least 1 for decodeChunk but received 0 of type number',
    );
  });
});

describe('postprocessFrames / framesToRgb', () => {
  it('maps x → clamp(x/2 + 0.5, 0, 1) and then to rounded bytes in HWC order', () => {
    const d: Float32Tensor = float32([1, 3, 1, 2], Float32Array.of(-3, 0, 0.5, 1, 2, -1));
    const fr = postprocessFrames(d);
    expect([...fr.data]).toEqual([0, 0.5, 0.75, 1, 1, 0]);
    expect([...framesToRgb(fr)[0]]).toEqual([0, 191, 255, 128, 255, 0]);
  });
});
