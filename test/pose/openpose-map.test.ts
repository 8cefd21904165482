import { describe, expect, it } from 'vitest';
import type { RawDetection } from '../../pose/detect.ts';
import type { Lm } from '../../pose/mediapipe/host.ts';
import { BODY_NAMES, checkPose } from '../../pose/keypoints.ts';
import { assignHands, BODY_FROM_MP, FACE68_FROM_MESH, mapBody, mapFace, mapHand, MP, OUT_OF_FRAME_SCORE, selectPerson, toPose } from '../../pose/openpose-map.ts';

/** 33 landmarks, landmark i at (0.1 + i/100, 0.2 + i/200) with visibility 0.9, overrides by id. */
function body33(over: Record<number, Lm> = {}): Lm[] {
  return Array.from({ length: 33 }, (_, i): Lm => over[i] ?? [0.1 + i / 100, 0.2 + i / 200, 0, 0.9]);
}

/** A hand whose wrist is at (x, y), fingers spread upwards. */
function hand21(x: number, y: number): Lm[] {
  return Array.from({ length: 21 }, (_, i): Lm => [x + (i % 5) * 0.005, y - Math.floor(i / 5) * 0.01, 0, 0]);
}

describe('mapBody', () => {
  it('puts MediaPipe landmarks in OpenPose-18 order, neck = shoulder midpoint', () => {
    const lm = body33();
    const b = mapBody(lm);
    expect(b).toHaveLength(18);
    BODY_NAMES.forEach((name, j) => {
      const id = BODY_FROM_MP[j]!;
      if (name === 'neck') {
        expect(b[j]![0]).toBeCloseTo((lm[11]![0] + lm[12]![0]) / 2, 12);
        expect(b[j]![1]).toBeCloseTo((lm[11]![1] + lm[12]![1]) / 2, 12);
      } else {
        expect(b[j]).toEqual([lm[id as number]![0], lm[id as number]![1], 0.9]);
      }
    });
    // spot checks against the OpenPose names
    expect(BODY_FROM_MP[BODY_NAMES.indexOf('right_wrist')]).toBe(MP.rightWrist);
    expect(BODY_FROM_MP[BODY_NAMES.indexOf('left_ankle')]).toBe(MP.leftAnkle);
    expect(BODY_FROM_MP[BODY_NAMES.indexOf('right_ear')]).toBe(MP.rightEar);
  });

  it('points outside the frame (MediaPipe extrapolates them) keep their position with OUT_OF_FRAME_SCORE, so does the neck', () => {
    const b = mapBody(body33({ [MP.rightKnee]: [0.5, 1.2, 0, 0.95], [MP.leftShoulder]: [-0.01, 0.3, 0, 0.99], [MP.nose]: [NaN, 0.1, 0, 0.9] }));
    expect(OUT_OF_FRAME_SCORE).toBeGreaterThan(0);
    expect(Math.floor(OUT_OF_FRAME_SCORE * 255)).toBe(0); // invisible as a hand or face dot
    expect(b[BODY_NAMES.indexOf('right_knee')]).toEqual([0.5, 1.2, OUT_OF_FRAME_SCORE]);
    expect(b[BODY_NAMES.indexOf('left_shoulder')]).toEqual([-0.01, 0.3, OUT_OF_FRAME_SCORE]);
    expect(b[BODY_NAMES.indexOf('neck')]![2]).toBe(OUT_OF_FRAME_SCORE);
    expect(b[BODY_NAMES.indexOf('nose')]).toEqual([0, 0, 0]); // no usable estimate
    expect(() => mapBody(body33().slice(1))).toThrow('mapBody: expected 33 landmarks, got 32');
  });
});

describe('face 478 → 68', () => {
  it('the index table has 68 rows of one or two distinct mesh vertices < 468', () => {
    expect(FACE68_FROM_MESH).toHaveLength(68);
    for (const ids of FACE68_FROM_MESH) {
      expect(ids.length === 1 || ids.length === 2).toBe(true);
      for (const i of ids) expect(i >= 0 && i < 468).toBe(true);
    }
    const singles = FACE68_FROM_MESH.filter((r) => r.length === 1).map((r) => r[0]);
    expect(new Set(singles).size).toBe(singles.length);
  });

  it('averages two-vertex rows and marks points outside the frame', () => {
    const mesh = Array.from({ length: 478 }, (_, i): Lm => [i / 1000, 0.5, 0, 0]);
    const f = mapFace(mesh);
    expect(f).toHaveLength(68);
    expect(f[27]![0]).toBeCloseTo((168 + 6) / 2000, 12); // nose bridge top = mean of 168 and 6
    expect(f[8]).toEqual([152 / 1000, 0.5, 1]); // chin
    mesh[152] = [0.5, 1.5, 0, 0];
    expect(mapFace(mesh)[8]![2]).toBe(OUT_OF_FRAME_SCORE);
  });
});

