// The DWPose whole-body model around dw-ll_ucoco_384.onnx, as ControlNeXt-SVD-v2 dwpose/onnxpose.py runs it
// (../shared/fixtures/README.md §7.6.3–7.6.4): per box, centre/scale with padding 1.25 grown to the model's aspect,
// cv2's affine crop to the model size (bit-exact warp), ImageNet normalisation, one session run, SimCC decoding
// (first argmax, score = min of the two maxima, split ratio 2) and the rescale to image pixels (float64).
import { CnextError } from '../../src/core/errors.ts';
import type { Tensor } from '../../src/core/tensor.ts';
import type { Canvas } from '../raster/canvas.ts';
import { type Affine, getAffineTransform, type Point2, warpAffineLinearU8 } from '../raster/warp-affine.ts';
import type { NetSession } from './net.ts';

export const PADDING = 1.25;
export const MEAN: readonly number[] = [123.675, 116.28, 103.53];
export const STD: readonly number[] = [58.395, 57.12, 57.375];
export const SIMCC_SPLIT_RATIO = 2.0;
export const NUM_KEYPOINTS = 133;

const f32 = Math.fround;

export type Box = readonly [number, number, number, number];

/** bbox_xyxy2cs + _fix_aspect_ratio (float64): centre and the scale after growing to aspect w/h. */
export function boxCenterScale(box: Box, aspect: number, padding = PADDING): { center: [number, number]; scale: [number, number] } {
  const [x0, y0, x1, y1] = box;
  const center: [number, number] = [(x0 + x1) * 0.5, (y0 + y1) * 0.5];
  const w = (x1 - x0) * padding, h = (y1 - y0) * padding;
  const scale: [number, number] = w > h * aspect ? [w, w / aspect] : [h * aspect, h];
  return { center, scale };
}

/** _get_3rd_point on float32 points: b + (−(a−b).y, (a−b).x). */
function thirdPoint(a: Point2, b: Point2): Point2 {
  const dx = f32(a[0] - b[0]), dy = f32(a[1] - b[1]);
  return [f32(b[0] + -dy), f32(b[1] + dx)];
}

/** get_warp_matrix(center, scale, rot = 0, (w, h)): three float32 point pairs → cv2.getAffineTransform. */
export function getWarpMatrix(center: readonly [number, number], scale: readonly [number, number], w: number, h: number): Affine {
  const dirY = scale[0] * -0.5;
  const s0: Point2 = [f32(center[0]), f32(center[1])];
  const s1: Point2 = [f32(center[0]), f32(center[1] + dirY)];
  const d0: Point2 = [f32(w * 0.5), f32(h * 0.5)];
  const d1: Point2 = [f32(w * 0.5), f32(h * 0.5 + w * -0.5)];
  return getAffineTransform([s0, s1, thirdPoint(s0, s1)], [d0, d1, thirdPoint(d0, d1)]);
}

/** float32((v − mean[c]) / std[c]) computed in float64, for every uint8 value: (3, 256). */
export function normLut(): Float32Array {
  const lut = new Float32Array(3 * 256);
  for (let c = 0; c < 3; c++) for (let v = 0; v < 256; v++) lut[c * 256 + v] = (v - MEAN[c]) / STD[c];
  return lut;
}
const NORM_LUT = normLut();

export interface Crop {
  readonly center: [number, number];
  readonly scale: [number, number];
  readonly warpMat: Affine;
  /** (h, w, 3) the cv2.warpAffine output */
  readonly warped: Canvas;
  /** (1, 3, h, w) the model input */
  readonly input: Tensor<'float32'>;
}

/** onnxpose.preprocess: one crop per box; no box → the whole image [0, 0, W, H]. `size` = model input (w, h). */
export function preprocess(img: Canvas, boxes: readonly Box[], size: readonly [number, number]): Crop[] {
  const [w, h] = size;
  const list: readonly Box[] = boxes.length ? boxes : [[0, 0, img.width, img.height]];
  return list.map((box) => {
    const { center, scale } = boxCenterScale(box, w / h);
    const warpMat = getWarpMatrix(center, scale, w, h);
    const warped = warpAffineLinearU8(img, warpMat, w, h);
    const plane = w * h;
    const data = new Float32Array(3 * plane);
    const px = warped.data;
    for (let i = 0; i < plane; i++) {
      data[i] = NORM_LUT[px[3 * i]];
      data[plane + i] = NORM_LUT[256 + px[3 * i + 1]];
      data[2 * plane + i] = NORM_LUT[512 + px[3 * i + 2]];
    }
    return { center, scale, warpMat, warped, input: { type: 'float32', dims: [1, 3, h, w], data } };
  });
}

