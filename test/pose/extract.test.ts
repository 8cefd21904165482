import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { detectionSize, extractPoseTrack, type PoseTrack } from '../../pose/extract.ts';
import { BODY_NAMES, checkPose, type Pose } from '../../pose/keypoints.ts';
import { OUT_OF_FRAME_SCORE } from '../../pose/openpose-map.ts';
import { smoothPoses } from '../../pose/smooth.ts';
import { binaryPath } from '../../video/ffmpeg.ts';

const CLIP = '/work/shared/media/video_02.mp4'; // 576×1024, 30 fps, one dancer, legs cut at the knees
const N = 32;
const J = (name: (typeof BODY_NAMES)[number]) => BODY_NAMES.indexOf(name);
let tmp: string;
let raw: PoseTrack;
let smoothed: PoseTrack;

/** Mean |second difference| of present points, in frame heights: frame-to-frame jitter. */
function jitter(track: PoseTrack, part: (p: Pose) => Pose['body']): number {
  const f = track.frames.map((x) => x.detected);
  let s = 0;
  let c = 0;
  for (let i = 1; i + 1 < f.length; i++) {
    const [a, b, d] = [f[i - 1], f[i], f[i + 1]];
    if (!a || !b || !d) continue;
    const [A, B, D] = [part(a), part(b), part(d)];
    for (let j = 0; j < B.length; j++) {
      if (A[j]![2] < 0.3 || B[j]![2] < 0.3 || D[j]![2] < 0.3) continue;
      s += Math.hypot((A[j]![0] - 2 * B[j]![0] + D[j]![0]) * (576 / 1024), A[j]![1] - 2 * B[j]![1] + D[j]![1]);
      c++;
    }
  }
  return s / c;
}

beforeAll(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'cnext-extract-'));
  raw = await extractPoseTrack(CLIP, { maxFrames: N, cacheDir: tmp, smooth: false });
  // what extractPoseTrack does with smoothing on, without detecting a second time (test/cli/pose covers that path)
  const r = smoothPoses(raw.frames.map((f) => f.detected), raw.frames.map((f) => f.time), { aspect: 576 / 1024 });
  smoothed = { ...raw, frames: raw.frames.map((f, i) => ({ ...f, detected: r.poses[i]! })), smoothing: r.report };
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

