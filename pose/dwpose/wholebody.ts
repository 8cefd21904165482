// ControlNeXt-SVD-v2 dwpose/wholebody.py and dwpose_detector.py: detector → pose model → neck + OpenPose order
// → the structure draw_pose and get_video_pose consume (../shared/fixtures/README.md §7.6.4):
//  * neck = mean of the shoulders (5, 6), score 1 if both shoulder scores > 0.3 else 0, inserted at index 17;
//  * COCO → OpenPose: [1,2,3,4,6,7,8,9,10,12,13,14,15,16,17] ← [17,6,8,10,7,9,12,14,16,13,15,2,1,4,3];
//    result 0–17 body, 18–23 feet (dropped), 24–91 face, 92–112 left hand, 113–133 right hand;
//  * x / W, y / H (float64); subset 18·n + j where score > 0.3 else −1; hands = every left, then every right.
import type { DwposeFrame } from '../keypoints.ts';
import type { Canvas } from '../raster/canvas.ts';
import { type DetectorResult, inferenceDetector } from './onnxdet.ts';
import { inferencePose, NUM_KEYPOINTS, type PoseResult } from './onnxpose.ts';
import type { NetSession } from './net.ts';

export const WHOLEBODY_POINTS = NUM_KEYPOINTS + 1;
const NECK_INDEX = 17;
const MMPOSE_IDX = [17, 6, 8, 10, 7, 9, 12, 14, 16, 13, 15, 2, 1, 4, 3];
const OPENPOSE_IDX = [1, 2, 3, 4, 6, 7, 8, 9, 10, 12, 13, 14, 15, 16, 17];
const VISIBLE = 0.3;
const BODY = [0, 18] as const, FACE = [24, 92] as const, LEFT_HAND = [92, 113] as const, RIGHT_HAND = [113, 134] as const;

/** Wholebody.__call__ after the networks: (N, 133) → (N, 134) with the neck and OpenPose body order. */
export function assembleWholebody(p: Pick<PoseResult, 'keypoints' | 'scores' | 'people'>): { keypoints: Float64Array; scores: Float64Array } {
  const N = p.people, K = NUM_KEYPOINTS, K1 = WHOLEBODY_POINTS;
  const kp = new Float64Array(N * K1 * 2), sc = new Float64Array(N * K1);
  for (let n = 0; n < N; n++) {
    const src = (k: number) => n * K + k;
    // np.insert(keypoints_info, 17, neck, axis=1)
    const ins = new Float64Array(K1 * 3);
    for (let k = 0, j = 0; j < K1; j++) {
      if (j === NECK_INDEX) {
        const a = src(5), b = src(6);
        ins[3 * j] = (p.keypoints[2 * a] + p.keypoints[2 * b]) / 2;
        ins[3 * j + 1] = (p.keypoints[2 * a + 1] + p.keypoints[2 * b + 1]) / 2;
        ins[3 * j + 2] = p.scores[a] > VISIBLE && p.scores[b] > VISIBLE ? 1 : 0;
        continue;
      }
      ins[3 * j] = p.keypoints[2 * src(k)];
      ins[3 * j + 1] = p.keypoints[2 * src(k) + 1];
      ins[3 * j + 2] = p.scores[src(k)];
      k++;
    }
    // new[openpose_idx] = new[mmpose_idx] (the right-hand side is read before any write)
    const moved = MMPOSE_IDX.map((m) => [ins[3 * m], ins[3 * m + 1], ins[3 * m + 2]]);
    OPENPOSE_IDX.forEach((o, i) => ins.set(moved[i], 3 * o));
    for (let j = 0; j < K1; j++) {
      kp[(n * K1 + j) * 2] = ins[3 * j];
      kp[(n * K1 + j) * 2 + 1] = ins[3 * j + 1];
      sc[n * K1 + j] = ins[3 * j + 2];
    }
  }
  return { keypoints: kp, scores: sc };
}

/** DWposeDetector.__call__'s layout of the whole-body result, normalised by the image size. */
export function toDwposeFrame(wb: { keypoints: Float64Array; scores: Float64Array }, people: number, width: number, height: number): DwposeFrame {
  const N = people, K1 = WHOLEBODY_POINTS;
  const range = (r: readonly [number, number]) => r[1] - r[0];
  const coords = (ranges: ReadonlyArray<readonly [number, number]>) => {
    const rows = ranges.reduce((a, r) => a + N * range(r), 0);
    const xy = new Float64Array(rows * 2), s = new Float32Array(rows);
    let o = 0;
    for (const r of ranges) {
      for (let n = 0; n < N; n++) {
        for (let j = r[0]; j < r[1]; j++, o++) {
          xy[2 * o] = wb.keypoints[(n * K1 + j) * 2] / width;
          xy[2 * o + 1] = wb.keypoints[(n * K1 + j) * 2 + 1] / height;
          s[o] = wb.scores[n * K1 + j];
        }
      }
    }
    return { xy, s };
  };
  const body = coords([BODY]);
  const subset = new Float32Array(N * 18);
  for (let i = 0; i < N * 18; i++) subset[i] = body.s[i] > VISIBLE ? i : -1;
  const faces = coords([FACE]);
  const hands = coords([LEFT_HAND, RIGHT_HAND]);
  return {
    people: N,
    candidate: body.xy,
    subset,
    body_score: body.s,
    hands: hands.xy,
    hands_score: hands.s,
    faces: faces.xy,
    faces_score: faces.s,
  };
}

export interface DwposeDebug {
  readonly detector: DetectorResult;
  readonly pose: PoseResult;
  readonly wholebody: { keypoints: Float64Array; scores: Float64Array };
}

/** DWposeDetector(det, pose)(img): the image is used as given (RGB in ControlNeXt). */
export async function dwposeDetect(det: NetSession, pose: NetSession, img: Canvas): Promise<{ frame: DwposeFrame; debug: DwposeDebug }> {
  const detector = await inferenceDetector(det, img);
  const p = await inferencePose(pose, detector.boxes, img);
  const wholebody = assembleWholebody(p);
  return { frame: toDwposeFrame(wholebody, p.people, img.width, img.height), debug: { detector, pose: p, wholebody } };
}