/**
 * get_simcc_maximum + decode for one instance: per keypoint the first argmax of each axis, score = the smaller
 * maximum (float32), locations −1 where score ≤ 0, then / split ratio. simccX (K, Wx), simccY (K, Wy).
 */
export function decodeSimcc(simccX: Float32Array, simccY: Float32Array, K: number, ratio = SIMCC_SPLIT_RATIO): { locs: Float32Array; scores: Float32Array } {
  const wx = simccX.length / K, wy = simccY.length / K;
  const locs = new Float32Array(2 * K), scores = new Float32Array(K);
  const argmax = (a: Float32Array, o: number, n: number): [number, number] => {
    let best = o;
    for (let i = o + 1; i < o + n; i++) if (a[i] > a[best]) best = i;
    return [best - o, a[best]];
  };
  for (let k = 0; k < K; k++) {
    const [xi, mx] = argmax(simccX, k * wx, wx);
    const [yi, my] = argmax(simccY, k * wy, wy);
    const v = mx > my ? my : mx;
    scores[k] = v;
    locs[2 * k] = f32((v <= 0 ? -1 : xi) / ratio);
    locs[2 * k + 1] = f32((v <= 0 ? -1 : yi) / ratio);
  }
  return { locs, scores };
}

export interface PoseResult {
  /** (N, K, 2) image pixels, float64 */
  readonly keypoints: Float64Array;
  /** (N, K) float32 */
  readonly scores: Float32Array;
  readonly crops: Crop[];
  readonly people: number;
}

/** The model input size (w, h) a pose session declares: reversed last two dims of its first input. */
export function modelInputSize(session: NetSession): [number, number] {
  const d = session.inputDims;
  const h = d[2], w = d[3];
  if (d.length !== 4 || !(h > 0) || !(w > 0)) {
    throw new CnextError('DWPOSE_MODEL_INVALID', `The pose model's input has shape [${d.join(', ')}]; it needs a fixed [1, 3, H, W] (dw-ll_ucoco_384.onnx: [1, 3, 384, 288])`);
  }
  return [w, h];
}

function checkSimcc(t: Tensor<'float32'> | undefined, axis: 'x' | 'y', bins: number): Float32Array {
  if (!t || t.type !== 'float32' || t.dims.length !== 3 || t.dims[0] !== 1 || t.dims[1] !== NUM_KEYPOINTS || t.dims[2] !== bins) {
    const got = t ? `${t.type} [${t.dims.join(', ')}]` : 'nothing';
    throw new CnextError('DWPOSE_POSE_OUTPUT', `The pose model's simcc_${axis} output is ${got}, expected float32 [1, ${NUM_KEYPOINTS}, ${bins}] (${NUM_KEYPOINTS} COCO-WholeBody keypoints, split ratio ${SIMCC_SPLIT_RATIO})`, {
      category: 'third-party',
      solutions: ['Use dw-ll_ucoco_384.onnx from yzd-v/DWPose (cnext models pull dwpose)'],
    });
  }
  return t.data;
}

/** onnxpose.inference_pose(session, boxes, img): one run per box; outputs taken by position (x, then y). */
export async function inferencePose(session: NetSession, boxes: readonly Box[], img: Canvas): Promise<PoseResult> {
  const [w, h] = modelInputSize(session);
  const crops = preprocess(img, boxes, [w, h]);
  const N = crops.length, K = NUM_KEYPOINTS;
  const keypoints = new Float64Array(N * K * 2), scores = new Float32Array(N * K);
  for (let n = 0; n < N; n++) {
    const outs = await session.run(crops[n].input);
    const sx = checkSimcc(outs[0], 'x', Math.round(w * SIMCC_SPLIT_RATIO));
    const sy = checkSimcc(outs[1], 'y', Math.round(h * SIMCC_SPLIT_RATIO));
    const { locs, scores: sc } = decodeSimcc(sx, sy, K);
    const { center, scale } = crops[n];
    for (let k = 0; k < K; k++) {
      const o = (n * K + k) * 2;
      keypoints[o] = (locs[2 * k] / w) * scale[0] + center[0] - scale[0] / 2;
      keypoints[o + 1] = (locs[2 * k + 1] / h) * scale[1] + center[1] - scale[1] / 2;
      scores[n * K + k] = sc[k];
    }
  }
  return { keypoints, scores, crops, people: N };
}
