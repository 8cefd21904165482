import { describe, expect, it } from 'vitest';
import { composeSideBySide, sideBySideLayout } from '../../video/side-by-side.ts';

const solid = (width: number, height: number, c: [number, number, number]) => {
  const rgb = new Uint8Array(width * height * 3);
  for (let i = 0; i < width * height; i++) rgb.set(c, i * 3);
  return { width, height, rgb };
};

describe('side-by-side', () => {
  it('lays cells out at one even height and an even total width', () => {
    expect(sideBySideLayout([{ width: 576, height: 1024 }, { width: 576, height: 1024 }, { width: 576, height: 1024 }], 512)).toEqual({
      width: 864,
      height: 512,
      cells: [
        { x: 0, width: 288 },
        { x: 288, width: 288 },
        { x: 576, width: 288 },
      ],
    });
    const odd = sideBySideLayout([{ width: 100, height: 100 }, { width: 51, height: 100 }], 101);
    expect(odd.height).toBe(102);
    expect(odd.width % 2).toBe(0);
    expect(odd.cells.map((c) => c.x)).toEqual([0, 102]);
    expect(() => sideBySideLayout([], 10)).toThrow('Expected at least one panel for panels but received 0 of type number');
  });

  it('composes panels of different sizes, letterboxed into their cells', async () => {
    const layout = sideBySideLayout([{ width: 8, height: 16 }, { width: 8, height: 16 }], 16);
    const red = solid(8, 16, [255, 0, 0]);
    const wide = solid(16, 8, [0, 0, 255]); // a landscape frame into a portrait cell → bars above and below
    const out = await composeSideBySide([red, wide], layout);
    expect([out.width, out.height]).toEqual([16, 16]);
    const px = (x: number, y: number) => Array.from(out.rgb.subarray((y * 16 + x) * 3, (y * 16 + x) * 3 + 3));
    expect(px(0, 0)).toEqual([255, 0, 0]);
    expect(px(7, 15)).toEqual([255, 0, 0]);
    expect(px(12, 0)).toEqual([0, 0, 0]);
    expect(px(12, 8)).toEqual([0, 0, 255]);
    expect(px(12, 15)).toEqual([0, 0, 0]);
    await expect(composeSideBySide([red], layout)).rejects.toThrow('Expected 2 panels for panels but received 1 of type number');
  });
});
