// Fitting driving-video poses to the reference image's person.
//
// 1. `fitRescale` / `applyRescale`: the linear rescale of ControlNeXt-SVD-v2 dwpose/preprocess.py get_video_pose
//    (../shared/fixtures/README.md §5.10), including numpy's dtypes: the y fit is a float64 least-squares line
//    (np.polyfit deg 1), a_x follows from a_y and the aspect ratios, b_x is a float32 mean (numpy's pairwise sum)
//    of float32 residuals, and `p·a + b` turns the coordinates into float64 (which draw_pose then sees).
// 2. Beyond the reference, `retarget: 'limb'`: after the rescale, every body bone of every driving person is
//    rescaled to the reference person's bone length (measured in reference-image pixels), walking the OpenPose
//    tree from the neck outward so that each joint keeps the driving bone's direction and its parent's new
//    position. Hands move rigidly with their body wrist, the face with the nose. Bones the reference lacks use
//    the mirrored bone of the reference when present, else keep the driving length.
import { CnextError } from '../src/core/errors.ts';
import {
  BODY_POINTS, checkDwposeFrame, type DwposeFrame, dwposeToPoses, FACE_POINTS, HAND_POINTS, type Pose, posesToDwpose,
} from './keypoints.ts';

/** Body ids preprocess.py uses for the fit (before dropping those missing in the reference). */
export const REF_KEYPOINT_IDS: readonly number[] = [0, 1, 2, 5, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17];

export interface AlignSizes {
  /** Reference image W × H (pixels). */
  readonly refWidth: number;
  readonly refHeight: number;
  /** Driving video frame W × H (pixels). */
  readonly videoWidth: number;
  readonly videoHeight: number;
}

export interface RescaleFit {
  /** [a_x, a_y] */
  readonly a: readonly [number, number];
  /** [b_x, b_y] */
  readonly b: readonly [number, number];
  /** Body ids used (REF_KEYPOINT_IDS present in the reference). */
  readonly refKeypointIds: readonly number[];
  /** Indices of the frames used for the fit (single-person frames). */
  readonly framesUsed: readonly number[];
}

export type RetargetMode = 'none' | 'limb';

export interface AlignOptions {
  /** 'none' (default): the reference's linear rescale only. 'limb': then per-bone length retargeting. */
  readonly retarget?: RetargetMode;
}

const f32 = Math.fround;

/** numpy's pairwise summation (FLOAT_pairwise_sum) of float32 values with float32 accumulators. */
export function pairwiseSumF32(a: ArrayLike<number>, start = 0, n = a.length): number {
  if (n < 8) {
    let res = 0;
    for (let i = 0; i < n; i++) res = f32(res + a[start + i]);
    return res;
  }
  if (n <= 128) {
    const r = [0, 1, 2, 3, 4, 5, 6, 7].map((j) => f32(a[start + j]));
    let i = 8;
    for (; i < n - (n % 8); i += 8) for (let j = 0; j < 8; j++) r[j] = f32(r[j] + a[start + i + j]);
    let res = f32(f32(f32(r[0] + r[1]) + f32(r[2] + r[3])) + f32(f32(r[4] + r[5]) + f32(r[6] + r[7])));
    for (; i < n; i++) res = f32(res + a[start + i]);
    return res;
  }
  let n2 = Math.trunc(n / 2);
  n2 -= n2 % 8;
  return f32(pairwiseSumF32(a, start, n2) + pairwiseSumF32(a, start + n2, n - n2));
}

/** Least-squares line y ≈ slope·x + intercept (np.polyfit(x, y, 1)), float64. */
export function polyfit1(x: ArrayLike<number>, y: ArrayLike<number>): [number, number] {
  const n = x.length;
  if (n < 2) throw new CnextError('POSE_ALIGN_FAILED', `a line fit needs at least 2 points, got ${n}`);
  let mx = 0, my = 0;
  for (let i = 0; i < n; i++) {
    mx += x[i];
    my += y[i];
  }
  mx /= n;
  my /= n;
  let sxx = 0, sxy = 0;
  for (let i = 0; i < n; i++) {
    sxx += (x[i] - mx) * (x[i] - mx);
    sxy += (x[i] - mx) * (y[i] - my);
  }
  if (!(sxx > 0)) throw new CnextError('POSE_ALIGN_FAILED', 'cannot fit the pose scale: every driving keypoint has the same height');
  const slope = sxy / sxx;
  return [slope, my - slope * mx];
}

function checkSizes(s: AlignSizes): void {
  for (const k of ['refWidth', 'refHeight', 'videoWidth', 'videoHeight'] as const) {
    if (!Number.isFinite(s[k]) || s[k] <= 0) {
      throw new CnextError('INVALID_PARAMETER', `alignment ${k} must be a positive number, got ${s[k]}`);
    }
  }
}

