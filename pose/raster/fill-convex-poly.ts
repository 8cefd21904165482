// OpenCV 4.x FillConvexPoly (modules/imgproc/src/drawing.cpp) for LINE_8: the outline is drawn first (Line for
// shift 0, Line2 for fixed-point vertices), then the polygon is scanned from its top vertex with two edges walked
// in opposite directions, x in 16-bit fixed point, dx = round-half-away((xe − xs) / (ye − y)), and each row
// filled from (x_left + ½) >> 16 to (x_right + ½) >> 16.
import { type Canvas, type Color3, hline, type Point, XY_ONE, XY_SHIFT } from './canvas.ts';
import { line2, line8 } from './thin-line.ts';

/** Arithmetic right shift that stays exact beyond 32 bits. */
const shr = (v: number, s: number): number => (s === 0 ? v : Math.floor(v / 2 ** s));

/** cv::fillConvexPoly(img, pts, color, LINE_8, shift). Vertices are integers (fixed point when shift > 0). */
export function fillConvexPoly(img: Canvas, v: readonly Point[], c: Color3, shift = 0): void {
  const npts = v.length;
  if (npts <= 0) return;
  if (!Number.isInteger(shift) || shift < 0 || shift > XY_SHIFT) {
    throw new RangeError(`fillConvexPoly shift must be an integer in 0..16, got ${shift}`);
  }
  const W = img.width, H = img.height;
  const delta = (1 << shift) >> 1;
  const delta1 = XY_ONE >> 1, delta2 = XY_ONE >> 1;
  const up = 2 ** (XY_SHIFT - shift);

  let p0x = v[npts - 1][0] * up, p0y = v[npts - 1][1] * up;
  let xmin = v[0][0], xmax = v[0][0], ymin = v[0][1], ymax = v[0][1];
  let imin = 0;
  for (let i = 0; i < npts; i++) {
    const [x, y] = v[i];
    if (y < ymin) {
      ymin = y;
      imin = i;
    }
    if (y > ymax) ymax = y;
    if (x > xmax) xmax = x;
    if (x < xmin) xmin = x;
    const px = x * up, py = y * up;
    if (shift === 0) line8(img, [shr(p0x, XY_SHIFT), shr(p0y, XY_SHIFT)], [shr(px, XY_SHIFT), shr(py, XY_SHIFT)], c);
    else line2(img, [p0x, p0y], [px, py], c);
    p0x = px;
    p0y = py;
  }

  xmin = shr(xmin + delta, shift);
  xmax = shr(xmax + delta, shift);
  ymin = shr(ymin + delta, shift);
  ymax = shr(ymax + delta, shift);
  if (npts < 3 || xmax < 0 || ymax < 0 || xmin >= W || ymin >= H) return;
  ymax = Math.min(ymax, H - 1);

  // edge[i]: idx, di, x, dx, ye
  const eIdx = [imin, imin], eDi = [1, npts - 1], eX = [-XY_ONE, -XY_ONE], eDx = [0, 0];
  let y = ymin;
  const eYe = [y, y];
  let edges = npts;
  do {
    for (let i = 0; i < 2; i++) {
      if (y >= eYe[i]) {
        let idx0 = eIdx[i];
        const di = eDi[i];
        let idx = idx0 + di;
        if (idx >= npts) idx -= npts;
        for (; edges-- > 0; ) {
          const ty = shr(v[idx][1] + delta, shift);
          if (ty > y) {
            const xs = v[idx0][0] * up, xe = v[idx][0] * up;
            eYe[i] = ty;
            eDx[i] = Math.trunc(((xe - xs) * 2 + (ty - y)) / (2 * (ty - y)));
            eX[i] = xs;
            eIdx[i] = idx;
            break;
          }
          idx0 = idx;
          idx += di;
          if (idx >= npts) idx -= npts;
        }
      }
    }
    if (edges < 0) break;
    if (y < 0) {
      // rows above the image: nothing is drawn and no edge changes before min(0, ye₀, ye₁), so step there at once
      // (x advances by dx per row either way; exact in integers)
      const k = Math.min(0, eYe[0], eYe[1], ymax + 1) - y;
      if (k > 1) {
        eX[0] += (k - 1) * eDx[0];
        eX[1] += (k - 1) * eDx[1];
        y += k - 1;
      }
    } else {
      const left = eX[0] > eX[1] ? 1 : 0;
      let xx1 = shr(eX[left] + delta1, XY_SHIFT);
      let xx2 = shr(eX[1 - left] + delta2, XY_SHIFT);
      if (xx2 >= 0 && xx1 < W) {
        if (xx1 < 0) xx1 = 0;
        if (xx2 >= W) xx2 = W - 1;
        hline(img, y, xx1, xx2, c);
      }
    }
    eX[0] += eDx[0];
    eX[1] += eDx[1];
  } while (++y <= ymax);
}
