import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { benchDwpose, benchPose, DEFAULT_BENCH_VIDEO } from '../../pose/bench.ts';
import { writeSynthDwpose } from '../../pose/dwpose/synth.ts';

const cacheDir = fs.mkdtempSync(path.join(os.tmpdir(), 'cnext-bench-'));
afterAll(() => fs.rmSync(cacheDir, { recursive: true, force: true }));

describe('benchPose', () => {
  it('measures each mode on the same frames of the bundled sample and reports the ratio', async () => {
    expect(fs.existsSync(DEFAULT_BENCH_VIDEO)).toBe(true);
    const r = await benchPose({ frames: 6, width: 144, height: 256, model: 'lite', cacheDir });
    expect(r).toMatchObject({ video: DEFAULT_BENCH_VIDEO, width: 144, height: 256, model: 'lite', hands: true, face: false });
    expect(r.runs.map((x) => x.threads)).toEqual(['workers', 'inline']);
    for (const run of r.runs) {
      expect(run.frames).toBe(6);
      expect(run.framesWithBody).toBe(6);
      expect(run.fps).toBeCloseTo(1000 / run.msPerFrame, 0);
      expect(run.cpuMsPerFrame).toBeGreaterThan(0);
    }
    expect(r.speedup).toBeCloseTo(r.runs[0]!.fps / r.runs[1]!.fps, 1);
  });
});

describe('benchDwpose', () => {
  it('times both DWPose models per frame on the same decoded frames', async () => {
    const files = writeSynthDwpose(path.join(cacheDir, 'dwpose')); // tiny synthetic models: the harness, not the speed
    const r = await benchDwpose({ frames: 3, width: 144, height: 256, files });
    expect(r).toMatchObject({ models: 'installed', width: 144, height: 256, frames: 3, framesWithBody: 3 });
    expect(r.fps).toBeCloseTo(1000 / r.msPerFrame, 0);
    expect(r.detMsPerFrame).toBeGreaterThan(0);
    expect(r.poseMsPerFrame).toBeGreaterThan(0);
    expect(r.detMsPerFrame + r.poseMsPerFrame).toBeLessThanOrEqual(r.msPerFrame);
  });
});
