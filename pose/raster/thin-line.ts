// OpenCV 4.x thin-line rasterisation (modules/imgproc/src/drawing.cpp): clipLine, Line (Bresenham through
// LineIterator, 8-connected, left to right) and Line2 (16-bit fixed-point end points). Re-implemented from the
// algorithm, integer-exact. Below both FillConvexPoly (its outline) and the thick line (line.ts).
import { type Canvas, type Color3, type Point, putPixel, XY_ONE } from './canvas.ts';

/**
 * cv::clipLine(Size2l, Point2l&, Point2l&): Cohen–Sutherland against [0, w−1] × [0, h−1] with int64 arithmetic
 * (BigInt here: fixed-point coordinates overflow 2^53 in the products). Returns the clipped points or null.
 */
export function clipLine(w: number, h: number, a: Point, b: Point): [Point, Point] | null {
  if (w <= 0 || h <= 0) return null;
  const right = BigInt(w - 1), bottom = BigInt(h - 1);
  let x1 = BigInt(a[0]), y1 = BigInt(a[1]), x2 = BigInt(b[0]), y2 = BigInt(b[1]);
  const code = (x: bigint, y: bigint) => (x < 0n ? 1 : 0) + (x > right ? 2 : 0) + (y < 0n ? 4 : 0) + (y > bottom ? 8 : 0);
  let c1 = code(x1, y1), c2 = code(x2, y2);
  if ((c1 & c2) === 0 && (c1 | c2) !== 0) {
    if (c1 & 12) {
      const t = c1 < 8 ? 0n : bottom;
      x1 += ((t - y1) * (x2 - x1)) / (y2 - y1);
      y1 = t;
      c1 = (x1 < 0n ? 1 : 0) + (x1 > right ? 2 : 0);
    }
    if (c2 & 12) {
      const t = c2 < 8 ? 0n : bottom;
      x2 += ((t - y2) * (x2 - x1)) / (y2 - y1);
      y2 = t;
      c2 = (x2 < 0n ? 1 : 0) + (x2 > right ? 2 : 0);
    }
    if ((c1 & c2) === 0 && (c1 | c2) !== 0) {
      if (c1) {
        const t = c1 === 1 ? 0n : right;
        y1 += ((t - x1) * (y2 - y1)) / (x2 - x1);
        x1 = t;
        c1 = 0;
      }
      if (c2) {
        const t = c2 === 1 ? 0n : right;
        y2 += ((t - x2) * (y2 - y1)) / (x2 - x1);
        x2 = t;
        c2 = 0;
      }
    }
  }
  if ((c1 | c2) !== 0) return null;
  return [[Number(x1), Number(y1)], [Number(x2), Number(y2)]];
}

/** Line(img, pt1, pt2, color, 8): LineIterator(connectivity 8, left_to_right) over integer end points. */
export function line8(img: Canvas, p1: Point, p2: Point, c: Color3): void {
  let a = p1, b = p2;
  const W = img.width, H = img.height;
  if (a[0] < 0 || a[0] >= W || b[0] < 0 || b[0] >= W || a[1] < 0 || a[1] >= H || b[1] < 0 || b[1] >= H) {
    const clipped = clipLine(W, H, a, b);
    if (!clipped) return;
    [a, b] = clipped;
  }
  let dx = b[0] - a[0], dy = b[1] - a[1];
  if (dx < 0) {
    dx = -dx;
    dy = -dy;
    [a, b] = [b, a];
  }
  const sy = dy < 0 ? -1 : 1;
  dy = Math.abs(dy);
  const vert = dy > dx;
  if (vert) [dx, dy] = [dy, dx];
  let err = dx - (dy + dy);
  const plusDelta = dx + dx, minusDelta = -(dy + dy);
  let x = a[0], y = a[1];
  const d = img.data, c0 = c[0], c1 = c[1], c2 = c[2];
  for (let i = 0; i <= dx; i++) {
    const p = (y * W + x) * 3;
    d[p] = c0;
    d[p + 1] = c1;
    d[p + 2] = c2;
    const minor = err < 0;
    err += minusDelta + (minor ? plusDelta : 0);
    if (vert) {
      y += sy;
      if (minor) x += 1;
    } else {
      x += 1;
      if (minor) y += sy;
    }
  }
}

/** Line2(img, pt1, pt2, color): end points in XY_SHIFT fixed point, per-pixel bounds check. */
export function line2(img: Canvas, p1: Point, p2: Point, c: Color3): void {
  const clipped = clipLine(img.width * XY_ONE, img.height * XY_ONE, p1, p2);
  if (!clipped) return;
  let [[x1, y1], [x2, y2]] = clipped;
  let dx = x2 - x1, dy = y2 - y1;
  const ax = Math.abs(dx), ay = Math.abs(dy);
  let xStep: number, yStep: number, ecount: number;
  if (ax > ay) {
    if (dx < 0) {
      dy = -dy;
      [x1, x2] = [x2, x1];
      [y1, y2] = [y2, y1];
    }
    xStep = XY_ONE;
    yStep = Math.trunc((dy * XY_ONE) / (ax | 1));
    ecount = Math.floor((x2 - x1) / XY_ONE);
  } else {
    if (dy < 0) {
      dx = -dx;
      [x1, x2] = [x2, x1];
      [y1, y2] = [y2, y1];
    }
    xStep = Math.trunc((dx * XY_ONE) / (ay | 1));
    yStep = XY_ONE;
    ecount = Math.floor((y2 - y1) / XY_ONE);
  }
  x1 += XY_ONE >> 1;
  y1 += XY_ONE >> 1;
  putPixel(img, Math.floor((x2 + (XY_ONE >> 1)) / XY_ONE), Math.floor((y2 + (XY_ONE >> 1)) / XY_ONE), c);
  if (ax > ay) {
    x1 = Math.floor(x1 / XY_ONE);
    for (; ecount >= 0; ecount--) {
      putPixel(img, x1, Math.floor(y1 / XY_ONE), c);
      x1++;
      y1 += yStep;
    }
  } else {
    y1 = Math.floor(y1 / XY_ONE);
    for (; ecount >= 0; ecount--) {
      putPixel(img, Math.floor(x1 / XY_ONE), y1, c);
      x1 += xStep;
      y1++;
    }
  }
}
