import { render } from 'ink-testing-library';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { JobView } from '../../src/ui/components/JobView.tsx';
import { createUiStore } from '../../src/ui/store.ts';
import type { UiEvent } from '../../src/ui/state.ts';

const tick = () => new Promise((r) => setTimeout(r, 20));
// ink-testing-library keeps colour escapes; the snapshots compare the text
const plain = (s: string | undefined) => (s ?? '').replace(/\x1b\[[0-9;]*m/g, '');

function setup(opts: { resume?: string } = {}) {
  let t = 1_000_000;
  const clock = () => t;
  const store = createUiStore(clock);
  const onCancel = vi.fn();
  const ui = render(
    <JobView store={store} onCancel={onCancel} tickMs={0} memory={() => 734 * 1024 * 1024} protocol="none" resumeCommand={opts.resume} barWidth={20} />,
  );
  const at = async (seconds: number, ...events: UiEvent[]) => {
    t = 1_000_000 + seconds * 1000;
    for (const e of events) store.push(e);
    ui.rerender(
      <JobView store={store} onCancel={onCancel} tickMs={0} memory={() => 734 * 1024 * 1024} protocol="none" resumeCommand={opts.resume} barWidth={20} />,
    );
    await tick();
  };
  return { ui, store, onCancel, at, frame: () => plain(ui.lastFrame()), frames: () => plain(ui.frames.join('\n')) };
}

afterEach(() => vi.restoreAllMocks());

const params: UiEvent = {
  type: 'params', preset: 'dance-portrait',
  params: { width: 576, height: 1024, numFrames: 48, stride: 2, steps: 25, guidanceMin: 3, guidanceMax: 3, framesPerBatch: 24, overlap: 6, windows: 3, seed: 42 },
};

describe('JobView', () => {
  it('shows running stages with counts, elapsed and a measured ETA; finished stages above', async () => {
    const { at, frame, frames } = setup();
    await at(0, params, { type: 'stage-start', stage: 'decode', total: 48 });
    await at(2, { type: 'progress', stage: 'decode', done: 24, total: 48, unit: 'frames' });
    await at(4, { type: 'progress', stage: 'decode', done: 48, total: 48, unit: 'frames' }, { type: 'stage-end', stage: 'decode', seconds: 4 });
    await at(4, { type: 'stage-start', stage: 'pose', total: 48, label: 'MediaPipe pose' });
    await at(10, { type: 'progress', stage: 'pose', done: 12, total: 48, unit: 'frames' });
    await at(16, { type: 'progress', stage: 'pose', done: 24, total: 48, unit: 'frames' });
    await at(16, { type: 'log', level: 'warn', message: 'no person in frames 7–9 (filled from neighbours)' });
    expect(frame()).toMatchSnapshot();
    // pose: 20 frames in 12 s → 24 left at 2 frames/s = 0:12 (the rate comes from the recent progress)
    expect(frame()).toContain('ETA 0:12');
    expect(frames()).toContain('✓ decode       0:04  48/48 frames');
  });

  it('shows denoise step × window and the end message', async () => {
    const { at, frame } = setup();
    await at(0, params, { type: 'stage-start', stage: 'denoise', total: 75 });
    await at(30, { type: 'progress', stage: 'denoise', done: 10, total: 75, unit: 'windows', step: 4, steps: 25, window: 1, windows: 3 });
    await at(60, { type: 'progress', stage: 'denoise', done: 20, total: 75, unit: 'windows', step: 7, steps: 25, window: 2, windows: 3 });
    expect(frame()).toContain('20/75 · step 7/25 · window 2/3  1:00 · ETA 2:45');
    expect(frame()).toContain('ETA 2:45'); // 55 left at 10 per 30 s
    expect(frame()).toMatchSnapshot();
    await at(61, { type: 'stage-end', stage: 'denoise', seconds: 61 }, { type: 'job-end', status: 'done', output: 'out/clip.mp4', seconds: 61 });
    expect(frame()).toContain('Done in 1:01: out/clip.mp4');
  });

  it('q calls onCancel; after the stop it prints how to resume', async () => {
    const { ui, at, onCancel, frame, store } = setup({ resume: 'cnext run --ref me.jpg --video dance.mp4 --out me.mp4' });
    await at(0, params, { type: 'stage-start', stage: 'denoise', total: 75 });
    ui.stdin.write('q');
    await tick();
    expect(onCancel).toHaveBeenCalledTimes(1);
    store.cancelling();
    await at(1);
    expect(frame()).toContain('memory 734.0 MiB · elapsed 0:01 · stopping after the current step… (q again: quit at once)');
    await at(2, { type: 'job-end', status: 'cancelled', seconds: 2 });
    expect(frame()).toMatchSnapshot();
    expect(frame()).toContain('Resume with the same command:\n  cnext run --ref me.jpg --video dance.mp4 --out me.mp4');
  });

  it('Ctrl-C calls onCancel too', async () => {
    const { ui, at, onCancel } = setup();
    await at(0, params);
    ui.stdin.write('\x03');
    await tick();
    expect(onCancel).toHaveBeenCalledTimes(1);
  });

  it('batch: item header, finished items stay above', async () => {
    const { at, frame, frames } = setup();
    await at(0, { type: 'batch-start', items: 3, outDir: 'out' });
    await at(0, { type: 'item-start', index: 0, items: 3, name: 'a.mp4', video: 'in/a.mp4', ref: 'ref.jpg', preset: 'preview', output: 'out/a.mp4' });
    await at(5, { type: 'item-end', index: 0, items: 3, name: 'a.mp4', status: 'skipped', seconds: 0, output: 'out/a.mp4' });
    await at(5, { type: 'item-start', index: 1, items: 3, name: 'b.mp4', video: 'in/b.mp4', ref: 'ref.jpg', preset: 'preview', output: 'out/b.mp4' });
    await at(6, { type: 'stage-start', stage: 'pose', total: 10 });
    expect(frame()).toContain('[2/3] b.mp4');
    expect(frames()).toContain('[1/3] a.mp4: skipped');
    expect(frame()).toMatchSnapshot();
  });

  it('text preview: the latest preview as coloured half blocks under a caption', async () => {
    const store = createUiStore(() => 0);
    const ui = render(<JobView store={store} onCancel={() => {}} tickMs={0} memory={() => 0} protocol="text" previewBox={{ maxCols: 8, maxRows: 4 }} />);
    const rgb = new Uint8Array(16 * 32 * 3).fill(0);
    for (let i = 0; i < 16 * 16; i++) rgb.set([0, 255, 0], i * 3); // upper half green, lower half black
    store.push({ type: 'preview', stage: 'render', width: 16, height: 32, rgb });
    await tick();
    const lines = (ui.lastFrame() ?? '').split('\n');
    const at = lines.findIndex((l) => plain(l) === 'preview: render (16×32)');
    expect(at).toBeGreaterThan(-1);
    // 16×32 in 8×4 cells → 4 columns × 4 rows; rows 0–1 green, rows 2–3 black
    const rows = lines.slice(at + 1, at + 5);
    expect(rows.map((l) => plain(l))).toEqual(['▀▀▀▀', '▀▀▀▀', '▀▀▀▀', '▀▀▀▀']);
    expect(rows[0]).toContain('\x1b[38;2;0;255;0m\x1b[48;2;0;255;0m▀');
    expect(rows[3]).toContain('\x1b[38;2;0;0;0m\x1b[48;2;0;0;0m▀');
    ui.unmount();
  });
});
