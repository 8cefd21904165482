// DWPose-style pose maps, pixel-exact with ControlNeXt-SVD-v2 dwpose/util.py draw_pose (OpenCV 4.6, numpy 1.24):
// ../shared/fixtures/README.md §5.9. The maps are the ControlNeXt condition, so colours, widths, drawing order and
// rounding all follow the reference, including its numpy dtype rules:
//  * limbs: canvas coordinates x·W', y·H' in the candidate's dtype (float32 for detector output, float64 after the
//    aligner's `* a + b`), centre = int(mean), length/angle from the float differences, ellipse2Poly(centre,
//    (int(len/2), 4), int(angle), 0, 360, 1) filled with fillConvexPoly, colour int(c · float32(s₁·s₂));
//  * then the whole canvas × 0.6 (float64) truncated to uint8;
//  * joints, hand edges/points and face points use int(x·W) in float64, OpenCV filled circles and 2-px lines;
//  * the canvas (min side ref_w) is resized to W×H with INTER_LINEAR and converted BGR→RGB;
//  * colours saturate to 0..255 as cv2 does with a Scalar.
import { CnextError } from '../src/core/errors.ts';
import type { Tensor } from '../src/core/tensor.ts';
import { checkDwposeFrame, type DwposeFrame, type Pose, posesToDwpose } from './keypoints.ts';
import { type Canvas, type Color3, colorFromScalar } from './raster/canvas.ts';
import { circleFilled } from './raster/circle.ts';
import { ellipse2Poly } from './raster/ellipse.ts';
import { fillConvexPoly } from './raster/fill-convex-poly.ts';
import { line } from './raster/line.ts';
import { resizeLinearU8 } from './raster/resize.ts';

export const DEFAULT_REF_W = 2160;

/** 1-based keypoint pairs; draw_bodypose uses the first 17. */
export const LIMB_SEQ: readonly (readonly [number, number])[] = [
  [2, 3], [2, 6], [3, 4], [4, 5], [6, 7], [7, 8], [2, 9], [9, 10],
  [10, 11], [2, 12], [12, 13], [13, 14], [2, 1], [1, 15], [15, 17],
  [1, 16], [16, 18], [3, 17], [6, 18],
];
export const DRAWN_LIMBS = 17;

/** Listed as RGB in util.py but written into a canvas OpenCV treats as BGR. */
export const BODY_COLORS: readonly Color3[] = [
  [255, 0, 0], [255, 85, 0], [255, 170, 0], [255, 255, 0], [170, 255, 0], [85, 255, 0], [0, 255, 0],
  [0, 255, 85], [0, 255, 170], [0, 255, 255], [0, 170, 255], [0, 85, 255], [0, 0, 255], [85, 0, 255],
  [170, 0, 255], [255, 0, 255], [255, 0, 170], [255, 0, 85],
];

export const HAND_EDGES: readonly (readonly [number, number])[] = [
  [0, 1], [1, 2], [2, 3], [3, 4], [0, 5], [5, 6], [6, 7], [7, 8], [0, 9], [9, 10],
  [10, 11], [11, 12], [0, 13], [13, 14], [14, 15], [15, 16], [0, 17], [17, 18], [18, 19], [19, 20],
];

const STICK_WIDTH = 4;
const EPS = 0.01;

/** matplotlib.colors.hsv_to_rgb for one colour (float64). */
export function hsvToRgb(h: number, s: number, v: number): [number, number, number] {
  const i = Math.trunc(h * 6.0);
  const f = h * 6.0 - i;
  const p = v * (1.0 - s);
  const q = v * (1.0 - s * f);
  const t = v * (1.0 - s * (1.0 - f));
  if (s === 0) return [v, v, v];
  switch (((i % 6) + 6) % 6) {
    case 0: return [v, t, p];
    case 1: return [q, v, p];
    case 2: return [p, v, t];
    case 3: return [p, q, v];
    case 4: return [t, p, v];
    default: return [v, p, q];
  }
}

/** Canvas size draw_pose draws on: int(H·sr) × int(W·sr), sr = ref_w / min(H, W) (1 when equal). */
export function canvasSize(height: number, width: number, refW = DEFAULT_REF_W): { width: number; height: number } {
  for (const [n, v] of [['height', height], ['width', width], ['ref_w', refW]] as const) {
    if (!Number.isInteger(v) || v <= 0) {
      throw new CnextError('INVALID_PARAMETER', `draw_pose ${n} must be a positive integer, got ${v}`);
    }
  }
  const sz = Math.min(height, width);
  const sr = sz !== refW ? refW / sz : 1;
  return { width: Math.trunc(width * sr), height: Math.trunc(height * sr) };
}

const f32 = Math.fround;
const id = (x: number) => x;
const INT_MAX = 2 ** 31 - 1;

/** Python int() of a canvas coordinate, as cv2 receives it: NaN/∞ or beyond int32 fail there too. */
function px(v: number, what: string): number {
  const t = Math.trunc(v);
  if (!(Math.abs(t) <= INT_MAX)) {
    throw new CnextError('POSE_INVALID', `${what} lies at pixel ${v}, which is not a finite 32-bit coordinate`);
  }
  return t;
}

