// The YOLOX-L person detector around yolox_l.onnx, as ControlNeXt-SVD-v2 dwpose/onnxdet.py runs it
// (../shared/fixtures/README.md §7.6.1–7.6.2): letterbox to 640×640 (cv2 INTER_LINEAR, pad 114, raw 0–255 values),
// grid/stride decoding of the 8400 anchors, per-class greedy NMS with the +1 pixel convention, then persons with
// score > 0.3, in descending score, unclipped. Float semantics follow numpy's: float32 where the reference's arrays
// are float32, float64 where it promotes.
import { CnextError } from '../../src/core/errors.ts';
import type { Tensor } from '../../src/core/tensor.ts';
import type { Canvas } from '../raster/canvas.ts';
import { resizeLinearU8 } from '../raster/resize.ts';
import type { NetSession } from './net.ts';

export const DET_INPUT_HW: readonly [number, number] = [640, 640];
export const STRIDES: readonly number[] = [8, 16, 32];
export const PAD_VALUE = 114;
export const NMS_THR = 0.45;
export const SCORE_THR = 0.1;
export const FINAL_SCORE_THR = 0.3;
export const PERSON_CLASS = 0;

const f32 = Math.fround;

export interface Letterboxed {
  /** (1, 3, H, W) float32, 114 outside the resized image */
  readonly input: Tensor<'float32'>;
  /** r = min(H/h, W/w), float64 */
  readonly ratio: number;
  /** the cv2.resize output, (h', w', 3) */
  readonly resized: Canvas;
}

/** onnxdet.preprocess(img, input_size): letterbox without normalisation. */
export function preprocess(img: Canvas, inputHw: readonly [number, number] = DET_INPUT_HW): Letterboxed {
  const [IH, IW] = inputHw;
  const r = Math.min(IH / img.height, IW / img.width);
  // int() truncates the float64 product (H = 303 → 639.9999999999999 → 639 rows)
  const w = Math.trunc(img.width * r), h = Math.trunc(img.height * r);
  if (w < 1 || h < 1) {
    throw new CnextError('DWPOSE_INPUT', `Image ${img.width}×${img.height} is too thin for the ${IW}×${IH} detector input (it would be resized to ${w}×${h})`);
  }
  const resized = resizeLinearU8(img, w, h);
  const plane = IH * IW;
  const data = new Float32Array(3 * plane).fill(PAD_VALUE);
  const src = resized.data;
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const p = (y * w + x) * 3, q = y * IW + x;
      data[q] = src[p];
      data[plane + q] = src[p + 1];
      data[2 * plane + q] = src[p + 2];
    }
  }
  return { input: { type: 'float32', dims: [1, 3, IH, IW], data }, ratio: r, resized };
}

/** Number of anchors of a YOLOX head for this input size (8400 for 640×640). */
export function anchorCount(inputHw: readonly [number, number] = DET_INPUT_HW): number {
  return STRIDES.reduce((n, s) => n + Math.floor(inputHw[0] / s) * Math.floor(inputHw[1] / s), 0);
}

export interface Decoded {
  /** (A, 4) x0, y0, x1, y1 in original-image pixels, float32 values */
  readonly boxes: Float32Array;
  /** (A, C) objectness · class probability, float32 */
  readonly scores: Float32Array;
  readonly classes: number;
}

/**
 * demo_postprocess + the box/score part of inference_detector on the raw output (1, A, 5 + C):
 * (x, y) = (offset + cell)·stride, (w, h) = exp(log-size)·stride (float32 exp), corners, then / float32(ratio).
 */
export function decodeOutput(raw: Tensor<'float32'>, ratio: number, inputHw: readonly [number, number] = DET_INPUT_HW): Decoded {
  const A = anchorCount(inputHw);
  const [b, a, cols] = raw.dims;
  if (raw.dims.length !== 3 || b !== 1 || a !== A || cols < 6) {
    throw new CnextError('DWPOSE_DETECTOR_OUTPUT', `The detector returned shape [${raw.dims.join(', ')}], expected [1, ${A}, 85] (YOLOX: 4 box + objectness + class scores per anchor)`, {
      category: 'third-party',
      solutions: ['Use yolox_l.onnx from yzd-v/DWPose (cnext models pull dwpose)'],
    });
  }
  const C = cols - 5;
  const out = raw.data;
  const boxes = new Float32Array(A * 4);
  const scores = new Float32Array(A * C);
  const rr = f32(ratio);
  let i = 0;
  for (const stride of STRIDES) {
    const hs = Math.floor(inputHw[0] / stride), ws = Math.floor(inputHw[1] / stride);
    for (let gy = 0; gy < hs; gy++) {
      for (let gx = 0; gx < ws; gx++, i++) {
        const o = i * cols;
        // float32 + int64 → float64 in numpy, × stride, stored back into the float32 array
        const x = f32((out[o] + gx) * stride);
        const y = f32((out[o + 1] + gy) * stride);
        const w = f32(f32(Math.exp(out[o + 2])) * stride);
        const h = f32(f32(Math.exp(out[o + 3])) * stride);
        const hw = f32(w / 2), hh = f32(h / 2);
        boxes[i * 4] = f32(f32(x - hw) / rr);
        boxes[i * 4 + 1] = f32(f32(y - hh) / rr);
        boxes[i * 4 + 2] = f32(f32(x + hw) / rr);
        boxes[i * 4 + 3] = f32(f32(y + hh) / rr);
        const obj = out[o + 4];
        for (let c = 0; c < C; c++) scores[i * C + c] = f32(obj * out[o + 5 + c]);
      }
    }
  }
  return { boxes, scores, classes: C };
}

