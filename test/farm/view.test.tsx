// The follower's front ends: the TUI rows (ink-testing-library) and the plain lines, from the same FarmEvents.
import { render } from 'ink-testing-library';
import { describe, expect, it } from 'vitest';
import { FarmView } from '../../src/farm/FarmView.tsx';
import { farmLine, type FarmItemView } from '../../src/farm/follow.ts';

const plain = (s: string | undefined) => (s ?? '').replace(/\x1b\[[0-9;]*m/g, '');

const items: FarmItemView[] = [
  { index: 0, name: 'a.mp4', state: 'completed', worker: 'gpu0', result: { worker: 'gpu0', output: '/o/a.mp4', bytes: 1, mtimeMs: 1, frames: 2, latentsSha256: 'x', resumedAfterStep: 3, seconds: 75 } },
  { index: 1, name: 'b.mp4', state: 'active', worker: 'gpu1', progress: { worker: 'gpu1', stage: 'denoise', done: 5, total: 10, step: 3, steps: 5, window: 1, windows: 2, etaSeconds: 40 } },
  { index: 2, name: 'c.mp4', state: 'failed', attempts: 3, error: 'Cannot read video /d/c.mp4' },
  { index: 3, name: 'd.mp4', state: 'waiting' },
];

describe('farm follower', () => {
  it('TUI: running and failed items first, with worker, step, window, ETA, and the totals', () => {
    const ui = render(<FarmView s={{ queue: 'redis://:***@q:6379', items, totals: { type: 'farm-totals', done: 1, failed: 1, skipped: 0, active: 1, waiting: 1, etaSeconds: 150 } }} />);
    const lines = plain(ui.lastFrame()).split('\n').map((l) => l.trimEnd());
    expect(lines[0]).toBe('Farm batch on redis://:***@q:6379');
    expect(lines[1]).toMatch(/^b\.mp4 +active +gpu1 +\S+ denoise step 3\/5 window 1\/2 {2}ETA 0:40$/);
    expect(lines[2]).toMatch(/^c\.mp4 +failed +Cannot read video \/d\/c\.mp4$/);
    expect(lines[3]).toMatch(/^a\.mp4 +completed +gpu0 +1:15, resumed after step 4$/);
    expect(lines[4]).toMatch(/^d\.mp4 +waiting$/);
    expect(lines[5]).toBe('1 done, 1 running, 1 waiting, 1 failed, 0 skipped — ETA 2:30');
    ui.unmount();
  });

  it('plain lines say the same', () => {
    expect(items.map((v) => farmLine({ type: 'farm-item', ...v }))).toEqual([
      'a.mp4: done on gpu0 (resumed after step 4)',
      'b.mp4: denoise step 3/5 window 1/2 (ETA 40s) on gpu1',
      'c.mp4: failed after 3 tries: Cannot read video /d/c.mp4',
      'd.mp4: waiting',
    ]);
  });
});
