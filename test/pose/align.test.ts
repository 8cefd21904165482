// Reference alignment (pose_align fixture, numpy-exact fit) and the limb-retargeting option on synthetic poses.
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadCase } from '../../src/parity/case.ts';
import { run as runPoseAlign } from '../../src/parity/kinds/pose-align.ts';
import { readDwposeFrame } from '../../src/parity/kinds/pose-render.ts';
import {
  alignFrames, alignPoses, applyRescale, BODY_BONES, fitRescale, pairwiseSumF32, polyfit1, referenceBoneLengths,
} from '../../pose/align.ts';
import { type DwposeFrame, emptyPose, type Pose, posesToDwpose } from '../../pose/keypoints.ts';
import { fixturesDir } from '../parity/fixtures-dir.ts';

describe('pose_align fixture', () => {
  const c = loadCase(path.join(fixturesDir(), 'pose_align'));
  const inp = c.json.inputs as Record<string, number> & { frame_poses: unknown[] };
  const sizes = { refWidth: inp.ref_width, refHeight: inp.ref_height, videoWidth: inp.fw, videoHeight: inp.fh };

  it('passes a, b, ids, rescaled coordinates and every pose image (bit-exact images)', async () => {
    const checks = await runPoseAlign(c);
    expect(checks.map((k) => k.name)).toContain('out.pose_images[5]');
    for (const k of checks) {
      console.log(`${k.name}: max_abs=${k.maxAbs} mean_abs=${k.meanAbs} ${k.detail ?? ''}`);
      expect(k.pass, `${k.name} ${k.detail}`).toBe(true);
      if (k.name.startsWith('out.pose_images')) expect(k.maxAbs, k.name).toBe(0);
    }
  });

  it('fits a and b to the float64 reference values', () => {
    const frames = inp.frame_poses.map((_, j) => readDwposeFrame(c, `in.f${j}`));
    const fit = fitRescale(readDwposeFrame(c, 'in.ref'), frames, sizes);
    const f64 = c.json.outputs_f64 as { ax: number; ay: number; bx: number; by: number };
    expect(fit.a[0]).toBeCloseTo(f64.ax, 14);
    expect(fit.a[1]).toBeCloseTo(f64.ay, 14);
    expect(fit.b[0]).toBe(f64.bx); // a float32 mean in numpy
    expect(fit.b[1]).toBeCloseTo(f64.by, 14);
    expect(fit.framesUsed).toEqual(c.json.inputs.frames_used_for_fit);
  });
});

describe('numeric helpers', () => {
  it('polyfit1 recovers a line', () => {
    const [a, b] = polyfit1([0, 1, 2, 3], [1, 3, 5, 7]);
    expect(a).toBeCloseTo(2, 14);
    expect(b).toBeCloseTo(1, 14);
  });

  it('pairwiseSumF32 follows numpy’s float32 blocking', () => {
    const xs = Float32Array.from({ length: 70 }, (_, i) => Math.fround(0.1 * (i + 1)) * (i % 3 ? 1 : -1));
    const r = Array.from({ length: 8 }, (_, j) => xs[j]);
    for (let i = 8; i < 64; i += 8) for (let j = 0; j < 8; j++) r[j] = Math.fround(r[j] + xs[i + j]);
    const f = Math.fround;
    let want = f(f(f(r[0] + r[1]) + f(r[2] + r[3])) + f(f(r[4] + r[5]) + f(r[6] + r[7])));
    for (let i = 64; i < 70; i++) want = f(want + xs[i]);
    expect(pairwiseSumF32(xs)).toBe(want);
    const small = [0.1, 0.2, 0.3].map(f);
    expect(pairwiseSumF32(small)).toBe(f(f(f(0 + small[0]) + small[1]) + small[2]));
    const big = Float32Array.from({ length: 1000 }, (_, i) => f(i * 0.37));
    expect(pairwiseSumF32(big)).toBeCloseTo(big.reduce((s, v) => s + v, 0), 0);
  });
});

/** Deterministic PRNG (mulberry32). */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A standing person: OpenPose-18 offsets from the neck (in units of `size`), scaled per body part. */
const SKELETON: [number, number][] = [
  [0, -0.12], [0, 0], [-0.1, 0], [-0.14, 0.15], [-0.16, 0.3], [0.1, 0], [0.14, 0.15], [0.16, 0.3],
  [-0.06, 0.3], [-0.07, 0.5], [-0.07, 0.7], [0.06, 0.3], [0.07, 0.5], [0.07, 0.7],
  [-0.02, -0.14], [0.02, -0.14], [-0.05, -0.13], [0.05, -0.13],
];

