// `cnext run`: flag validation (exact messages), preset merging, and the real process — NDJSON on stdout, Ctrl-C
// after the first checkpoint → "Interrupted…" and exit 130, the same command again → resumed and done.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { buildProgram, main } from '../../src/cli/main.ts';
import { INTERRUPTED, parseRunOptions } from '../../src/cli/run.ts';
import { DEFAULT_OPTIONS } from '../../src/job/options.ts';
import { DANCE, REF, tempDir, tinyModels } from '../job/helpers.ts';

const BIN = fileURLToPath(new URL('../../bin/cnext.js', import.meta.url));
const base = { ref: 'r.jpg', video: 'v.mp4', out: 'o.mp4' };
const ctx = { user: [] };
const parse = (extra: Record<string, unknown>) => parseRunOptions({ ...base, ...extra }, ctx);
const message = (extra: Record<string, unknown>): string => {
  try {
    parse(extra);
  } catch (e) {
    return (e as Error).message;
  }
  return '(no error)';
};

describe('cnext run options', () => {
  it('defaults are the reference run', () => {
    const { job, json } = parse({});
    expect(job.options).toEqual(DEFAULT_OPTIONS);
    expect(job.options).toMatchObject({ size: '576x1024', stride: 2, maxFrames: 240, steps: 25, guidanceMin: 3, guidanceMax: 3, framesPerBatch: 24, overlap: 6, decodeChunk: 2, fit: 'cover' });
    // SVD micro-conditioning as ControlNeXt-SVD-v2's pipeline passes it; the reference's linear pose fit; fp32 on the CPU
    expect(job.options).toMatchObject({ fpsId: 6, motionBucketId: 128, noiseAugStrength: 0.02, retarget: 'fit', device: 'cpu', precision: 'fp32' });
    expect(job.preset).toBe('dance-portrait');
    expect(json).toBe(false);
  });

  it('flags as commander gives them (strings) override the preset', () => {
    const { job } = parse({ preset: 'preview', steps: '3', size: '192x320', guidanceMin: '1.5', guidanceMax: '2.5', lowMemory: true, device: 'cuda', json: true, motionBucketId: '60', noiseAugStrength: '0.1', fpsId: '9', retarget: 'limb' });
    expect(job.preset).toBe('preview');
    expect(job.options).toMatchObject({ size: '192x320', steps: 3, stride: 3, guidanceMin: 1.5, guidanceMax: 2.5, lowMemory: true, device: 'cuda', precision: 'fp16' });
    expect(job.options).toMatchObject({ motionBucketId: 60, noiseAugStrength: 0.1, fpsId: 9, retarget: 'limb' });
    expect(parse({ device: 'cuda', precision: 'tf32' }).job.options.precision).toBe('tf32');
  });

  it('words every problem with the flag, what it takes and what it got', () => {
    expect(message({ maxFrames: '0' })).toBe('Expected integer between 1 and 100000 for --max-frames but received 0 of type number');
    expect(message({ steps: 'many' })).toBe("Expected integer between 1 and 1000 for --steps but received 'many' of type string");
    expect(message({ stride: '1.5' })).toBe('Expected integer between 1 and 1000 for --stride but received 1.5 of type number');
    expect(message({ guidanceMin: '-1' })).toBe('Expected number between 0 and 50 for --guidance-min but received -1 of type number');
    expect(message({ size: '100x200' })).toBe("Expected WxH with multiples of 64 between 64 and 4096, e.g. 576x1024 for --size but received '100x200' of type string");
    expect(message({ size: 'big' })).toBe("Expected WxH with multiples of 64 between 64 and 4096, e.g. 576x1024 for --size but received 'big' of type string");
    expect(message({ motionBucketId: '2000' })).toBe('Expected integer between 0 and 1023 for --motion-bucket-id but received 2000 of type number');
    expect(message({ noiseAugStrength: 'x' })).toBe("Expected number between 0 and 10 for --noise-aug-strength but received 'x' of type string");
    expect(message({ fpsId: '-1' })).toBe('Expected integer between 0 and 1023 for --fps-id but received -1 of type number');
    expect(message({ retarget: 'none' })).toBe("Expected one of fit, limb for --retarget but received 'none' of type string");
    expect(message({ precision: 'bf16' })).toBe("Expected one of fp32, tf32, fp16 for --precision but received 'bf16' of type string");
    expect(message({ precision: 'fp16' })).toBe('--precision fp16 needs --device cuda; the CPU runs fp32 only');
    expect(message({ bogus: '1' })).toBe('Expected a known flag for --bogus but received true of type boolean');
    expect(message({ out: 'o.avi' })).toBe("Expected file name ending in .mp4 for --out but received 'o.avi' of type string");
    expect(message({ fit: 'stretch' })).toBe("Expected one of cover, pad for --fit but received 'stretch' of type string");
    expect(message({ device: 'tpu' })).toBe("Expected one of cpu, cuda for --device but received 'tpu' of type string");
    expect(message({ overlap: '8', framesPerBatch: '8' })).toBe('--overlap (8) must be smaller than --frames-per-batch (8)');
    expect(message({ preset: 'nope' })).toMatch(/^Unknown preset 'nope'; valid presets: dance-portrait, /);
  });

  it('--help', async () => {
    const program = await buildProgram();
    const run = program.commands.find((c) => c.name() === 'run')!;
    expect(run.helpInformation()).toMatchSnapshot();
  });

  it('exits 2 with the message on stderr', async () => {
    const err = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    try {
      const code = await main(['run', '--ref', REF, '--video', DANCE, '--out', 'o.mp4', '--max-frames', '0']);
      expect(code).toBe(2);
      expect(err.mock.calls.map((c) => String(c[0])).join('')).toBe(
        'cnext: Expected integer between 1 and 100000 for --max-frames but received 0 of type number\n',
      );
    } finally {
      err.mockRestore();
    }
  });
});

