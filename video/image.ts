// Still images through sharp: load (EXIF orientation applied, alpha flattened) to RGB HWC, fit to W×H, save PNG.
import { mkdir, rename, rm } from 'node:fs/promises';
import { dirname } from 'node:path';
import sharp, { type Sharp } from 'sharp';
import { CnextError } from '../src/core/errors.ts';
import { invalidParameterError, isInteger } from '../src/core/is.ts';
import { assertReadableFile } from './probe.ts';

/** 8-bit RGB, HWC, `rgb.length === width * height * 3`. */
export interface RgbImage {
  width: number;
  height: number;
  rgb: Uint8Array;
}

export type ImageFit = 'cover' | 'pad';

function checkSize(name: string, v: unknown): void {
  if (!(isInteger(v) && (v as number) >= 1 && (v as number) <= 16384)) throw invalidParameterError(name, 'integer between 1 and 16384', v);
}

export function assertRgb(img: RgbImage, name = 'image'): void {
  checkSize(`${name} width`, img.width);
  checkSize(`${name} height`, img.height);
  if (img.rgb.length !== img.width * img.height * 3) {
    throw new CnextError('INVALID_IMAGE_BUFFER', `${name}: ${img.rgb.length} bytes for ${img.width}×${img.height} RGB (expected ${img.width * img.height * 3})`, { category: 'system' });
  }
}

function rawInput(img: RgbImage): Sharp {
  return sharp(img.rgb, { raw: { width: img.width, height: img.height, channels: 3 } });
}

async function toRgb(s: Sharp): Promise<RgbImage> {
  const { data, info } = await s.removeAlpha().toColourspace('srgb').raw().toBuffer({ resolveWithObject: true });
  if (info.channels !== 3) throw new CnextError('IMAGE_UNREADABLE', `Expected 3 channels, got ${info.channels}`, { category: 'third-party' });
  return { width: info.width, height: info.height, rgb: new Uint8Array(data.buffer, data.byteOffset, data.length) };
}

/** Loads any image sharp reads (JPEG, PNG, WebP, …), upright per EXIF orientation, transparency over black. */
export async function loadImage(file: string): Promise<RgbImage> {
  await assertReadableFile(file, 'image');
  try {
    return await toRgb(sharp(file, { failOn: 'error' }).rotate().flatten({ background: '#000000' }));
  } catch (e) {
    if (e instanceof CnextError) throw e;
    throw new CnextError('IMAGE_UNREADABLE', `Cannot read image ${file}: ${(e as Error).message}`, {
      category: 'user',
      solutions: ['Use a JPEG, PNG or WebP file', 'Check that the file opens in an image viewer'],
      cause: e,
    });
  }
}

/**
 * Fits an RGB image (w×h) into W×H.
 * cover: resize (Lanczos) so it covers W×H, then centre-crop — the reference behaviour for the reference image;
 * pad: resize to fit inside W×H, letterbox with black, centred.
 */
export async function fitImage(rgb: Uint8Array, w: number, h: number, W: number, H: number, fit: ImageFit = 'cover'): Promise<RgbImage> {
  assertRgb({ width: w, height: h, rgb });
  checkSize('width', W);
  checkSize('height', H);
  if (fit !== 'cover' && fit !== 'pad') throw invalidParameterError('fit', 'one of cover, pad', fit);
  if (w === W && h === H) return { width: W, height: H, rgb: rgb.slice() };
  const s = rawInput({ width: w, height: h, rgb }).resize(W, H, {
    fit: fit === 'cover' ? 'cover' : 'contain',
    position: 'centre',
    kernel: 'lanczos3',
    background: { r: 0, g: 0, b: 0 },
  });
  return toRgb(s);
}

/** Resizes to exactly W×H, ignoring the aspect ratio. */
export async function resizeImage(img: RgbImage, W: number, H: number): Promise<RgbImage> {
  assertRgb(img);
  if (img.width === W && img.height === H) return { width: W, height: H, rgb: img.rgb.slice() };
  return toRgb(rawInput(img).resize(W, H, { fit: 'fill', kernel: 'lanczos3' }));
}

/** Writes a PNG (atomically: a partial file is renamed into place). */
export async function saveImage(file: string, img: RgbImage): Promise<void> {
  assertRgb(img);
  await mkdir(dirname(file), { recursive: true });
  const tmp = `${file}.partial-${process.pid}.png`;
  try {
    await rawInput(img).png().toFile(tmp);
    await rename(tmp, file);
  } catch (e) {
    await rm(tmp, { force: true });
    throw new CnextError('IMAGE_WRITE_FAILED', `Cannot write ${file}: ${(e as Error).message}`, { category: 'system', cause: e });
  }
}
