import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, describe, expect, it } from 'vitest';
import { CnextError } from '../../src/core/errors.ts';
import { fitImage, loadImage, resizeImage, saveImage } from '../../video/image.ts';
import { REF, tempDir } from './helpers.ts';

const tmp = tempDir();
afterAll(tmp.cleanup);

/** w×h image whose pixel (x, y) = [x, y, 7]. */
function coords(w: number, h: number): Uint8Array {
  const rgb = new Uint8Array(w * h * 3);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) rgb.set([x, y, 7], (y * w + x) * 3);
  return rgb;
}

describe('image', () => {
  it('loads samples/ref.jpg as RGB', async () => {
    const img = await loadImage(REF);
    expect([img.width, img.height, img.rgb.length]).toEqual([576, 1028, 576 * 1028 * 3]);
    let sum = 0;
    for (const v of img.rgb) sum += v;
    expect(sum / img.rgb.length).toBeGreaterThan(20); // a photo, not black
  });

  it('cover at the same width is an exact centre crop; pad letterboxes with black', async () => {
    const src = coords(4, 8);
    const c = await fitImage(src, 4, 8, 4, 4, 'cover');
    expect([c.width, c.height]).toEqual([4, 4]);
    expect(Array.from(c.rgb)).toEqual(Array.from(src.subarray(2 * 4 * 3, 6 * 4 * 3)));

    const wide = coords(8, 4);
    const p = await fitImage(wide, 8, 4, 8, 8, 'pad');
    expect([p.width, p.height]).toEqual([8, 8]);
    expect(Array.from(p.rgb.subarray(0, 2 * 8 * 3)).every((v) => v === 0)).toBe(true);
    expect(Array.from(p.rgb.subarray(6 * 8 * 3)).every((v) => v === 0)).toBe(true);
    expect(Array.from(p.rgb.subarray(2 * 8 * 3, 6 * 8 * 3))).toEqual(Array.from(wide));
  });

  it('cover resizes the reference photo to 576×1024', async () => {
    const img = await loadImage(REF);
    const f = await fitImage(img.rgb, img.width, img.height, 576, 1024, 'cover');
    expect([f.width, f.height, f.rgb.length]).toEqual([576, 1024, 576 * 1024 * 3]);
    const r = await resizeImage(img, 100, 50);
    expect([r.width, r.height]).toEqual([100, 50]);
  });

  it('applies EXIF orientation', async () => {
    const file = join(tmp.dir, 'exif.jpg');
    // stored 40×20, EXIF orientation 6 (rotate 90° clockwise to display) → 20×40
    await sharp(Buffer.from(coords(40, 20)), { raw: { width: 40, height: 20, channels: 3 } }).jpeg().withMetadata({ orientation: 6 }).toFile(file);
    const img = await loadImage(file);
    expect([img.width, img.height]).toEqual([20, 40]);
  });

  it('saveImage → loadImage is lossless (PNG) and atomic', async () => {
    const file = join(tmp.dir, 'out', 'x.png');
    const src = { width: 5, height: 3, rgb: coords(5, 3) };
    await saveImage(file, src);
    const back = await loadImage(file);
    expect(back).toEqual({ width: 5, height: 3, rgb: src.rgb });
  });

  it('errors: missing, empty, not an image, wrong buffer size', async () => {
    await expect(loadImage(join(tmp.dir, 'none.jpg'))).rejects.toMatchObject({ code: 'IMAGE_NOT_FOUND', category: 'user' });
    writeFileSync(join(tmp.dir, 'empty.jpg'), '');
    await expect(loadImage(join(tmp.dir, 'empty.jpg'))).rejects.toMatchObject({ code: 'IMAGE_EMPTY' });
    writeFileSync(join(tmp.dir, 'junk.jpg'), 'this is not a jpeg at all');
    const e = await loadImage(join(tmp.dir, 'junk.jpg')).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(CnextError);
    expect((e as CnextError).code).toBe('IMAGE_UNREADABLE');
    expect((e as CnextError).describe()).toContain('Possible solutions:');
    await expect(fitImage(new Uint8Array(5), 2, 2, 4, 4)).rejects.toThrow('image: 5 bytes for 2×2 RGB (expected 12)');
    await expect(fitImage(coords(2, 2), 2, 2, 0, 4)).rejects.toThrow('Expected integer between 1 and 16384 for width but received 0 of type number');
  });
});
