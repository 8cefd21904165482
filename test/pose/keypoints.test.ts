// Pose ⇄ DWPose structure conversions (the layout of ../shared/fixtures/README.md §4.8).
import { describe, expect, it } from 'vitest';
import {
  checkPose, dwposeToPoses, emptyPose, MISSING_COORD, type Pose, posesToDwpose,
} from '../../pose/keypoints.ts';

function pose(seed: number): Pose {
  const p = emptyPose();
  p.body = p.body.map((_, j) => [0.1 + 0.04 * j, 0.2 + 0.01 * seed, j % 5 === 0 ? 0.29 : 0.35 + 0.01 * j]);
  p.hands = [0, 1].map((h) => Array.from({ length: 21 }, (_, j) => [0.3 + h * 0.2 + 0.001 * j, 0.5 + seed * 0.01, 0.5])) as Pose['hands'];
  p.face = Array.from({ length: 68 }, (_, j) => [0.4 + 0.001 * j, 0.1, 0.75]);
  return p;
}

describe('posesToDwpose / dwposeToPoses', () => {
  it('marks subset rows 18·n + j for float32 scores > 0.3, −1 otherwise', () => {
    const f = posesToDwpose([pose(0), pose(1)]);
    expect(f.people).toBe(2);
    expect(f.candidate).toHaveLength(72);
    expect(f.subset[0]).toBe(-1); // score 0.29
    const p = pose(0);
    p.body[0][2] = 0.3; // float32(0.3) > 0.3, as in dwpose_detector.py with float32 scores
    expect(posesToDwpose([p]).subset[0]).toBe(0);
    expect(f.subset[1]).toBe(1);
    expect(f.subset[18 + 1]).toBe(19);
    expect(f.subset[18 + 5]).toBe(-1);
  });

  it('orders hands as left of every person, then right of every person', () => {
    const a = pose(0), b = pose(1);
    const f = posesToDwpose([a, b]);
    const handX = (h: number) => f.hands[h * 42];
    expect([handX(0), handX(1), handX(2), handX(3)]).toEqual(
      [a.hands[0][0][0], b.hands[0][0][0], a.hands[1][0][0], b.hands[1][0][0]].map(Math.fround),
    );
  });

  it('round-trips people (float32 precision) and writes missing points at −1', () => {
    const a = pose(3);
    a.body[4] = [0.7, 0.7, 0];
    a.face = null;
    const f = posesToDwpose([a]);
    expect([f.candidate[8], f.candidate[9]]).toEqual([MISSING_COORD, MISSING_COORD]);
    expect(f.faces.every((v) => v === MISSING_COORD)).toBe(true);
    const [back] = dwposeToPoses(f);
    expect(back.face).toBeNull();
    back.body.forEach((k, j) => {
      if (j === 4) return expect(k).toEqual([-1, -1, 0]);
      k.forEach((v, i) => expect(v).toBe(Math.fround(a.body[j][i])));
    });
    expect(back.hands[1][20][0]).toBe(Math.fround(a.hands[1][20][0]));
  });

  it('rejects malformed poses and frames with the reason', () => {
    const p = emptyPose();
    p.body = p.body.slice(0, 17);
    expect(() => checkPose(p)).toThrow('pose: body needs 18 keypoints, got 17');
    const q = emptyPose();
    q.hands[1][3] = [0, Number.NaN, 1];
    expect(() => posesToDwpose([q])).toThrow('pose 0: hands[1] (right)[3] must be [x, y, score] of finite numbers, got [0,null,1]');
    const f = posesToDwpose([pose(0)]);
    expect(() => dwposeToPoses({ ...f, people: 2 })).toThrow('DWPose frame with 2 people: candidate needs 72 values, got 36');
  });
});
