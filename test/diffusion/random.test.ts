import { describe, expect, it } from 'vitest';
import { gaussian, gaussianTensor, NOISE_STREAM, philox4x32 } from '../../src/diffusion/random.ts';

const hex = (a: Uint32Array) => [...a].map((x) => x.toString(16).padStart(8, '0')).join(' ');

describe('philox4x32', () => {
  // Known-answer vectors of Random123 (kat_vectors, philox4x32 10 rounds): counter, key → output.
  it.each([
    [[0, 0, 0, 0], [0, 0], '6627e8d5 e169c58d bc57ac4c 9b00dbd8'],
    [[0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff], [0xffffffff, 0xffffffff], '408f276d 41c83b0e a20bc7c6 6d5451fd'],
    [[0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344], [0xa4093822, 0x299f31d0], 'd16cfe09 94fdcceb 5001e420 24126ea1'],
  ])('matches the Random123 known answer for counter %j key %j', (c, k, expected) => {
    const out = new Uint32Array(4);
    philox4x32(c[0], c[1], c[2], c[3], k[0], k[1], out);
    expect(hex(out)).toBe(expected);
  });
});

describe('gaussian', () => {
  it('is a pure function of (seed, stream, index): same seed → same values, any slice drawn alone', () => {
    const a = gaussian(1234, NOISE_STREAM.latents, 1001);
    expect(gaussian(1234, NOISE_STREAM.latents, 1001)).toEqual(a);
    expect(gaussian(1234, NOISE_STREAM.latents, 10, 501)).toEqual(a.slice(501, 511));
    expect(gaussian(1235, NOISE_STREAM.latents, 1001)).not.toEqual(a);
    expect(gaussian(1234, NOISE_STREAM.imageNoiseAug, 1001)).not.toEqual(a);
  });

  it('has standard normal moments', () => {
    const n = 200_000;
    const z = gaussian(7, 0, n);
    let m = 0;
    let v = 0;
    let tail = 0;
    for (const x of z) {
      m += x;
      v += x * x;
      if (Math.abs(x) > 1.959964) tail++;
    }
    expect(Math.abs(m / n)).toBeLessThan(0.01);
    expect(Math.abs(v / n - 1)).toBeLessThan(0.01);
    expect(Math.abs(tail / n - 0.05)).toBeLessThan(0.003);
    expect(z.every(Number.isFinite)).toBe(true);
  });

  it('accepts seeds above 2^32 and rejects invalid ones', () => {
    expect(gaussian(2 ** 40 + 3, 0, 4)).not.toEqual(gaussian(3, 0, 4));
    expect(() => gaussian(-1, 0, 1)).toThrow('Expected integer between 0 and 2^53 − 1 for seed but received -1 of type number');
    expect(() => gaussian(1.5, 0, 1)).toThrow('for seed');
  });

  it('fills tensors in C order', () => {
    const t = gaussianTensor(9, 1, [1, 2, 3]);
    expect(t.dims).toEqual([1, 2, 3]);
    expect(t.data).toEqual(gaussian(9, 1, 6));
  });
});