/** numpy row index (negative counts from the end); out of range is an error, as in numpy. */
function row(idx: number, rows: number, what: string): number {
  const r = idx < 0 ? rows + idx : idx;
  if (r < 0 || r >= rows) throw new CnextError('POSE_INVALID', `${what}: index ${idx} is out of bounds for ${rows} rows`);
  return r;
}

/** Vertical extent of what the limbs touched, so the ×0.6 pass only visits those rows (exact: the rest is 0). */
interface Dirty { y0: number; y1: number }

/** draw_bodypose's limb pass (before the ×0.6). */
export function drawLimbs(canvas: Canvas, f: DwposeFrame, dirty?: Dirty): void {
  const W = canvas.width, H = canvas.height;
  const cand = f.candidate;
  const R = cand instanceof Float32Array ? f32 : id; // dtype of candidate · float(W)
  const rows = cand.length / 2;
  for (let i = 0; i < DRAWN_LIMBS; i++) {
    const [ka, kb] = LIMB_SEQ[i];
    for (let n = 0; n < f.people; n++) {
      const s0 = f.body_score[n * 18 + ka - 1], s1 = f.body_score[n * 18 + kb - 1];
      if (s0 < 0.3 || s1 < 0.3) continue;
      const i0 = row(Math.trunc(f.subset[n * 18 + ka - 1]), rows, 'subset');
      const i1 = row(Math.trunc(f.subset[n * 18 + kb - 1]), rows, 'subset');
      const Y0 = R(cand[2 * i0] * W), Y1 = R(cand[2 * i1] * W);
      const X0 = R(cand[2 * i0 + 1] * H), X1 = R(cand[2 * i1 + 1] * H);
      const mX = R(R(X0 + X1) / 2), mY = R(R(Y0 + Y1) / 2);
      const dX = R(X0 - X1), dY = R(Y0 - Y1);
      const length = Math.sqrt(dX * dX + dY * dY);
      const angle = Math.atan2(dX, dY) * (180 / Math.PI);
      const what = `body limb ${ka}-${kb} of person ${n}`;
      const poly = ellipse2Poly([px(mY, what), px(mX, what)], [px(length / 2, what), STICK_WIDTH], Math.trunc(angle), 0, 360, 1);
      const alpha = f32(s0 * s1);
      const c = BODY_COLORS[i];
      fillConvexPoly(canvas, poly, colorFromScalar([Math.trunc(c[0] * alpha), Math.trunc(c[1] * alpha), Math.trunc(c[2] * alpha)]));
      if (dirty) {
        for (const p of poly) {
          if (p[1] < dirty.y0) dirty.y0 = p[1];
          if (p[1] > dirty.y1) dirty.y1 = p[1];
        }
      }
    }
  }
}

const MUL06 = Uint8Array.from({ length: 256 }, (_, v) => Math.trunc(v * 0.6));

/** `(canvas * 0.6).astype(np.uint8)` over rows y0..y1 (float64 multiply, truncation; zero stays zero). */
export function dim(canvas: Canvas, y0 = 0, y1 = canvas.height - 1): void {
  const a = Math.max(0, y0), b = Math.min(canvas.height - 1, y1);
  if (b < a) return;
  const d = canvas.data;
  let p = a * canvas.width * 3;
  const e = (b + 1) * canvas.width * 3;
  // skip all-zero 4-byte words (most of the canvas) when the buffer is word-aligned
  if (d.byteOffset % 4 === 0) {
    for (; p < e && p % 4 !== 0; p++) d[p] = MUL06[d[p]];
    const w = new Uint32Array(d.buffer, d.byteOffset, d.length >> 2);
    const we = e >> 2;
    for (let i = p >> 2; i < we; i++) {
      if (w[i] === 0) continue;
      const q = i << 2;
      d[q] = MUL06[d[q]];
      d[q + 1] = MUL06[d[q + 1]];
      d[q + 2] = MUL06[d[q + 2]];
      d[q + 3] = MUL06[d[q + 3]];
    }
    p = we << 2;
  }
  for (; p < e; p++) d[p] = MUL06[d[p]];
}

/** draw_bodypose's joint pass. */
export function drawJoints(canvas: Canvas, f: DwposeFrame): void {
  const W = canvas.width, H = canvas.height;
  const rows = f.candidate.length / 2;
  for (let i = 0; i < 18; i++) {
    for (let n = 0; n < f.people; n++) {
      const index = Math.trunc(f.subset[n * 18 + i]);
      if (index === -1) continue;
      const r = row(index, rows, 'subset');
      const x = px(f.candidate[2 * r] * W, `body point ${i}`), y = px(f.candidate[2 * r + 1] * H, `body point ${i}`);
      const conf = f.body_score[n * 18 + i];
      const c = BODY_COLORS[i];
      circleFilled(canvas, x, y, 4, colorFromScalar([Math.trunc(c[0] * conf), Math.trunc(c[1] * conf), Math.trunc(c[2] * conf)]));
    }
  }
}

