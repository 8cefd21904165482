// OpenCV 4.x cv::line (modules/imgproc/src/drawing.cpp): thickness ≤ 1 → Line (thin-line.ts); otherwise
// ThickLine: a filled quadrilateral plus filled-circle caps. Re-implemented from the algorithm, integer-exact.
import { type Canvas, type Color3, cvRound, type Point, XY_ONE, XY_SHIFT } from './canvas.ts';
import { circleFilled } from './circle.ts';
import { fillConvexPoly } from './fill-convex-poly.ts';
import { line8 } from './thin-line.ts';

/**
 * cv::line(img, pt1, pt2, color, thickness, LINE_8, shift 0) for integer points. thickness ≤ 1 → Line;
 * otherwise ThickLine: quadrilateral offset by ±(thickness/2) perpendicular to the segment (cvRound in fixed
 * point), filled with FillConvexPoly(shift = XY_SHIFT), plus a filled Circle of radius round(thickness/2) at
 * both ends (flags = 3).
 */
export function line(img: Canvas, p1: Point, p2: Point, c: Color3, thickness = 1): void {
  if (!Number.isInteger(thickness) || thickness < 0 || thickness > 32767) {
    throw new RangeError(`line thickness must be an integer in 0..32767, got ${thickness}`);
  }
  if (thickness <= 1) {
    line8(img, p1, p2, c);
    return;
  }
  const p0x = p1[0] * XY_ONE, p0y = p1[1] * XY_ONE, q0x = p2[0] * XY_ONE, q0y = p2[1] * XY_ONE;
  const dx = (p0x - q0x) / XY_ONE, dy = (q0y - p0y) / XY_ONE;
  let r = dx * dx + dy * dy;
  const odd = thickness & 1;
  const t = thickness * (XY_ONE >> 1);
  if (Math.abs(r) > Number.EPSILON) {
    r = (t + odd * XY_ONE * 0.5) / Math.sqrt(r);
    const dpx = cvRound(dy * r), dpy = cvRound(dx * r);
    fillConvexPoly(
      img,
      [
        [p0x + dpx, p0y + dpy],
        [p0x - dpx, p0y - dpy],
        [q0x - dpx, q0y - dpy],
        [q0x + dpx, q0y + dpy],
      ],
      c,
      XY_SHIFT,
    );
  }
  const radius = Math.floor((t + (XY_ONE >> 1)) / XY_ONE);
  circleFilled(img, p1[0], p1[1], radius, c);
  circleFilled(img, p2[0], p2[1], radius, c);
}