describe('extractPoseTrack on the real clip', () => {
  it('finds the person in every frame with the torso visible, shoulders above hips', () => {
    expect(smoothed.source).toEqual({ width: 576, height: 1024, fps: [30, 1], frames: 228 });
    expect(smoothed.frames.map((f) => f.index)).toEqual(Array.from({ length: N }, (_, i) => i));
    expect(smoothed.frames.filter((f) => f.detected).length).toBe(N);
    for (const { detected: p } of smoothed.frames) {
      checkPose(p!);
      for (const j of ['nose', 'neck', 'right_shoulder', 'left_shoulder', 'right_hip', 'left_hip'] as const) expect(p!.body[J(j)]![2]).toBeGreaterThan(0.5);
      expect(p!.body[J('neck')]![1]).toBeLessThan(Math.min(p!.body[J('right_hip')]![1], p!.body[J('left_hip')]![1]));
      expect(p!.body[J('nose')]![1]).toBeLessThan(p!.body[J('neck')]![1]);
      // the person's right side is on the image left (she faces the camera)
      expect(p!.body[J('right_shoulder')]![0]).toBeLessThan(p!.body[J('left_shoulder')]![0]);
    }
  });

  it('every drawable point is inside the frame; the cut-off ankles are estimates outside it, never drawn', () => {
    for (const { detected: p } of raw.frames) {
      for (const k of [...p!.body, ...p!.hands[0], ...p!.hands[1]]) {
        const inside = k[0] >= 0 && k[0] <= 1 && k[1] >= 0 && k[1] <= 1;
        if (k[2] > OUT_OF_FRAME_SCORE) expect(inside).toBe(true);
        else if (k[2] > 0) expect(inside).toBe(false);
      }
      for (const j of ['right_ankle', 'left_ankle'] as const) {
        expect(p!.body[J(j)]![2]).toBe(OUT_OF_FRAME_SCORE);
        expect(p!.body[J(j)]![1]).toBeGreaterThan(1);
      }
    }
  });

  it('finds each hand in most frames where its wrist is in view, near that wrist', () => {
    for (const h of [0, 1] as const) {
      const wrist = J(h === 0 ? 'left_wrist' : 'right_wrist');
      const inView = smoothed.frames.filter((f) => f.detected!.body[wrist]![2] >= 0.5);
      const frames = smoothed.frames.filter((f) => f.detected!.hands[h].some((k) => k[2] >= 0.3));
      expect(inView.length).toBeGreaterThanOrEqual(N / 2); // the left wrist leaves the frame for a while
      expect(frames.length).toBeGreaterThanOrEqual(0.7 * inView.length);
      for (const f of frames) {
        const p = f.detected!;
        if (p.body[wrist]![2] < 0.5) continue;
        const d = Math.hypot((p.hands[h][0]![0] - p.body[wrist]![0]) * (576 / 1024), p.hands[h][0]![1] - p.body[wrist]![1]);
        expect(d).toBeLessThan(0.08);
      }
    }
  });

  it('smoothing lowers the jitter of body and hands and stays close to the detections', () => {
    const body = (p: Pose) => p.body;
    const hands = (p: Pose) => [...p.hands[0], ...p.hands[1]];
    expect(jitter(smoothed, body)).toBeLessThan(0.6 * jitter(raw, body));
    expect(jitter(smoothed, hands)).toBeLessThan(0.8 * jitter(raw, hands));
    expect(jitter(smoothed, body)).toBeLessThan(0.002); // frame heights per frame²
    let s = 0;
    let c = 0;
    raw.frames.forEach((f, i) => {
      f.detected!.body.forEach((k, j) => {
        if (k[2] < 0.3) return;
        const m = smoothed.frames[i]!.detected!.body[j]!;
        s += Math.hypot((k[0] - m[0]) * (576 / 1024), k[1] - m[1]);
        c++;
      });
    });
    expect(s / c).toBeLessThan(0.006);
    expect(smoothed.smoothing).not.toBeNull();
    expect(raw.smoothing).toBeNull();
  });
});

describe('extractPoseTrack errors', () => {
  it('a black video: POSE_NO_PERSON with a clear message', async () => {
    const black = path.join(tmp, 'black.mp4');
    const r = spawnSync(binaryPath('ffmpeg'), ['-v', 'error', '-f', 'lavfi', '-i', 'color=c=black:s=288x512:r=30:d=0.2', '-pix_fmt', 'yuv420p', '-y', black]);
    expect(r.status, String(r.stderr)).toBe(0);
    await expect(extractPoseTrack(black, { cacheDir: tmp, model: 'lite', hands: false })).rejects.toMatchObject({
      code: 'POSE_NO_PERSON',
      message: `No person found in ${black} (6 frames checked, stride 1)`,
    });
  });

  it('a corrupt file: a clear error before any landmarker starts', async () => {
    const bad = path.join(tmp, 'corrupt.mp4');
    fs.writeFileSync(bad, Buffer.concat([Buffer.from('\0\0\0\x18ftypmp42'), Buffer.alloc(4000, 7)]));
    await expect(extractPoseTrack(bad, { cacheDir: tmp })).rejects.toMatchObject({ code: 'VIDEO_UNREADABLE' });
  });

  it('an abort stops decoding and detection: CANCELLED, landmarkers closed', async () => {
    const ac = new AbortController();
    let seen = 0;
    const t0 = Date.now();
    await expect(
      extractPoseTrack(CLIP, {
        cacheDir: tmp, model: 'lite', hands: false, signal: ac.signal,
        emit: (e) => { if (e.type === 'progress' && ++seen === 2) ac.abort(); },
      }),
    ).rejects.toMatchObject({ code: 'CANCELLED' });
    expect(seen).toBeLessThan(8);
    expect(Date.now() - t0).toBeLessThan(20_000);
  });

  it('detectionSize keeps the aspect and caps the longest side', () => {
    expect(detectionSize({ width: 1080, height: 1920 })).toEqual({ width: 576, height: 1024 });
    expect(detectionSize({ width: 576, height: 1024 })).toEqual({ width: 576, height: 1024 });
    expect(detectionSize({ width: 640, height: 360 })).toEqual({ width: 640, height: 360 });
  });
});