function person(seed: number, opts: { cx?: number; cy?: number; size?: number; arm?: number; leg?: number; missing?: number[] } = {}): Pose {
  const r = rng(seed);
  const { cx = 0.5, cy = 0.3, size = 1, arm = 1, leg = 1, missing = [] } = opts;
  const p = emptyPose();
  SKELETON.forEach(([dx, dy], j) => {
    const k = [3, 4, 6, 7].includes(j) ? arm : [9, 10, 12, 13].includes(j) ? leg : 1;
    // limbs scale from their attachment point
    const base = [3, 4].includes(j) ? SKELETON[2] : [6, 7].includes(j) ? SKELETON[5] : [9, 10].includes(j) ? SKELETON[8] : [12, 13].includes(j) ? SKELETON[11] : [0, 0];
    const x = cx + size * (base[0] + (dx - base[0]) * k) + 0.01 * (r() - 0.5);
    const y = cy + size * (base[1] + (dy - base[1]) * k) + 0.01 * (r() - 0.5);
    const score = 0.5 + 0.5 * r();
    p.body[j] = [x, y, missing.includes(j) ? 0 : score];
  });
  for (const [h, wrist] of [[0, 7], [1, 4]] as const) {
    p.hands[h] = Array.from({ length: 21 }, () => [p.body[wrist][0] + 0.03 * (r() - 0.5), p.body[wrist][1] + 0.03 * r(), 0.3 + 0.7 * r()]);
  }
  p.face = Array.from({ length: 68 }, () => [p.body[0][0] + 0.03 * (r() - 0.5), p.body[0][1] + 0.03 * (r() - 0.5), 0.3 + 0.7 * r()]);
  return p;
}

const SIZES = { refWidth: 384, refHeight: 640, videoWidth: 720, videoHeight: 1280 };

function pt(f: DwposeFrame, j: number, n = 0): [number, number] {
  return [f.candidate[2 * (18 * n + j)] * SIZES.refWidth, f.candidate[2 * (18 * n + j) + 1] * SIZES.refHeight];
}

