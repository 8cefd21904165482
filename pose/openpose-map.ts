// MediaPipe landmarks → the DWPose / OpenPose vocabulary ControlNeXt was trained on (keypoints.ts):
// body 33 → OpenPose 18 (neck = shoulder midpoint), hand 21 → 21 (same topology), face mesh 478 → iBUG 68.
// Left / right hands are assigned from the body pose's wrists, not from the hand model's handedness label
// (which flips on palms facing the camera). MediaPipe extrapolates joints outside the image (with high
// visibility in VIDEO mode): such points keep their estimated position but get OUT_OF_FRAME_SCORE, so they
// are never drawn (draw_pose needs > 0.3, and int(0.001·255) = 0 for hand and face dots) yet still take part
// in the alignment fit, as a DWPose low-score point would. Score 0 stays reserved for "no estimate at all"
// (keypoints.ts writes those at (−1, −1)).
import type { Lm } from './mediapipe/host.ts';
import { BODY_POINTS, FACE_POINTS, HAND_POINTS, type Keypoint, type Pose } from './keypoints.ts';
import type { RawDetection } from './detect.ts';

/** MediaPipe pose landmark ids (pose_landmarker model card). */
export const MP = {
  nose: 0, leftEye: 2, rightEye: 5, leftEar: 7, rightEar: 8,
  leftShoulder: 11, rightShoulder: 12, leftElbow: 13, rightElbow: 14, leftWrist: 15, rightWrist: 16,
  leftHip: 23, rightHip: 24, leftKnee: 25, rightKnee: 26, leftAnkle: 27, rightAnkle: 28,
} as const;

/** OpenPose-18 point j = MediaPipe landmark BODY_FROM_MP[j]; 'neck' = midpoint of the shoulders. */
export const BODY_FROM_MP: ReadonlyArray<number | 'neck'> = [
  MP.nose, 'neck',
  MP.rightShoulder, MP.rightElbow, MP.rightWrist,
  MP.leftShoulder, MP.leftElbow, MP.leftWrist,
  MP.rightHip, MP.rightKnee, MP.rightAnkle,
  MP.leftHip, MP.leftKnee, MP.leftAnkle,
  MP.rightEye, MP.leftEye, MP.rightEar, MP.leftEar,
];

/**
 * iBUG-300W / dlib 68-point face (the order DWPose uses) from the MediaPipe face mesh: each point is one mesh
 * vertex or the mean of two. Correspondence after PeizhiYan/Mediapipe_2_Dlib_Landmarks (checked against the
 * canonical face model); "right" is the person's right (image left for a frontal face).
 */
export const FACE68_FROM_MESH: ReadonlyArray<readonly number[]> = [
  // 0–16 jaw line, person's right ear → chin → left ear
  [127], [234], [93], [132, 58], [58, 172], [136], [150], [176], [152], [400], [379], [365], [397, 288], [361], [323], [454], [356],
  // 17–21 right eyebrow (outer → inner), 22–26 left eyebrow (inner → outer)
  [70], [63], [105], [66], [107], [336], [296], [334], [293], [300],
  // 27–30 nose bridge (top → tip), 31–35 nostrils (right → left)
  [168, 6], [197, 195], [5], [4], [75], [97], [2], [326], [305],
  // 36–41 right eye (outer corner, upper lid ×2, inner corner, lower lid ×2), 42–47 left eye (inner corner first)
  [33], [160], [158], [133], [153], [144], [362], [385], [387], [263], [373], [380],
  // 48–59 outer lip (right corner, upper lip → left corner, lower lip back)
  [61], [39], [37], [0], [267], [269], [291], [321], [314], [17], [84], [91],
  // 60–67 inner lip (right corner, upper → left corner, lower back)
  [78], [82], [13], [312], [308], [317], [14], [87],
];

/** Score of a point estimated outside the image: present, never drawn. */
export const OUT_OF_FRAME_SCORE = 0.001;

const inFrame = (x: number, y: number) => x >= 0 && x <= 1 && y >= 0 && y <= 1;
const clamp01 = (v: number) => (v > 0 ? (v < 1 ? v : 1) : 0);

/** [x, y, score]: OUT_OF_FRAME_SCORE outside the image, 0 when the estimate is not a finite number. */
function kp(x: number, y: number, score: number): Keypoint {
  if (!(Number.isFinite(x) && Number.isFinite(y) && Number.isFinite(score))) return [0, 0, 0];
  return [x, y, inFrame(x, y) ? clamp01(score) : OUT_OF_FRAME_SCORE];
}

/** 33 MediaPipe pose landmarks → 18 OpenPose points; score = MediaPipe visibility. */
export function mapBody(lm: readonly Lm[]): Keypoint[] {
  if (lm.length !== 33) throw new Error(`mapBody: expected 33 landmarks, got ${lm.length}`);
  return BODY_FROM_MP.map((id): Keypoint => {
    if (id === 'neck') {
      const l = kp(lm[MP.leftShoulder]![0], lm[MP.leftShoulder]![1], lm[MP.leftShoulder]![3]);
      const r = kp(lm[MP.rightShoulder]![0], lm[MP.rightShoulder]![1], lm[MP.rightShoulder]![3]);
      return kp((l[0] + r[0]) / 2, (l[1] + r[1]) / 2, Math.min(l[2], r[2]));
    }
    const p = lm[id]!;
    return kp(p[0], p[1], p[3]);
  });
}

/** 21 hand landmarks → 21 keypoints; the hand model gives no per-point confidence: 1 inside the image. */
export function mapHand(lm: readonly Lm[], score = 1): Keypoint[] {
  if (lm.length !== HAND_POINTS) throw new Error(`mapHand: expected ${HAND_POINTS} landmarks, got ${lm.length}`);
  return lm.map((p) => kp(p[0], p[1], score));
}

