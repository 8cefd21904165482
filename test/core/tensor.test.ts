import { describe, expect, it } from 'vitest';
import { absDiff, bf16ToFloat, floatToHalf, halfFromF32Bits, halfToFloat } from '../../src/core/tensor.ts';

/** Independent reference: the nearest half by value (ties to even mantissa), by binary search over all halves. */
function nearestHalf(v: number): number {
  const sign = v < 0 || Object.is(v, -0) ? 0x8000 : 0;
  const a = Math.abs(v);
  if (a >= 65520) return sign | 0x7c00; // 65504 + half an ulp rounds to infinity
  let lo = 0;
  let hi = 0x7bff;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (halfToFloat(mid) <= a) lo = mid;
    else hi = mid - 1;
  }
  if (lo === 0x7bff) return sign | lo;
  const below = halfToFloat(lo);
  const above = halfToFloat(lo + 1);
  const pick = a - below < above - a ? lo : a - below > above - a ? lo + 1 : lo % 2 === 0 ? lo : lo + 1;
  return sign | pick;
}

describe('float16 conversion', () => {
  it('rounds every class of float32 to the nearest half, ties to even', () => {
    const bits = new Uint32Array(1);
    const f = new Float32Array(bits.buffer);
    let s = 12345;
    for (let i = 0; i < 50_000; i++) {
      s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
      bits[0] = s;
      if (Number.isNaN(f[0])) continue;
      expect(halfFromF32Bits(bits[0])).toBe(nearestHalf(f[0]));
      expect(floatToHalf(f[0])).toBe(nearestHalf(f[0]));
    }
    for (const v of [0, -0, 1, -2.5, 65504, 65519.99, 65520, 1e9, 2 ** -24, 2 ** -25, 3 * 2 ** -26, 6.1e-5, 1 + 2 ** -11, 1 + 3 * 2 ** -11]) {
      expect(floatToHalf(v)).toBe(nearestHalf(Math.fround(v)));
    }
    expect(floatToHalf(Infinity)).toBe(0x7c00);
    expect(floatToHalf(Number.NaN) & 0x7c00).toBe(0x7c00);
  });

  it('round-trips every finite half exactly', () => {
    for (let h = 0; h < 0x10000; h++) {
      if ((h & 0x7c00) === 0x7c00) continue;
      expect(floatToHalf(halfToFloat(h))).toBe(h);
    }
  });

  it('reads bfloat16 as the top half of a float32', () => {
    expect(bf16ToFloat(0x3f80)).toBe(1);
    expect(bf16ToFloat(0xc040)).toBe(-3);
  });
});

describe('absDiff', () => {
  it('reports max and mean absolute differences, and NaN as infinite', () => {
    expect(absDiff([1, 2, 3], [1, 2.5, 2])).toEqual({ maxAbs: 1, meanAbs: 0.5 });
    expect(absDiff([Number.NaN], [0]).maxAbs).toBe(Number.POSITIVE_INFINITY);
  });
});
