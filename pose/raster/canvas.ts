// A 3-channel uint8 image (H, W, 3), row-major, as OpenCV's CV_8UC3 Mat; channel order is whatever the caller
// draws in (draw_pose draws RGB triples into what OpenCV treats as BGR). Shared by the OpenCV-exact primitives.

/** OpenCV drawing's fixed-point precision (drawing.cpp XY_SHIFT). */
export const XY_SHIFT = 16;
export const XY_ONE = 1 << XY_SHIFT;

export interface Canvas {
  readonly width: number;
  readonly height: number;
  /** (H, W, 3) */
  readonly data: Uint8Array;
}

/** An integer point (x, y); fixed point when a `shift` says so. */
export type Point = readonly [number, number];

/** Three channel values, already saturated to 0..255 integers. */
export type Color3 = readonly [number, number, number];

export function createCanvas(width: number, height: number): Canvas {
  return { width, height, data: new Uint8Array(width * height * 3) };
}

/** OpenCV ICV_HLINE: fills x in [xl, xr] of row y (caller clips). */
export function hline(img: Canvas, y: number, xl: number, xr: number, c: Color3): void {
  const d = img.data;
  const c0 = c[0], c1 = c[1], c2 = c[2];
  for (let p = (y * img.width + xl) * 3, e = (y * img.width + xr) * 3; p <= e; p += 3) {
    d[p] = c0;
    d[p + 1] = c1;
    d[p + 2] = c2;
  }
}

/** One pixel, with bounds check. */
export function putPixel(img: Canvas, x: number, y: number, c: Color3): void {
  if (x < 0 || y < 0 || x >= img.width || y >= img.height) return;
  const p = (y * img.width + x) * 3;
  img.data[p] = c[0];
  img.data[p + 1] = c[1];
  img.data[p + 2] = c[2];
}

/** cvRound: round half to even (SSE2 cvtsd2si in the default rounding mode). */
export function cvRound(v: number): number {
  const r = Math.round(v);
  return r - v === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** saturate_cast<uchar>(double): cvRound, then clamp to 0..255. */
export function saturateU8(v: number): number {
  const r = cvRound(v);
  return r < 0 ? 0 : r > 255 ? 255 : r;
}

/** A colour from a Scalar of doubles, as scalarToRawData does for CV_8UC3. */
export function colorFromScalar(s: readonly number[]): Color3 {
  return [saturateU8(s[0] ?? 0), saturateU8(s[1] ?? 0), saturateU8(s[2] ?? 0)];
}