/** 478 (or 468) mesh landmarks → 68 face keypoints (FACE68_FROM_MESH); 1 inside the image. */
export function mapFace(lm: readonly Lm[], score = 1): Keypoint[] {
  if (lm.length < 468) throw new Error(`mapFace: expected 478 mesh landmarks, got ${lm.length}`);
  const out = FACE68_FROM_MESH.map((ids) => {
    let x = 0;
    let y = 0;
    for (const i of ids) { x += lm[i]![0]; y += lm[i]![1]; }
    return kp(x / ids.length, y / ids.length, score);
  });
  if (out.length !== FACE_POINTS) throw new Error('FACE68_FROM_MESH must have 68 rows');
  return out;
}

export interface HandAssignOptions {
  /** Image aspect width / height, so that distances are isotropic (normalised coordinates are not). */
  aspect: number;
  /**
   * A hand whose wrist is farther than this from the body wrist it is assigned to is dropped (another person's
   * hand or a false palm). Units: fraction of the body's shoulder–hip length.
   */
  maxWristDistance?: number;
}

/**
 * Assigns detected hands to the person's [left, right] by the body wrists: with two hands the pairing with the
 * smaller total wrist distance wins; a single hand goes to the nearer wrist. Returns indices into `hands`.
 */
export function assignHands(
  hands: readonly (readonly Lm[])[],
  body: readonly Lm[],
  o: HandAssignOptions,
): [left: number | null, right: number | null] {
  const { aspect, maxWristDistance = 0.6 } = o;
  const dist = (a: readonly number[], b: readonly number[]) => Math.hypot((a[0]! - b[0]!) * aspect, a[1]! - b[1]!);
  const lw = body[MP.leftWrist]!;
  const rw = body[MP.rightWrist]!;
  const mid = (i: number, j: number) => [(body[i]![0] + body[j]![0]) / 2, (body[i]![1] + body[j]![1]) / 2];
  const torso = Math.max(dist(mid(MP.leftShoulder, MP.rightShoulder), mid(MP.leftHip, MP.rightHip)), 1e-3);
  const limit = maxWristDistance * torso;
  // candidate hands: the two closest to any wrist
  const cands = hands.map((h, i) => ({ i, l: dist(h[0]!, lw), r: dist(h[0]!, rw) }));
  let left: number | null = null;
  let right: number | null = null;
  if (cands.length >= 2) {
    let best = Infinity;
    for (const a of cands) {
      for (const b of cands) {
        if (a.i === b.i) continue;
        const cost = Math.min(a.l, limit * 2) + Math.min(b.r, limit * 2);
        if (cost < best) { best = cost; left = a.i; right = b.i; }
      }
    }
  } else if (cands.length === 1) {
    const c = cands[0]!;
    if (c.l <= c.r) left = c.i;
    else right = c.i;
  }
  if (left !== null && cands.find((c) => c.i === left)!.l > limit) left = null;
  if (right !== null && cands.find((c) => c.i === right)!.r > limit) right = null;
  return [left, right];
}

/** Face mesh vertex at the tip of the nose. */
const MESH_NOSE_TIP = 1;

const missing = (n: number): Keypoint[] => Array.from({ length: n }, (): Keypoint => [0, 0, 0]);

/** Area (isotropic units) of the box around a body's points that are visible inside the frame. */
function visibleArea(body: readonly Lm[], aspect: number): number {
  let x0 = Infinity, y0 = Infinity, x1 = -Infinity, y1 = -Infinity;
  for (const [x, y, , v] of body) {
    if (v < 0.5 || x < 0 || x > 1 || y < 0 || y > 1) continue;
    x0 = Math.min(x0, x); x1 = Math.max(x1, x); y0 = Math.min(y0, y); y1 = Math.max(y1, y);
  }
  return x1 > x0 ? (x1 - x0) * aspect * (y1 - y0) : 0;
}

/** Person selection when several were detected (numPoses > 1): the one whose visible body box is largest. */
export function selectPerson(poses: readonly (readonly Lm[])[], aspect: number): number {
  let best = -1;
  let bestArea = -1;
  poses.forEach((p, i) => {
    const a = visibleArea(p, aspect);
    if (a > bestArea) { bestArea = a; best = i; }
  });
  return best;
}

/**
 * The selected person as a Pose (coordinates normalised by the frame), or null when no body was found.
 * `aspect` = frame width / height. Hands are those nearest to the person's wrists; the face is the mesh whose
 * nose tip is nearest to the person's nose.
 */
export function toPose(raw: RawDetection, aspect: number): Pose | null {
  const body = raw.pose[selectPerson(raw.pose, aspect)];
  if (!body) return null;
  const handLms = raw.hands.map((h) => h.landmarks);
  const [li, ri] = assignHands(handLms, body, { aspect });
  const hand = (i: number | null) => (i === null ? missing(HAND_POINTS) : mapHand(handLms[i]!));
  const nose = body[MP.nose]!;
  const faces = raw.face ?? [];
  const faceDist = (f: readonly Lm[]) => Math.hypot((f[MESH_NOSE_TIP]![0] - nose[0]) * aspect, f[MESH_NOSE_TIP]![1] - nose[1]);
  const face = faces.length ? faces.reduce((a, b) => (faceDist(b) < faceDist(a) ? b : a)) : null;
  const pose: Pose = {
    body: mapBody(body),
    hands: [hand(li), hand(ri)],
    face: face ? mapFace(face) : null,
  };
  if (pose.body.length !== BODY_POINTS) throw new Error('mapBody must give 18 points');
  return pose;
}
