// OpenCV 4.x Circle() (modules/imgproc/src/drawing.cpp), the routine cv::circle uses for thickness −1 / 1,
// LINE_8, shift 0: a midpoint walk from (r, 0) filling four horizontal spans per step.
import { type Canvas, type Color3, hline } from './canvas.ts';

/** cv::circle(img, (cx, cy), radius, color, thickness = −1) with LINE_8 and shift 0. */
export function circleFilled(img: Canvas, cx: number, cy: number, radius: number, c: Color3): void {
  if (!Number.isInteger(radius) || radius < 0) throw new RangeError(`circle radius must be a non-negative integer, got ${radius}`);
  const W = img.width, H = img.height;
  let err = 0, dx = radius, dy = 0, plus = 1, minus = (radius << 1) - 1;
  const inside = cx >= radius && cx < W - radius && cy >= radius && cy < H - radius;
  while (dx >= dy) {
    const y11 = cy - dy, y12 = cy + dy, y21 = cy - dx, y22 = cy + dx;
    let x11 = cx - dx, x12 = cx + dx, x21 = cx - dy, x22 = cx + dy;
    if (inside) {
      hline(img, y11, x11, x12, c);
      hline(img, y12, x11, x12, c);
      hline(img, y21, x21, x22, c);
      hline(img, y22, x21, x22, c);
    } else if (x11 < W && x12 >= 0 && y21 < H && y22 >= 0) {
      x11 = Math.max(x11, 0);
      x12 = Math.min(x12, W - 1);
      if (y11 >= 0 && y11 < H) hline(img, y11, x11, x12, c);
      if (y12 >= 0 && y12 < H) hline(img, y12, x11, x12, c);
      if (x21 < W && x22 >= 0) {
        x21 = Math.max(x21, 0);
        x22 = Math.min(x22, W - 1);
        if (y21 >= 0 && y21 < H) hline(img, y21, x21, x22, c);
        if (y22 >= 0 && y22 < H) hline(img, y22, x21, x22, c);
      }
    }
    dy++;
    err += plus;
    plus += 2;
    const mask = err <= 0 ? 0 : -1;
    err -= minus & mask;
    dx += mask;
    minus -= mask & 2;
  }
}
