// The keypoint schema shared by detection, smoothing, alignment and rendering, and its conversion to and from
// the structure ControlNeXt's DWPose detector returns (dwpose/dwpose_detector.py), which is what the renderer
// (dwpose/util.py draw_pose) and the aligner (dwpose/preprocess.py get_video_pose) consume.
// Fixture layout: ../shared/fixtures/README.md §4.8, §4.9.
import { CnextError } from '../src/core/errors.ts';

/** [x, y, score]: x, y normalised by the image width / height (0..1 inside the image); score 0 = missing. */
export type Keypoint = [x: number, y: number, score: number];

/** One person. */
export interface Pose {
  /** 18 points, OpenPose order (BODY_NAMES). */
  body: Keypoint[];
  /** [left, right] hand of the person, 21 points each (MediaPipe / OpenPose hand topology). */
  hands: [Keypoint[], Keypoint[]];
  /** 68 points (iBUG / DWPose face order) or null when no face was detected. */
  face: Keypoint[] | null;
}

export const BODY_POINTS = 18;
export const HAND_POINTS = 21;
export const FACE_POINTS = 68;

/** OpenPose-18 order (index = DWPose candidate row within a person). */
export const BODY_NAMES = [
  'nose', 'neck',
  'right_shoulder', 'right_elbow', 'right_wrist',
  'left_shoulder', 'left_elbow', 'left_wrist',
  'right_hip', 'right_knee', 'right_ankle',
  'left_hip', 'left_knee', 'left_ankle',
  'right_eye', 'left_eye', 'right_ear', 'left_ear',
] as const;

/** DWPose marks a body point as present in `subset` when its score is > 0.3 (dwpose_detector.py). */
export const SUBSET_SCORE_THRESHOLD = 0.3;

/** Coordinate written into the DWPose structure for a point with score 0: negative, so draw_pose skips it. */
export const MISSING_COORD = -1;

/**
 * The dict DWposeDetector returns, flattened to typed arrays (row-major), names as in the fixtures.
 * Coordinates are float32 as the detector returns them; after the reference rescale (`* a + b` with float64 a, b)
 * they are float64 — the array type carries that dtype, and the renderer follows numpy's arithmetic for it.
 * Scores and subset stay float32.
 */
export interface DwposeFrame {
  /** N, the number of people. */
  readonly people: number;
  /** (N·18, 2) x, y */
  readonly candidate: Float32Array | Float64Array;
  /** (N, 18) row index 18·n + j as a float, or −1 when body_score ≤ 0.3 */
  readonly subset: Float32Array;
  /** (N, 18) */
  readonly body_score: Float32Array;
  /** (2N, 21, 2): left hand of every person, then right hand of every person */
  readonly hands: Float32Array | Float64Array;
  /** (2N, 21) */
  readonly hands_score: Float32Array;
  /** (N, 68, 2) */
  readonly faces: Float32Array | Float64Array;
  /** (N, 68) */
  readonly faces_score: Float32Array;
}

export const DWPOSE_FIELDS = [
  'candidate', 'subset', 'body_score', 'hands', 'hands_score', 'faces', 'faces_score',
] as const;
export type DwposeField = (typeof DWPOSE_FIELDS)[number];

/** Expected length of each array for N people. */
export function dwposeSizes(people: number): Record<DwposeField, number> {
  return {
    candidate: people * BODY_POINTS * 2,
    subset: people * BODY_POINTS,
    body_score: people * BODY_POINTS,
    hands: 2 * people * HAND_POINTS * 2,
    hands_score: 2 * people * HAND_POINTS,
    faces: people * FACE_POINTS * 2,
    faces_score: people * FACE_POINTS,
  };
}

/** Throws POSE_INVALID when an array has the wrong length for `people`. */
export function checkDwposeFrame(f: DwposeFrame): void {
  if (!Number.isInteger(f.people) || f.people < 0) {
    throw new CnextError('POSE_INVALID', `DWPose frame: people must be a non-negative integer, got ${f.people}`);
  }
  const sizes = dwposeSizes(f.people);
  for (const k of DWPOSE_FIELDS) {
    if (f[k].length !== sizes[k]) {
      throw new CnextError(
        'POSE_INVALID',
        `DWPose frame with ${f.people} people: ${k} needs ${sizes[k]} values, got ${f[k].length}`,
      );
    }
    const a = f[k];
    for (let i = 0; i < a.length; i++) {
      if (!Number.isFinite(a[i])) {
        throw new CnextError('POSE_INVALID', `DWPose frame: ${k}[${i}] is ${a[i]} (coordinates and scores must be finite)`);
      }
    }
  }
}

/** An empty pose: every point missing, no face. */
export function emptyPose(): Pose {
  const miss = (n: number): Keypoint[] => Array.from({ length: n }, () => [0, 0, 0] as Keypoint);
  return { body: miss(BODY_POINTS), hands: [miss(HAND_POINTS), miss(HAND_POINTS)], face: null };
}

