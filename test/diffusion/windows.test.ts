import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { planWindows, windowStarts } from '../../src/diffusion/windows.ts';
import { fixturesDir } from '../parity/fixtures-dir.ts';

describe('windowStarts', () => {
  it('matches the pipeline_tiny fixture (7 frames, 4 per batch, overlap 2 → 0, 2, 3 with the tail clamped)', () => {
    const c = JSON.parse(fs.readFileSync(path.join(fixturesDir(), 'pipeline_tiny', 'case.json'), 'utf8'));
    expect(windowStarts(c.inputs.num_frames, c.inputs.frames_per_batch, c.inputs.overlap)).toEqual(c.window_starts);
    expect(c.window_starts).toEqual([0, 2, 3]);
  });

  it('follows range(0, F − overlap, fpb − overlap) with the last window snapped to F − fpb', () => {
    expect(windowStarts(240, 24, 6)).toEqual([0, 18, 36, 54, 72, 90, 108, 126, 144, 162, 180, 198, 216]);
    expect(windowStarts(241, 24, 6)).toEqual([0, 18, 36, 54, 72, 90, 108, 126, 144, 162, 180, 198, 216, 217]);
    expect(windowStarts(25, 14, 5)).toEqual([0, 9, 11]);
    expect(windowStarts(10, 24, 6)).toEqual([0]); // fpb clipped to F: range(0, 4, 4)
    expect(windowStarts(1, 1, 0)).toEqual([0]);
  });

  it('counts the frames each window contributes (first frame of non-first windows dropped)', () => {
    const p = planWindows(7, 4, 2);
    expect(p.framesPerBatch).toBe(4);
    // window 0: frames 0-3; window at 2: frames 3,4,5; window at 3: frames 4,5,6
    expect([...p.counts]).toEqual([1, 1, 1, 2, 2, 2, 1]);
  });

  it('rejects settings that leave frames uncovered or make no progress', () => {
    expect(() => planWindows(10, 4, 0)).toThrow(
      'Frame 4 is not covered by any window (frames per batch 4, overlap 0, 10 frames): each window after the first drops its first frame when merging, so overlap must be at least 1 when more than one window is needed',
    );
    expect(() => planWindows(10, 4, 4)).toThrow('Expected integer between 0 and 3 (below the 4 frames per batch) for overlap but received 4 of type number');
    expect(() => planWindows(0, 4, 1)).toThrow('Expected integer of at least 1 for numFrames but received 0 of type number');
    expect(() => planWindows(8, 2.5, 1)).toThrow('for framesPerBatch');
    expect(planWindows(4, 4, 0).starts).toEqual([0]); // one window needs no overlap
  });
});
