// OpenCV 4.x ellipse2Poly (modules/imgproc/src/drawing.cpp): points of an elliptic arc at integer-degree steps,
// using OpenCV's 7-digit float sine table, computed in double and rounded with cvRound; consecutive duplicates
// are dropped; a single remaining point becomes two copies of the centre.
import { cvRound, type Point } from './canvas.ts';

/** SinTable[i] = (float) sin(i°) written to 7 decimals, i = 0..450 (cos(a) = SinTable[450 − a]). */
export const SIN_TABLE: Float32Array = (() => {
  const t = new Float32Array(451);
  for (let i = 0; i <= 450; i++) t[i] = Number(Math.sin((i * Math.PI) / 180).toFixed(7));
  return t;
})();

/** Unrounded points (ellipse2Poly's Point2d overload). */
export function ellipse2PolyF(
  cx: number, cy: number, axW: number, axH: number, angle: number, arcStart: number, arcEnd: number, delta: number,
): [number, number][] {
  for (const [n, v] of [['angle', angle], ['arcStart', arcStart], ['arcEnd', arcEnd], ['delta', delta]] as const) {
    if (!Number.isInteger(v)) throw new RangeError(`ellipse2Poly ${n} must be an integer, got ${v}`);
  }
  if (delta <= 0) throw new RangeError(`ellipse2Poly delta must be positive, got ${delta}`);
  while (angle < 0) angle += 360;
  while (angle > 360) angle -= 360;
  if (arcStart > arcEnd) [arcStart, arcEnd] = [arcEnd, arcStart];
  while (arcStart < 0) {
    arcStart += 360;
    arcEnd += 360;
  }
  while (arcEnd > 360) {
    arcEnd -= 360;
    arcStart -= 360;
  }
  if (arcEnd - arcStart > 360) {
    arcStart = 0;
    arcEnd = 360;
  }
  // sincos(angle): angle is in 0..360 here
  const beta = SIN_TABLE[angle];
  const alpha = SIN_TABLE[450 - angle];
  const pts: [number, number][] = [];
  for (let i = arcStart; i < arcEnd + delta; i += delta) {
    let a = i;
    if (a > arcEnd) a = arcEnd;
    if (a < 0) a += 360;
    const x = axW * SIN_TABLE[450 - a];
    const y = axH * SIN_TABLE[a];
    pts.push([cx + x * alpha - y * beta, cy + x * beta + y * alpha]);
  }
  if (pts.length === 1) return [[cx, cy], [cx, cy]];
  return pts;
}

/** cv::ellipse2Poly(center, axes, angle, arcStart, arcEnd, delta) → integer polygon. */
export function ellipse2Poly(
  center: Point, axes: readonly [number, number], angle: number, arcStart: number, arcEnd: number, delta: number,
): [number, number][] {
  const f = ellipse2PolyF(center[0], center[1], axes[0], axes[1], angle, arcStart, arcEnd, delta);
  const out: [number, number][] = [];
  let px = Number.NaN, py = Number.NaN;
  for (const [x, y] of f) {
    const rx = cvRound(x), ry = cvRound(y);
    if (rx !== px || ry !== py) {
      out.push([rx, ry]);
      px = rx;
      py = ry;
    }
  }
  if (out.length === 1) return [[center[0], center[1]], [center[0], center[1]]];
  return out;
}