/** get_video_pose's fit: a, b from the reference pose and the single-person driving frames. */
export function fitRescale(ref: DwposeFrame, frames: readonly DwposeFrame[], sizes: AlignSizes): RescaleFit {
  checkSizes(sizes);
  checkDwposeFrame(ref);
  frames.forEach(checkDwposeFrame);
  const ids = REF_KEYPOINT_IDS.filter((i) => ref.people > 0 && ref.subset[i] >= 0);
  if (ids.length < 2) {
    throw new CnextError(
      'POSE_ALIGN_FAILED',
      `the reference pose has ${ids.length} of the body keypoints needed to align the driving poses (need at least 2)`,
      { solutions: ['Use a reference image showing the person’s head, shoulders and hips'] },
    );
  }
  const framesUsed = frames.flatMap((f, j) => (f.candidate.length === BODY_POINTS * 2 ? [j] : []));
  if (framesUsed.length === 0) {
    throw new CnextError('POSE_ALIGN_FAILED', 'no driving frame shows exactly one person, so the pose scale cannot be fitted', {
      solutions: ['Use a driving video with a single dancer'],
    });
  }
  const K = ids.length, F = framesUsed.length;
  const dx = new Float64Array(F * K), dy = new Float64Array(F * K), rx = new Float64Array(F * K), ry = new Float64Array(F * K);
  framesUsed.forEach((j, fi) => {
    ids.forEach((id, k) => {
      dx[fi * K + k] = frames[j].candidate[2 * id];
      dy[fi * K + k] = frames[j].candidate[2 * id + 1];
      rx[fi * K + k] = ref.candidate[2 * id];
      ry[fi * K + k] = ref.candidate[2 * id + 1];
    });
  });
  const [ay, by] = polyfit1(dy, ry);
  const { refWidth: width, refHeight: height, videoWidth: fw, videoHeight: fh } = sizes;
  const ax = ay / (((fh / fw) / height) * width);
  // np.mean(tile(ref_x) − det_x * ax): float32 array ⊙ float64 scalar stays float32 (value-based casting)
  const axF = f32(ax);
  const resid = new Float32Array(F * K);
  for (let i = 0; i < F * K; i++) resid[i] = f32(rx[i] - f32(dx[i] * axF));
  const bx = f32(pairwiseSumF32(resid) / (F * K));
  return { a: [ax, ay], b: [bx, by], refKeypointIds: ids, framesUsed };
}

function affine(src: Float32Array | Float64Array, a: readonly [number, number], b: readonly [number, number]): Float64Array {
  const out = new Float64Array(src.length);
  for (let i = 0; i < src.length; i += 2) {
    out[i] = src[i] * a[0] + b[0];
    out[i + 1] = src[i + 1] * a[1] + b[1];
  }
  return out;
}

/** `candidate * a + b`, `faces * a + b`, `hands * a + b` (float64 result, scores untouched). */
export function applyRescale(f: DwposeFrame, fit: Pick<RescaleFit, 'a' | 'b'>): DwposeFrame {
  checkDwposeFrame(f);
  return {
    ...f,
    candidate: affine(f.candidate, fit.a, fit.b),
    hands: affine(f.hands, fit.a, fit.b),
    faces: affine(f.faces, fit.a, fit.b),
  };
}

/** Bones of the OpenPose body tree, parent → child (0-based), in an order where parents come first. */
export const BODY_BONES: readonly (readonly [number, number])[] = [
  [1, 0], [1, 2], [2, 3], [3, 4], [1, 5], [5, 6], [6, 7], [1, 8], [8, 9], [9, 10], [1, 11], [11, 12], [12, 13],
  [0, 14], [14, 16], [0, 15], [15, 17],
];
/** Left/right counterpart of each body point (for bones the reference lacks). */
const MIRROR = [0, 1, 5, 6, 7, 2, 3, 4, 11, 12, 13, 8, 9, 10, 15, 14, 17, 16];

/** Bone length in reference-image pixels, or NaN when an end point is missing (subset −1). */
function boneLength(f: DwposeFrame, person: number, p: number, c: number, W: number, H: number): number {
  const ip = f.subset[person * BODY_POINTS + p], ic = f.subset[person * BODY_POINTS + c];
  if (!(ip >= 0) || !(ic >= 0)) return Number.NaN;
  const a = Math.trunc(ip), b = Math.trunc(ic);
  return Math.hypot((f.candidate[2 * b] - f.candidate[2 * a]) * W, (f.candidate[2 * b + 1] - f.candidate[2 * a + 1]) * H);
}

/** Target length of every body bone (index into BODY_BONES): the reference's, its mirror's, or NaN. */
export function referenceBoneLengths(ref: DwposeFrame, W: number, H: number): Float64Array {
  const out = new Float64Array(BODY_BONES.length).fill(Number.NaN);
  if (ref.people === 0) return out;
  BODY_BONES.forEach(([p, c], k) => {
    let len = boneLength(ref, 0, p, c, W, H);
    if (Number.isNaN(len)) len = boneLength(ref, 0, MIRROR[p], MIRROR[c], W, H);
    out[k] = len;
  });
  return out;
}