/** onnxdet.nms: greedy single-class NMS, float32, +1 pixel convention; returns kept indices into `idx`. */
export function nms(boxes: Float32Array, idx: readonly number[], scores: readonly number[], thr: number): number[] {
  const t = f32(thr);
  const area = (i: number) => f32(f32(f32(boxes[i * 4 + 2] - boxes[i * 4]) + 1) * f32(f32(boxes[i * 4 + 3] - boxes[i * 4 + 1]) + 1));
  // argsort ascending, reversed: ties (never in practice) put the later index first
  let order = idx.map((_, k) => k).sort((p, q) => scores[p] - scores[q] || p - q).reverse();
  const keep: number[] = [];
  while (order.length) {
    const k = order[0];
    keep.push(k);
    const i = idx[k];
    const ai = area(i);
    const rest: number[] = [];
    for (let n = 1; n < order.length; n++) {
      const j = idx[order[n]];
      const xx1 = Math.max(boxes[i * 4], boxes[j * 4]), yy1 = Math.max(boxes[i * 4 + 1], boxes[j * 4 + 1]);
      const xx2 = Math.min(boxes[i * 4 + 2], boxes[j * 4 + 2]), yy2 = Math.min(boxes[i * 4 + 3], boxes[j * 4 + 3]);
      const w = Math.max(0, f32(f32(xx2 - xx1) + 1)), h = Math.max(0, f32(f32(yy2 - yy1) + 1));
      const inter = f32(w * h);
      const ovr = f32(inter / f32(f32(ai + area(j)) - inter));
      if (ovr <= t) rest.push(order[n]);
    }
    order = rest;
  }
  return keep;
}

/** One multiclass_nms row: box (float32 values), score (float32 value), class id. */
export interface Detection {
  readonly box: readonly [number, number, number, number];
  readonly score: number;
  readonly cls: number;
}

/** onnxdet.multiclass_nms: per class, score > float32(thr), NMS; class blocks in class order; null when empty. */
export function multiclassNms(d: Decoded, nmsThr = NMS_THR, scoreThr = SCORE_THR): Detection[] | null {
  const thr = f32(scoreThr);
  const A = d.boxes.length / 4;
  const out: Detection[] = [];
  for (let c = 0; c < d.classes; c++) {
    const idx: number[] = [];
    const sc: number[] = [];
    for (let a = 0; a < A; a++) {
      const s = d.scores[a * d.classes + c];
      if (s > thr) {
        idx.push(a);
        sc.push(s);
      }
    }
    if (!idx.length) continue;
    for (const k of nms(d.boxes, idx, sc, nmsThr)) {
      const a = idx[k];
      out.push({ box: [d.boxes[a * 4], d.boxes[a * 4 + 1], d.boxes[a * 4 + 2], d.boxes[a * 4 + 3]], score: sc[k], cls: c });
    }
  }
  return out.length ? out : null;
}

/** Final filter of inference_detector: class 0 with score > 0.3 (float64 comparison), in dets order. */
export function personBoxes(dets: readonly Detection[] | null): Array<readonly [number, number, number, number]> {
  if (!dets) return [];
  return dets.filter((d) => d.score > FINAL_SCORE_THR && d.cls === PERSON_CLASS).map((d) => d.box);
}

export interface DetectorResult {
  /** person boxes (x0, y0, x1, y1) in image pixels, descending score */
  readonly boxes: Array<readonly [number, number, number, number]>;
  /** multiclass_nms result before the person / score filter (null: nothing above 0.1) */
  readonly dets: Detection[] | null;
  readonly ratio: number;
}

/** onnxdet.inference_detector(session, img). The image is used as given (RGB in ControlNeXt). */
export async function inferenceDetector(session: NetSession, img: Canvas): Promise<DetectorResult> {
  // the reference hard-codes 640×640 whatever the model declares (the model check in session.ts requires it)
  const { input, ratio } = preprocess(img, DET_INPUT_HW);
  const [raw] = await session.run(input);
  const dets = multiclassNms(decodeOutput(raw, ratio, DET_INPUT_HW));
  return { boxes: personBoxes(dets), dets, ratio };
}
