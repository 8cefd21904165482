import { describe, expect, it } from 'vitest';
import { emptyPose, type Keypoint, type Pose } from '../../pose/keypoints.ts';
import { oneEuro, oneEuroZeroPhase, smoothPoses } from '../../pose/smooth.ts';

const FPS = 30;
const times = (n: number) => Array.from({ length: n }, (_, i) => i / FPS);

/** Deterministic pseudo-noise in [-1, 1]. */
function noise(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return (s / 2 ** 32) * 2 - 1;
  };
}

/** A pose whose every present point sits at (x, y) with score 1; body only. */
function poseAt(x: number, y: number): Pose {
  const p = emptyPose();
  p.body = p.body.map((): Keypoint => [x, y, 1]);
  return p;
}

const opts = { minCutoff: 1.5, beta: 4, dCutoff: 1 };

describe('One-Euro', () => {
  it('leaves a constant signal unchanged and follows a ramp with little lag when zero-phase', () => {
    const n = 60;
    const [cx, cy] = oneEuro(new Array(n).fill(0.4), new Array(n).fill(0.6), times(n), opts);
    expect(cx.every((v) => Math.abs(v - 0.4) < 1e-12) && cy.every((v) => Math.abs(v - 0.6) < 1e-12)).toBe(true);
    const ramp = Array.from({ length: n }, (_, i) => 0.2 + i * 0.01); // 0.3 frame heights per second
    const [fwd] = oneEuro(ramp, new Array(n).fill(0), times(n), opts);
    const [zp] = oneEuroZeroPhase(ramp, new Array(n).fill(0), times(n), opts);
    const lag = (f: number[]) => Math.max(...f.slice(10, 50).map((v, i) => Math.abs(v - ramp[i + 10]!)));
    expect(lag(fwd)).toBeGreaterThan(0.003); // a causal low-pass lags behind a ramp
    expect(lag(zp)).toBeLessThan(lag(fwd) / 5); // forward + backward cancels it in the middle
  });

  it('removes most of the jitter of a noisy still point, and keeps up with a fast move', () => {
    const n = 90;
    const rnd = noise(7);
    const xs = Array.from({ length: n }, () => 0.5 + 0.004 * rnd());
    const [fx] = oneEuroZeroPhase(xs, new Array(n).fill(0.5), times(n), opts);
    const rms = (a: number[]) => Math.sqrt(a.reduce((s, v) => s + (v - 0.5) ** 2, 0) / a.length);
    expect(rms(fx)).toBeLessThan(rms(xs) / 2);
    // a jump of 0.3 over 3 frames: the filter must be there within a few frames
    const step = Array.from({ length: n }, (_, i) => (i < 40 ? 0.2 : i < 43 ? 0.2 + (i - 39) * 0.1 : 0.5));
    const [fs] = oneEuroZeroPhase(step, new Array(n).fill(0), times(n), opts);
    expect(Math.abs(fs[48]! - 0.5)).toBeLessThan(0.02);
    expect(Math.abs(fs[34]! - 0.2)).toBeLessThan(0.02);
  });
});

describe('smoothPoses', () => {
  it('fills a short gap by linear interpolation (score = lower end score), leaves a long gap alone', () => {
    const track: Array<Pose | null> = Array.from({ length: 12 }, (_, i) => poseAt(0.1 + 0.02 * i, 0.5));
    // short gap: point 4 (right wrist) missing in frames 2–4; long gap: hands never there; person missing 7–8
    for (const i of [2, 3, 4]) track[i]!.body[4] = [0, 0, 0];
    track[5]!.body[4]![2] = 0.8;
    track[7] = null;
    track[8] = null;
    const { poses, report } = smoothPoses(track, times(12), { smooth: false, maxGap: 3 });
    expect(poses[3]!.body[4]![0]).toBeCloseTo(0.1 + 0.02 * 3, 12);
    expect(poses[3]!.body[4]![2]).toBe(0.8);
    expect(poses[7]!.body[0]![0]).toBeCloseTo(0.1 + 0.02 * 7, 12);
    expect(report.filledFrames).toEqual([7, 8]);
    expect(report.filledPoints).toBe(3 + 2 * 18);
    expect(poses[3]!.hands[0].every((k) => k[2] === 0)).toBe(true);
    expect(track[3]!.body[4]).toEqual([0, 0, 0]); // input untouched

    const long: Array<Pose | null> = [poseAt(0.2, 0.5), null, null, null, null, null, poseAt(0.3, 0.5)];
    const r = smoothPoses(long, times(7), { smooth: false, maxGap: 4 });
    expect(r.poses.slice(1, 6).every((p) => p === null)).toBe(true);
    expect(r.report.filledFrames).toEqual([]);
  });

  it('switches: smooth false + fillGaps false returns equal poses', () => {
    const rnd = noise(3);
    const track: Array<Pose | null> = Array.from({ length: 20 }, () => poseAt(0.5 + 0.01 * rnd(), 0.5));
    track[5] = null;
    const r = smoothPoses(track, times(20), { smooth: false, fillGaps: false });
    expect(r.poses).toEqual(track);
  });

  it('smooths each keypoint track and reduces jitter without moving a still pose', () => {
    const rnd = noise(11);
    const n = 45;
    const track = Array.from({ length: n }, () => poseAt(0.5 + 0.003 * rnd(), 0.4 + 0.003 * rnd()));
    const { poses } = smoothPoses(track, times(n), { aspect: 576 / 1024 });
    const accel = (ps: Array<Pose | null>) => {
      let s = 0;
      for (let i = 1; i + 1 < n; i++) s += Math.abs(ps[i - 1]!.body[0]![0] - 2 * ps[i]!.body[0]![0] + ps[i + 1]!.body[0]![0]);
      return s / (n - 2);
    };
    expect(accel(poses)).toBeLessThan(accel(track) / 3);
    const meanX = poses.reduce((s, p) => s + p!.body[0]![0], 0) / n;
    expect(Math.abs(meanX - 0.5)).toBeLessThan(0.002);
    expect(poses[0]!.hands[0][0]).toEqual([0, 0, 0]); // missing points stay missing
  });

  it('checks that frames and times match', () => {
    expect(() => smoothPoses([null], [], {})).toThrow('smoothPoses: 1 frames but 0 times');
  });
});
