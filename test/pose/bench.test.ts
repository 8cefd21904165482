import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { benchPose, DEFAULT_BENCH_VIDEO } from '../../pose/bench.ts';

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
