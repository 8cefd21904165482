import { describe, expect, it } from 'vitest';
import { bar, formatBytes, formatDuration } from '../../src/ui/format.ts';
import { etaSeconds, initialState, reduce, type UiEvent, type UiState } from '../../src/ui/state.ts';

const run = (events: Array<[number, UiEvent]>): UiState => events.reduce((s, [t, e]) => reduce(s, e, t * 1000), initialState(0));

describe('ETA', () => {
  it('comes from the recent rate, not the average since the start', () => {
    const s = run([
      [0, { type: 'stage-start', stage: 'denoise', total: 100 }],
      // a slow start (session creation), then 1 unit per second
      ...Array.from({ length: 30 }, (_, i): [number, UiEvent] => [60 + i, { type: 'progress', stage: 'denoise', done: i + 1, total: 100 }]),
    ]);
    const st = s.stages[0]!;
    // the last 20 samples span 19 s for 19 units: 70 left → 70 s (the average since the start would say ~163 s)
    expect(etaSeconds(st)).toBeCloseTo(70, 6);
  });
  it('none without a rate yet, or without a total', () => {
    const s = run([[0, { type: 'stage-start', stage: 'pose' }], [1, { type: 'progress', stage: 'pose', done: 0, total: 10 }]]);
    expect(etaSeconds(s.stages[0]!)).toBeUndefined();
    expect(etaSeconds({ ...s.stages[0]!, total: undefined })).toBeUndefined();
  });
});

describe('reducer', () => {
  it('finished stages move to the static lines; warnings are kept and counted; a new item resets the live part', () => {
    const s = run([
      [0, { type: 'stage-start', stage: 'decode', total: 4 }],
      [1, { type: 'stage-end', stage: 'decode', seconds: 1 }],
      [1, { type: 'log', level: 'warn', message: 'no person in frame 3' }],
      [1, { type: 'params', preset: 'hq', params: { steps: 40 } }],
      [2, { type: 'item-start', index: 1, items: 2, name: 'b.mp4', video: 'b.mp4', ref: 'r.jpg', preset: 'preview', output: 'o/b.mp4' }],
    ]);
    expect(s.finished.map((l) => l.kind)).toEqual(['stage', 'warn', 'item-start']);
    expect(s.warnings).toEqual([]);
    expect(s.params).toBeUndefined();
    expect(s.preset).toBe('preview');
  });
});

describe('format', () => {
  it('durations, bytes, bars', () => {
    expect([formatDuration(0), formatDuration(75.4), formatDuration(3725), formatDuration(undefined)]).toEqual(['0:00', '1:15', '1:02:05', '–']);
    expect([formatBytes(512), formatBytes(1536), formatBytes(3 * 1024 ** 3)]).toEqual(['512 B', '1.5 KiB', '3.0 GiB']);
    expect([bar(0, 4), bar(0.5, 4), bar(1, 4), bar(0.53, 4)]).toEqual(['····', '██··', '████', '██▏·']);
  });
});