describe('assignHands', () => {
  const body = body33({ [MP.leftWrist]: [0.8, 0.5, 0, 0.9], [MP.rightWrist]: [0.2, 0.5, 0, 0.9] });

  it('pairs two hands with the wrists, whatever order (or handedness label) they come in', () => {
    const nearLeft = hand21(0.79, 0.51);
    const nearRight = hand21(0.21, 0.49);
    expect(assignHands([nearLeft, nearRight], body, { aspect: 0.5625 })).toEqual([0, 1]);
    expect(assignHands([nearRight, nearLeft], body, { aspect: 0.5625 })).toEqual([1, 0]);
  });

  it('one hand goes to the nearer wrist; a hand far from both wrists is dropped', () => {
    expect(assignHands([hand21(0.22, 0.5)], body, { aspect: 1 })).toEqual([null, 0]);
    expect(assignHands([hand21(0.78, 0.5)], body, { aspect: 1 })).toEqual([0, null]);
    // torso (shoulder mid → hip mid) of body33() is ≈ 0.13 long: 0.6·torso ≈ 0.08
    expect(assignHands([hand21(0.5, 0.95)], body, { aspect: 1 })).toEqual([null, null]);
    // two detections of the same (left) hand: the second cannot be the right hand
    expect(assignHands([hand21(0.8, 0.5), hand21(0.81, 0.5)], body, { aspect: 1 })[1]).toBeNull();
  });
});

describe('toPose', () => {
  it('builds a valid Pose for the first person, hands by wrist, null without a body', () => {
    const body = body33({ [MP.leftWrist]: [0.8, 0.5, 0, 0.9], [MP.rightWrist]: [0.2, 0.5, 0, 0.9] });
    const raw: RawDetection = {
      pose: [body],
      // labels deliberately wrong: the assignment must not use them
      hands: [{ landmarks: hand21(0.2, 0.5), label: 'Left', score: 0.99 }, { landmarks: hand21(0.8, 0.5), label: 'Right', score: 0.99 }],
      face: null,
    };
    const p = toPose(raw, 0.5625)!;
    checkPose(p);
    expect(p.hands[0][0]).toEqual([0.8, 0.5, 1]); // left hand wrist
    expect(p.hands[1][0]).toEqual([0.2, 0.5, 1]);
    expect(p.face).toBeNull();
    expect(toPose({ pose: [], hands: raw.hands, face: null }, 1)).toBeNull();
    const oneHand = toPose({ ...raw, hands: [raw.hands[1]!] }, 0.5625)!;
    expect(oneHand.hands[1].every((k) => k[2] === 0)).toBe(true);
    expect(mapHand(hand21(0.5, 0.5))).toHaveLength(21);
  });

  it('several people: keeps the largest visible body, the hands at its wrists and the face at its nose', () => {
    const small = body33().map(([x, y, z, v]): Lm => [0.05 + x * 0.2, 0.05 + y * 0.2, z, v]);
    const big = body33({ [MP.leftWrist]: [0.8, 0.5, 0, 0.9], [MP.rightWrist]: [0.2, 0.5, 0, 0.9], [MP.nose]: [0.5, 0.1, 0, 0.99] });
    expect(selectPerson([small, big], 1)).toBe(1);
    expect(selectPerson([big, small], 1)).toBe(0);
    const meshAt = (x: number, y: number) => Array.from({ length: 478 }, (): Lm => [x, y, 0, 0]);
    const p = toPose({
      pose: [small, big],
      hands: [{ landmarks: hand21(0.06, 0.1), label: 'Left', score: 1 }, { landmarks: hand21(0.2, 0.5), label: 'Left', score: 1 }],
      face: [meshAt(0.07, 0.06), meshAt(0.5, 0.12)],
    }, 1)!;
    expect(p.body[0]).toEqual([0.5, 0.1, 0.99]);
    expect(p.hands[1][0]).toEqual([0.2, 0.5, 1]);
    expect(p.hands[0].every((k) => k[2] === 0)).toBe(true); // the small person's hand is not this person's
    expect(p.face![30]).toEqual([0.5, 0.12, 1]);
  });
});