/**
 * Per-limb retargeting of an (already rescaled) frame: for each person, joint c of bone (p → c) is placed at
 * new(p) + unit(old(c) − old(p)) · target_len, directions measured in reference-image pixels. When a bone cannot
 * be measured (an end missing, zero length, or no target) the joint moves with its parent. Hands follow the
 * displacement of their body wrist (left hand ← body 7, right hand ← body 4), the face that of the nose.
 * Scores and subset are unchanged; the neck stays where the rescale put it.
 */
export function retargetLimbs(f: DwposeFrame, target: Float64Array, W: number, H: number): DwposeFrame {
  checkDwposeFrame(f);
  const cand = Float64Array.from(f.candidate);
  const hands = Float64Array.from(f.hands);
  const faces = Float64Array.from(f.faces);
  const n = f.people;
  for (let person = 0; person < n; person++) {
    const rowOf = (j: number): number => {
      const s = f.subset[person * BODY_POINTS + j];
      return s >= 0 ? Math.trunc(s) : person * BODY_POINTS + j;
    };
    const present = (j: number): boolean => f.subset[person * BODY_POINTS + j] >= 0;
    const old = (j: number): [number, number] => [f.candidate[2 * rowOf(j)] * W, f.candidate[2 * rowOf(j) + 1] * H];
    // displacement of every joint, in pixels
    const disp: [number, number][] = Array.from({ length: BODY_POINTS }, () => [0, 0]);
    BODY_BONES.forEach(([p, c], k) => {
      const [px, py] = old(p), [cx, cy] = old(c);
      const len = Math.hypot(cx - px, cy - py);
      const t = target[k];
      if (present(p) && present(c) && len > 0 && Number.isFinite(t)) {
        const nx = px + disp[p][0] + ((cx - px) / len) * t;
        const ny = py + disp[p][1] + ((cy - py) / len) * t;
        disp[c] = [nx - cx, ny - cy];
      } else {
        disp[c] = [disp[p][0], disp[p][1]];
      }
    });
    for (let j = 0; j < BODY_POINTS; j++) {
      const r = person * BODY_POINTS + j; // detector rows are 18·n + j
      cand[2 * r] += disp[j][0] / W;
      cand[2 * r + 1] += disp[j][1] / H;
    }
    const moveHand = (h: number, wrist: number) => {
      for (let j = 0; j < HAND_POINTS; j++) {
        const r = (h * n + person) * HAND_POINTS + j;
        hands[2 * r] += disp[wrist][0] / W;
        hands[2 * r + 1] += disp[wrist][1] / H;
      }
    };
    moveHand(0, 7);
    moveHand(1, 4);
    for (let j = 0; j < FACE_POINTS; j++) {
      const r = person * FACE_POINTS + j;
      faces[2 * r] += disp[0][0] / W;
      faces[2 * r + 1] += disp[0][1] / H;
    }
  }
  return { ...f, candidate: cand, hands, faces };
}

export interface AlignResult {
  readonly fit: RescaleFit;
  readonly frames: DwposeFrame[];
}

/** The reference alignment of every driving frame, optionally followed by limb retargeting. */
export function alignFrames(
  ref: DwposeFrame, frames: readonly DwposeFrame[], sizes: AlignSizes, options: AlignOptions = {},
): AlignResult {
  const mode = options.retarget ?? 'none';
  if (mode !== 'none' && mode !== 'limb') {
    throw new CnextError('INVALID_PARAMETER', `Expected one of none, limb for retarget but received '${String(mode)}'`);
  }
  const fit = fitRescale(ref, frames, sizes);
  let out = frames.map((f) => applyRescale(f, fit));
  if (mode === 'limb') {
    const target = referenceBoneLengths(ref, sizes.refWidth, sizes.refHeight);
    out = out.map((f) => retargetLimbs(f, target, sizes.refWidth, sizes.refHeight));
  }
  return { fit, frames: out };
}

/**
 * Same on people: `frames[j]` are the people detected in driving frame j. Points with score 0 (missing) keep
 * their input coordinates so they stay recognisably missing.
 */
export function alignPoses(
  ref: Pose, frames: readonly (readonly Pose[])[], sizes: AlignSizes, options: AlignOptions = {},
): { fit: RescaleFit; frames: Pose[][] } {
  const { fit, frames: out } = alignFrames(posesToDwpose([ref]), frames.map((f) => posesToDwpose(f)), sizes, options);
  const poses = out.map((f, j) => {
    const got = dwposeToPoses(f);
    return got.map((p, i) => {
      const src = frames[j][i];
      const keep = (a: Pose['body'], b: Pose['body']) => a.map((k, t) => (k[2] === 0 ? [...b[t]] as typeof k : k));
      return {
        body: keep(p.body, src.body),
        hands: [keep(p.hands[0], src.hands[0]), keep(p.hands[1], src.hands[1])] as Pose['hands'],
        face: src.face === null ? null : keep(p.face ?? src.face, src.face),
      };
    });
  });
  return { fit, frames: poses };
}
