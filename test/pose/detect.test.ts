import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PoseDetector, withPoseDetector, type RawDetection } from '../../pose/detect.ts';
import { mapFace } from '../../pose/openpose-map.ts';
import { decodeFrames, type DecodedFrame } from '../../video/decode.ts';

const CLIP = '/work/shared/media/video_02.mp4'; // 576×1024, 30 fps, one dancer
const N = 40;
let cacheDir: string;
let frames: DecodedFrame[];
let viaWorkers: RawDetection[];

beforeAll(async () => {
  cacheDir = fs.mkdtempSync(path.join(os.tmpdir(), 'cnext-detect-'));
  frames = [];
  for await (const f of decodeFrames(CLIP, { maxFrames: N })) frames.push({ ...f, rgb: f.rgb.slice() });
  // all frames submitted at once: the detector pipelines them and must keep the order
  viaWorkers = await withPoseDetector({ cacheDir, threads: 'workers' }, (d) => Promise.all(frames.map((f) => d.detect(f))));
});
afterAll(() => fs.rmSync(cacheDir, { recursive: true, force: true }));

describe('PoseDetector on the real clip (workers)', () => {
  it('finds the body in every frame and at least one hand in most', () => {
    expect(frames).toHaveLength(N);
    expect(viaWorkers.filter((r) => r.pose.length === 1).length).toBe(N);
    expect(viaWorkers.filter((r) => r.hands.length >= 1).length).toBeGreaterThanOrEqual(0.8 * N);
    for (const r of viaWorkers) {
      expect(r.face).toBeNull();
      for (const h of r.hands) expect(h.landmarks).toHaveLength(21);
    }
  });

  it('gives the same landmarks as running everything in one thread (results joined in frame order)', async () => {
    const k = 12;
    const inline = await withPoseDetector({ cacheDir, threads: 'inline' }, async (d) => {
      const out: RawDetection[] = [];
      for (const f of frames.slice(0, k)) out.push(await d.detect(f));
      return out;
    });
    for (let i = 0; i < k; i++) {
      expect(inline[i]!.pose[0]!.length).toBe(33);
      const a = inline[i]!.pose[0]!.flat();
      const b = viaWorkers[i]!.pose[0]!.flat();
      expect(Math.max(...a.map((v, j) => Math.abs(v - b[j]!)))).toBeLessThan(1e-6);
      expect(inline[i]!.hands.length).toBe(viaWorkers[i]!.hands.length);
    }
  });

  it('moves the body smoothly from frame to frame (VIDEO-mode tracking, no reordering)', () => {
    // nose displacement between consecutive frames stays small at 30 fps
    const nose = viaWorkers.map((r) => r.pose[0]![0]!);
    for (let i = 1; i < N; i++) expect(Math.hypot(nose[i]![0] - nose[i - 1]![0], nose[i]![1] - nose[i - 1]![1])).toBeLessThan(0.05);
  });
});

describe('PoseDetector edge cases', () => {
  it('each worker refuses its landmarkers\' metrics POST when they close', async () => {
    const d = await PoseDetector.create({ cacheDir, threads: 'workers', model: 'lite' });
    await d.detect(frames[0]!);
    await d.close();
    const blocked = d.blockedTelemetry();
    expect(blocked).toHaveLength(2);
    for (const b of blocked) {
      expect(b.length).toBeGreaterThanOrEqual(1);
      expect(b.every((u) => u === 'https://odml.pa.googleapis.com/v1/log')).toBe(true);
    }
  });

  it('black frames: no person, no hands', async () => {
    const w = 288;
    const h = 512;
    const r = await withPoseDetector({ cacheDir, threads: 'workers' }, async (d) => {
      const out: RawDetection[] = [];
      for (let i = 0; i < 3; i++) out.push(await d.detect({ width: w, height: h, time: i / 30, rgb: new Uint8Array(w * h * 3) }));
      return out;
    });
    for (const x of r) {
      expect(x.pose).toEqual([]);
      expect(x.hands).toEqual([]);
    }
  });

  it('face (optional) gives 478 mesh points; wrong buffer sizes and use after close are errors', async () => {
    const d = await PoseDetector.create({ cacheDir, threads: 'inline', face: true, hands: false });
    try {
      const r = await d.detect(frames[0]!);
      expect(r.face).toHaveLength(1);
      expect(r.face![0]).toHaveLength(478);
      // the 68-point layout on a real face: the person's right eye is on the image left, eyes above nose tip above mouth
      const f68 = mapFace(r.face![0]!);
      const mean = (a: number, b: number, k: 0 | 1) => f68.slice(a, b).reduce((s, p) => s + p[k], 0) / (b - a);
      expect(mean(36, 42, 0)).toBeLessThan(mean(42, 48, 0));
      expect(mean(36, 48, 1)).toBeLessThan(f68[30]![1]);
      expect(f68[30]![1]).toBeLessThan(mean(48, 68, 1));
      expect(f68[8]![1]).toBeGreaterThan(mean(48, 68, 1)); // chin below the mouth
      const f = frames[0]!;
      await expect(d.detect({ ...f, rgb: f.rgb.subarray(1) })).rejects.toThrow(`rgbToRgba: expected ${f.width * f.height * 3} bytes for 576×1024`);
    } finally {
      await d.close();
    }
    await d.close(); // idempotent
    await expect(d.detect(frames[0]!)).rejects.toThrow('PoseDetector is closed');
  });
});