describe('retarget: limb', () => {
  const ref = posesToDwpose([person(1, { size: 0.9, arm: 1.25, leg: 0.85 })]);
  const driving = Array.from({ length: 6 }, (_, j) => posesToDwpose([person(10 + j, { cx: 0.45 + 0.02 * j, size: 0.6, arm: 0.9, leg: 1.2 })]));
  const plain = alignFrames(ref, driving, SIZES);
  const limb = alignFrames(ref, driving, SIZES, { retarget: 'limb' });
  const target = referenceBoneLengths(ref, SIZES.refWidth, SIZES.refHeight);

  it('leaves the reference mode unchanged', () => {
    expect(alignFrames(ref, driving, SIZES, { retarget: 'none' })).toEqual(plain);
    expect(plain.frames).toEqual(driving.map((f) => applyRescale(f, plain.fit)));
    expect(limb.fit).toEqual(plain.fit);
  });

  it('gives every bone the reference’s length and keeps the driving direction', () => {
    for (let j = 0; j < driving.length; j++) {
      BODY_BONES.forEach(([p, c], k) => {
        const [ax, ay] = pt(limb.frames[j], p), [bx, by] = pt(limb.frames[j], c);
        const [ux, uy] = pt(plain.frames[j], p), [vx, vy] = pt(plain.frames[j], c);
        const len = Math.hypot(bx - ax, by - ay), lenPlain = Math.hypot(vx - ux, vy - uy);
        expect(len).toBeCloseTo(target[k], 9);
        expect((bx - ax) / len).toBeCloseTo((vx - ux) / lenPlain, 9);
        expect((by - ay) / len).toBeCloseTo((vy - uy) / lenPlain, 9);
      });
      // the driving arms were shorter and the legs longer than the reference's: retargeting changes them
      expect(Math.abs(Math.hypot(...sub(pt(limb.frames[j], 4), pt(limb.frames[j], 3))) - Math.hypot(...sub(pt(plain.frames[j], 4), pt(plain.frames[j], 3))))).toBeGreaterThan(1);
      expect(pt(limb.frames[j], 1)).toEqual(pt(plain.frames[j], 1)); // the neck stays
    }
  });

  it('moves hands with their wrist and the face with the nose, rigidly', () => {
    const f = limb.frames[2], g = plain.frames[2];
    const d = (a: Float64Array | Float32Array, b: Float64Array | Float32Array, i: number) => [a[2 * i] - b[2 * i], a[2 * i + 1] - b[2 * i + 1]];
    const wristL = d(f.candidate, g.candidate, 7), wristR = d(f.candidate, g.candidate, 4), nose = d(f.candidate, g.candidate, 0);
    expect(Math.hypot(wristL[0], wristL[1])).toBeGreaterThan(1e-3);
    for (let i = 0; i < 21; i++) {
      d(f.hands, g.hands, i).forEach((v, k) => expect(v).toBeCloseTo(wristL[k], 12));
      d(f.hands, g.hands, 21 + i).forEach((v, k) => expect(v).toBeCloseTo(wristR[k], 12));
    }
    for (let i = 0; i < 68; i++) d(f.faces, g.faces, i).forEach((v, k) => expect(v).toBeCloseTo(nose[k], 12));
    expect(f.body_score).toBe(g.body_score);
    expect(f.subset).toBe(g.subset);
  });

  it('uses the mirrored bone when the reference lacks one', () => {
    const refNoLeftArm = posesToDwpose([person(1, { size: 0.9, arm: 1.25, leg: 0.85, missing: [6] })]);
    const t = referenceBoneLengths(refNoLeftArm, SIZES.refWidth, SIZES.refHeight);
    const k = (p: number, c: number) => BODY_BONES.findIndex(([a, b]) => a === p && b === c);
    expect(t[k(5, 6)]).toBe(t[k(2, 3)]);
    expect(t[k(6, 7)]).toBe(t[k(3, 4)]);
    expect(t[k(8, 9)]).toBeCloseTo(target[k(8, 9)], 12);
  });

  it('carries a joint with its parent when the driving bone is missing', () => {
    const frames = driving.map((f, j) => (j === 1 ? posesToDwpose([person(11, { cx: 0.47, size: 0.6, arm: 0.9, leg: 1.2, missing: [3] })]) : f));
    const a = alignFrames(ref, frames, SIZES);
    const b = alignFrames(ref, frames, SIZES, { retarget: 'limb' });
    const move = (j: number) => sub(pt(b.frames[1], j), pt(a.frames[1], j));
    expect(move(3)[0]).toBeCloseTo(move(2)[0], 9);
    expect(move(4)[1]).toBeCloseTo(move(2)[1], 9);
  });
});

function sub(a: [number, number], b: [number, number]): [number, number] {
  return [a[0] - b[0], a[1] - b[1]];
}

describe('alignment errors and the Pose API', () => {
  const ref = posesToDwpose([person(1)]);
  const one = posesToDwpose([person(2, { size: 0.6 })]);

  it('needs reference keypoints and a single-person frame', () => {
    const bare = posesToDwpose([{ ...emptyPose(), body: emptyPose().body.map((k, j) => (j === 1 ? [0.5, 0.3, 0.9] : k)) as Pose['body'] }]);
    expect(() => fitRescale(bare, [one], SIZES)).toThrow('the reference pose has 1 of the body keypoints needed to align the driving poses (need at least 2)');
    const two = posesToDwpose([person(3), person(4, { cx: 0.2 })]);
    expect(() => fitRescale(ref, [two], SIZES)).toThrow('no driving frame shows exactly one person, so the pose scale cannot be fitted');
    expect(() => alignFrames(ref, [one], SIZES, { retarget: 'bones' as 'limb' })).toThrow("Expected one of none, limb for retarget but received 'bones'");
    expect(() => fitRescale(ref, [one], { ...SIZES, videoWidth: 0 })).toThrow('alignment videoWidth must be a positive number, got 0');
  });

  it('keeps missing points of Pose input where they were', () => {
    const p = person(5, { size: 0.6, missing: [9] });
    p.face = null;
    const { frames } = alignPoses(person(1), [[p]], SIZES);
    expect(frames[0][0].body[9]).toEqual(p.body[9]);
    expect(frames[0][0].face).toBeNull();
    expect(frames[0][0].body[1][0]).not.toBe(p.body[1][0]);
  });
});