const HAND_RGB = HAND_EDGES.map((_, ie) => hsvToRgb(ie / HAND_EDGES.length, 1.0, 1.0));

/** draw_handpose: every hand's 20 edges (2-px lines), then its 21 points (radius 4, colour (0, 0, score)). */
export function drawHands(canvas: Canvas, f: DwposeFrame): void {
  const W = canvas.width, H = canvas.height;
  const hands = 2 * f.people;
  for (let h = 0; h < hands; h++) {
    const P = (j: number) => (h * 21 + j) * 2;
    const S = (j: number) => f.hands_score[h * 21 + j];
    for (let ie = 0; ie < HAND_EDGES.length; ie++) {
      const [a, b] = HAND_EDGES[ie];
      const x1 = px(f.hands[P(a)] * W, 'hand point'), y1 = px(f.hands[P(a) + 1] * H, 'hand point');
      const x2 = px(f.hands[P(b)] * W, 'hand point'), y2 = px(f.hands[P(b) + 1] * H, 'hand point');
      const score = Math.trunc(f32(S(a) * S(b)) * 255);
      if (x1 > EPS && y1 > EPS && x2 > EPS && y2 > EPS) {
        const rgb = HAND_RGB[ie];
        line(canvas, [x1, y1], [x2, y2], colorFromScalar([rgb[0] * score, rgb[1] * score, rgb[2] * score]), 2);
      }
    }
    for (let j = 0; j < 21; j++) {
      const x = px(f.hands[P(j)] * W, 'hand point'), y = px(f.hands[P(j) + 1] * H, 'hand point');
      const score = Math.trunc(S(j) * 255);
      if (x > EPS && y > EPS) circleFilled(canvas, x, y, 4, colorFromScalar([0, 0, score]));
    }
  }
}

/** draw_facepose: every landmark, radius 3, grey int(score·255). */
export function drawFaces(canvas: Canvas, f: DwposeFrame): void {
  const W = canvas.width, H = canvas.height;
  const n = f.faces_score.length;
  for (let k = 0; k < n; k++) {
    const x = px(f.faces[2 * k] * W, 'face point'), y = px(f.faces[2 * k + 1] * H, 'face point');
    const conf = Math.trunc(f.faces_score[k] * 255);
    if (x > EPS && y > EPS) circleFilled(canvas, x, y, 3, colorFromScalar([conf, conf, conf]));
  }
}

/**
 * Renders frames of one size, re-using the large drawing canvas between calls (it is cleared after each
 * render). `render` returns the W×H canvas in the channel order it was drawn (OpenCV's "BGR").
 */
export class PoseRenderer {
  readonly width: number;
  readonly height: number;
  readonly refW: number;
  private readonly big: Canvas;

  constructor(height: number, width: number, refW = DEFAULT_REF_W) {
    const size = canvasSize(height, width, refW);
    this.width = width;
    this.height = height;
    this.refW = refW;
    this.big = { ...size, data: new Uint8Array(size.width * size.height * 3) };
  }

  /** draw_pose before the BGR→RGB conversion: (H, W, 3) in drawing order. */
  render(frame: DwposeFrame): Canvas {
    checkDwposeFrame(frame);
    const big = this.big;
    big.data.fill(0);
    const dirty: Dirty = { y0: Number.POSITIVE_INFINITY, y1: Number.NEGATIVE_INFINITY };
    drawLimbs(big, frame, dirty);
    if (dirty.y1 >= dirty.y0) dim(big, dirty.y0, dirty.y1);
    drawJoints(big, frame);
    drawHands(big, frame);
    drawFaces(big, frame);
    return resizeLinearU8(big, this.width, this.height);
  }

  /** draw_pose's return value: uint8 (3, H, W), RGB. */
  renderChw(frame: DwposeFrame): Tensor<'uint8'> {
    const c = this.render(frame);
    const n = c.width * c.height;
    const out = new Uint8Array(3 * n);
    const d = c.data;
    for (let p = 0; p < n; p++) {
      out[p] = d[3 * p + 2];
      out[n + p] = d[3 * p + 1];
      out[2 * n + p] = d[3 * p];
    }
    return { type: 'uint8', dims: [3, c.height, c.width], data: out };
  }

  /** The same image as (H, W, 3) RGB, for video encoding. */
  renderRgb(frame: DwposeFrame): Canvas {
    const c = this.render(frame);
    const d = c.data;
    for (let p = 0; p < d.length; p += 3) {
      const t = d[p];
      d[p] = d[p + 2];
      d[p + 2] = t;
    }
    return c;
  }
}

/** dwpose/util.py draw_pose(pose, H, W, ref_w) → uint8 (3, H, W) RGB. */
export function drawPose(frame: DwposeFrame, height: number, width: number, refW = DEFAULT_REF_W): Tensor<'uint8'> {
  return new PoseRenderer(height, width, refW).renderChw(frame);
}

/** People (normalised keypoints) → (H, W, 3) RGB pose map. */
export function renderPoses(poses: readonly Pose[], height: number, width: number, refW = DEFAULT_REF_W): Canvas {
  return new PoseRenderer(height, width, refW).renderRgb(posesToDwpose(poses));
}