describe('cnext run process', () => {
  let dir: string;
  let models: string;
  beforeAll(() => {
    dir = tempDir('cnext-run-');
    models = tinyModels(dir);
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  function cnext(args: string[], onLine?: (e: { type: string; kind?: string }, kill: () => void) => void) {
    const child = spawn(process.execPath, [BIN, ...args], {
      env: { ...process.env, CNEXT_CONFIG: '', XDG_CONFIG_HOME: path.join(dir, 'config'), CNEXT_CACHE: path.join(dir, 'cache') },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    let pending = '';
    child.stdout.on('data', (d: Buffer) => {
      stdout += d;
      pending += d;
      let i;
      while ((i = pending.indexOf('\n')) >= 0) {
        const line = pending.slice(0, i);
        pending = pending.slice(i + 1);
        onLine?.(JSON.parse(line), () => child.kill('SIGINT'));
      }
    });
    child.stderr.on('data', (d: Buffer) => (stderr += d));
    return new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => child.on('close', (code) => resolve({ code, stdout, stderr })));
  }

  it('Ctrl-C after the first checkpoint: message, exit 130; the same command resumes and finishes', async () => {
    const out = path.join(dir, 'o', 'dance.mp4');
    const args = ['run', '--ref', REF, '--video', DANCE, '--out', out, '--models', models, '--size', '128x256', '--stride', '6', '--max-frames', '4', '--steps', '3', '--json'];
    let killed = false;
    const first = await cnext(args, (e, kill) => {
      if (!killed && e.type === 'artifact' && e.kind === 'checkpoint') {
        killed = true;
        kill();
      }
    });
    expect(first.stderr).toContain(INTERRUPTED);
    expect(first.code).toBe(130);
    const events = first.stdout.trimEnd().split('\n').map((l) => JSON.parse(l));
    expect(events[0]).toMatchObject({ type: 'stage-start', stage: 'align' });
    expect(events.at(-1)).toMatchObject({ type: 'job-end', status: 'cancelled' });
    expect(fs.existsSync(out)).toBe(false);

    const second = await cnext(args);
    expect(second.code).toBe(0);
    const ev2 = second.stdout.trimEnd().split('\n').map((l) => JSON.parse(l));
    expect(ev2).toContainEqual({ type: 'log', level: 'info', message: `Resuming the job in ${path.join(dir, 'o', '.dance.mp4.cnext-job')}` });
    expect(ev2.find((e) => e.type === 'log' && /^Resuming from/.test(e.message))).toBeTruthy();
    expect(ev2.at(-1)).toMatchObject({ type: 'job-end', status: 'done', output: out });
    expect(fs.existsSync(out)).toBe(true);
  });
});