/** Throws POSE_INVALID unless `p` has 18 body, 2×21 hand and null-or-68 face points of 3 finite numbers. */
export function checkPose(p: Pose, label = 'pose'): void {
  const bad = (msg: string) => new CnextError('POSE_INVALID', `${label}: ${msg}`);
  const pts = (arr: unknown, n: number, what: string) => {
    if (!Array.isArray(arr) || arr.length !== n) {
      throw bad(`${what} needs ${n} keypoints, got ${Array.isArray(arr) ? arr.length : typeof arr}`);
    }
    arr.forEach((k, i) => {
      if (!Array.isArray(k) || k.length !== 3 || !k.every((v) => typeof v === 'number' && Number.isFinite(v))) {
        throw bad(`${what}[${i}] must be [x, y, score] of finite numbers, got ${JSON.stringify(k)}`);
      }
    });
  };
  if (p === null || typeof p !== 'object') throw bad(`expected an object, got ${p === null ? 'null' : typeof p}`);
  pts(p.body, BODY_POINTS, 'body');
  if (!Array.isArray(p.hands) || p.hands.length !== 2) throw bad('hands must be [left, right]');
  pts(p.hands[0], HAND_POINTS, 'hands[0] (left)');
  pts(p.hands[1], HAND_POINTS, 'hands[1] (right)');
  if (p.face !== null) pts(p.face, FACE_POINTS, 'face');
}

/**
 * People → the DWPose structure (float32 coordinates as the detector gives; 'float64' for poses that went through
 * the reference rescale, which draw_pose then sees as float64). Body points with score > 0.3 get their subset index; points with
 * score 0 (missing) are written at (−1, −1) so that draw_pose never draws them (a detector's real low-score
 * point keeps its coordinates, as DWPose's would). A null face becomes 68 missing points.
 */
export function posesToDwpose(poses: readonly Pose[], coords: 'float32' | 'float64' = 'float32'): DwposeFrame {
  poses.forEach((p, i) => checkPose(p, `pose ${i}`));
  const n = poses.length;
  const s = dwposeSizes(n);
  const C = coords === 'float64' ? Float64Array : Float32Array;
  const f = {
    people: n,
    candidate: new C(s.candidate),
    subset: new Float32Array(s.subset),
    body_score: new Float32Array(s.body_score),
    hands: new C(s.hands),
    hands_score: new Float32Array(s.hands_score),
    faces: new C(s.faces),
    faces_score: new Float32Array(s.faces_score),
  };
  const put = (xy: Float32Array | Float64Array, sc: Float32Array, row: number, k: Keypoint) => {
    const missing = k[2] === 0;
    xy[2 * row] = missing ? MISSING_COORD : k[0];
    xy[2 * row + 1] = missing ? MISSING_COORD : k[1];
    sc[row] = k[2];
  };
  poses.forEach((p, pi) => {
    for (let j = 0; j < BODY_POINTS; j++) {
      const row = BODY_POINTS * pi + j;
      put(f.candidate, f.body_score, row, p.body[j]);
      f.subset[row] = f.body_score[row] > SUBSET_SCORE_THRESHOLD ? row : -1;
    }
    for (let h = 0; h < 2; h++) {
      for (let j = 0; j < HAND_POINTS; j++) put(f.hands, f.hands_score, (h * n + pi) * HAND_POINTS + j, p.hands[h][j]);
    }
    for (let j = 0; j < FACE_POINTS; j++) {
      put(f.faces, f.faces_score, pi * FACE_POINTS + j, p.face ? p.face[j] : [0, 0, 0]);
    }
  });
  return f;
}

/**
 * The DWPose structure → people. Body point j of person n is read from the candidate row named in subset when
 * present (subset ≠ −1), else from row 18·n + j with its body_score (the detector writes rows in that order).
 * A face whose 68 scores are all 0 becomes null.
 */
export function dwposeToPoses(f: DwposeFrame): Pose[] {
  checkDwposeFrame(f);
  const n = f.people;
  const get = (xy: ArrayLike<number>, sc: ArrayLike<number>, row: number, scoreRow = row): Keypoint => [
    xy[2 * row], xy[2 * row + 1], sc[scoreRow],
  ];
  const out: Pose[] = [];
  for (let pi = 0; pi < n; pi++) {
    const body: Keypoint[] = [];
    for (let j = 0; j < BODY_POINTS; j++) {
      const idx = f.subset[BODY_POINTS * pi + j];
      const row = idx >= 0 ? Math.trunc(idx) : BODY_POINTS * pi + j;
      if (row >= n * BODY_POINTS) {
        throw new CnextError('POSE_INVALID', `DWPose subset[${pi}][${j}] = ${idx} names no candidate row`);
      }
      body.push(get(f.candidate, f.body_score, row, BODY_POINTS * pi + j));
    }
    const hand = (h: number): Keypoint[] =>
      Array.from({ length: HAND_POINTS }, (_, j) => get(f.hands, f.hands_score, (h * n + pi) * HAND_POINTS + j));
    const face = Array.from({ length: FACE_POINTS }, (_, j) => get(f.faces, f.faces_score, pi * FACE_POINTS + j));
    out.push({ body, hands: [hand(0), hand(1)], face: face.every((k) => k[2] === 0) ? null : face });
  }
  return out;
}
