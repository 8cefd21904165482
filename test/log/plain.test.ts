import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import type { JobEvent } from '../../src/core/events.ts';
import { createJsonLog, createPlainLog, eventLine, pickReporter } from '../../src/log/index.ts';

function plain(events: JobEvent[], clock: () => number = () => 0): string[] {
  const lines: string[] = [];
  const log = createPlainLog({ write: (l) => void lines.push(l), clock });
  events.forEach(log);
  return lines;
}

describe('plain log', () => {
  it('prints stage start/end, progress about every 5 %, warnings, files and the end', () => {
    const events: JobEvent[] = [
      { type: 'params', preset: 'dance-portrait', params: { width: 576, height: 1024, steps: 25, seed: 42, other: 'x' } },
      { type: 'stage-start', stage: 'denoise', total: 100 },
      ...Array.from({ length: 100 }, (_, i): JobEvent => ({ type: 'progress', stage: 'denoise', done: i + 1, total: 100, unit: 'windows', step: Math.floor(i / 4) + 1, steps: 25, window: (i % 4) + 1, windows: 4 })),
      { type: 'stage-end', stage: 'denoise', seconds: 75.4 },
      { type: 'stage-end', stage: 'pose', seconds: 0, skipped: true },
      { type: 'log', level: 'warn', message: 'no person in 2 of 10 frames' },
      { type: 'log', level: 'info', message: 'Resuming the job in /j' },
      { type: 'artifact', kind: 'checkpoint', path: '/j/denoise.safetensors' },
      { type: 'artifact', kind: 'video', path: '/o.mp4' },
      { type: 'job-end', status: 'done', output: '/o.mp4', seconds: 80 },
    ];
    const lines = plain(events);
    expect(lines[0]).toBe('parameters (preset dance-portrait): width=576 height=1024 steps=25 seed=42');
    expect(lines[1]).toBe('denoise: started, 100 to do');
    const progress = lines.filter((l) => /^denoise: \d+%/.test(l));
    expect(progress).toHaveLength(19); // 5 %, 10 %, … 95 % (100 % is the end line)
    expect(progress[0]).toBe('denoise: 5% 5/100 windows (step 2/25, window 1/4)');
    expect(lines.slice(-6)).toEqual([
      'denoise: done in 1 min 15 s',
      'pose: skipped (already done)',
      'warning: no person in 2 of 10 frames',
      'Resuming the job in /j',
      'wrote video: /o.mp4',
      'done in 1 min 20 s: /o.mp4',
    ]);
  });

  it('prints a heartbeat when a stage is slow between percent steps', () => {
    let now = 0;
    const lines = plain([
      { type: 'stage-start', stage: 'denoise', total: 1000 },
      { type: 'progress', stage: 'denoise', done: 1, total: 1000 },
      { type: 'progress', stage: 'denoise', done: 2, total: 1000 },
    ], () => (now += 20_000));
    expect(lines).toEqual(['denoise: started, 1000 to do', 'denoise: 0% 2/1000']);
  });

  it('cancelled and failed ends', () => {
    expect(plain([{ type: 'job-end', status: 'cancelled', seconds: 3 }])).toEqual(['cancelled after 3.0 s']);
    expect(plain([{ type: 'job-end', status: 'failed', seconds: 3, error: 'boom' }])).toEqual(['failed after 3.0 s']); // the error is printed once, on stderr, by main
  });
});

describe('NDJSON log', () => {
  it('one parseable line per event; preview pixels as base64', () => {
    let text = '';
    const log = createJsonLog((s) => void (text += s));
    log({ type: 'stage-start', stage: 'pose', total: 3 });
    log({ type: 'preview', stage: 'render', width: 1, height: 1, rgb: Uint8Array.of(1, 2, 255) });
    const lines = text.trimEnd().split('\n').map((l) => JSON.parse(l));
    expect(lines).toEqual([
      { type: 'stage-start', stage: 'pose', total: 3 },
      { type: 'preview', stage: 'render', width: 1, height: 1, rgb: 'AQL/' },
    ]);
    expect(eventLine({ type: 'log', level: 'info', message: 'a\nb' })).toBe('{"type":"log","level":"info","message":"a\\nb"}');
  });
});

describe('pickReporter', () => {
  const stream = (tty: boolean) => Object.assign(new PassThrough(), { isTTY: tty }) as unknown as NodeJS.WriteStream;

  it('--json → NDJSON, no TTY → plain, TTY with the TUI off → plain', async () => {
    const s = stream(false);
    let got = '';
    s.on('data', (d) => (got += d));
    const json = await pickReporter({ json: true, tty: true, stdout: s });
    expect(json.kind).toBe('json');
    json.emit({ type: 'log', level: 'info', message: 'hi' });
    expect(got).toBe('{"type":"log","level":"info","message":"hi"}\n');
    const p = await pickReporter({ json: false, tty: false, stdout: s });
    expect(p.kind).toBe('plain');
    p.emit({ type: 'log', level: 'warn', message: 'careful' });
    expect(got.endsWith('warning: careful\n')).toBe(true);
    expect((await pickReporter({ json: false, tty: true, tui: false, stdout: s })).kind).toBe('plain');
  });
});
