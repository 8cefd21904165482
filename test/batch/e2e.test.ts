// `cnext batch` end to end with the real job layer (runJob: MediaPipe poses, SVD + ControlNeXt on a tiny synthetic
// model, ffmpeg): three clips, interrupted during the second, rerun → three outputs and report.json.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { synthesizeModels } from '../../models/synth.ts';
import { parseBatchOptions, runBatchCommand } from '../../src/cli/batch.ts';
import { probeVideo } from '../../video/probe.ts';

const SAMPLES = path.resolve(import.meta.dirname, '..', '..', 'samples');

function stream(onLine: (line: string) => void = () => {}) {
  const lines: string[] = [];
  let rest = '';
  const w = new Writable({
    write(chunk, _enc, cb) {
      const parts = (rest + String(chunk)).split('\n');
      rest = parts.pop()!;
      for (const l of parts) {
        lines.push(l);
        onLine(l);
      }
      cb();
    },
  }) as unknown as NodeJS.WriteStream;
  return { w, lines, text: () => lines.join('\n') + rest };
}

let root: string;
beforeAll(() => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'cnext-batch-e2e-'));
  synthesizeModels(path.join(root, 'models'), { preset: 'tiny' });
  fs.mkdirSync(path.join(root, 'clips'));
  for (const name of ['a.mp4', 'b.mov', 'c.mp4']) fs.copyFileSync(path.join(SAMPLES, 'dance.mp4'), path.join(root, 'clips', name));
  fs.copyFileSync(path.join(SAMPLES, 'ref.jpg'), path.join(root, 'me.jpg'));
});
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

describe('cnext batch (real jobs, tiny synthetic model)', () => {
  it('interrupted during the second clip, rerun: three outputs plus report.json', async () => {
    const raw = {
      out: path.join(root, 'out'), ref: path.join(root, 'me.jpg'), models: path.join(root, 'models'), preset: 'preview',
      size: '64x128', stride: '30', maxFrames: '2', steps: '2', framesPerBatch: '3', overlap: '1', json: true,
    };
    const flags = parseBatchOptions(path.join(root, 'clips'), raw);
    const ac = new AbortController();
    let current = -1;
    const out1 = stream((l) => {
      const e = JSON.parse(l) as { type: string; index?: number; stage?: string; done?: number };
      if (e.type === 'item-start') current = e.index!;
      // stop once the second clip has finished its first denoising step (its checkpoint is in its job folder)
      if (current === 1 && e.type === 'progress' && e.stage === 'denoise' && e.done === 1) ac.abort();
    });
    const err1 = stream();
    const r1 = await runBatchCommand(flags, { stdout: out1.w, stderr: err1.w, signal: ac.signal, presets: { user: [] } });
    expect(r1.items.map((i) => `${i.name} ${i.status}`)).toEqual(['a.mp4 done', 'b.mov cancelled', 'c.mp4 pending']);
    expect(err1.text()).toContain('Interrupted. Run the same command again to resume.');
    expect(process.exitCode).toBe(130);
    process.exitCode = undefined;
    expect(fs.readdirSync(path.join(root, 'out')).filter((f) => !f.startsWith('.')).sort()).toEqual(['a.mp4', 'report.json']);
    // the second clip's poses were extracted while the first one generated
    const events1 = out1.lines.map((l) => JSON.parse(l) as { type: string; message?: string });
    expect(events1.some((e) => e.type === 'log' && e.message === 'extracting the poses of b.mov in the background')).toBe(true);

    const out2 = stream();
    const err2 = stream();
    const r2 = await runBatchCommand(flags, { stdout: out2.w, stderr: err2.w, presets: { user: [] } });
    expect(r2.items.map((i) => `${i.name} ${i.status}`)).toEqual(['a.mp4 skipped', 'b.mov done', 'c.mp4 done']);
    expect(process.exitCode).toBeUndefined();
    const events2 = out2.lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    const resumed = events2.filter((e) => e.type === 'log' && String(e.message).startsWith('Resuming from'));
    expect(resumed.map((e) => e.message)).toEqual([expect.stringMatching(/steps 1–1 of 2 already done$/)]);
    expect(events2.filter((e) => e.type === 'stage-end' && e.stage === 'pose' && e.skipped === true)).toHaveLength(2); // b (job folder) and c (prefetched)
    expect(err2.text()).toMatch(/#\s+ITEM\s+STATUS\s+TIME\s+OUTPUT \/ ERROR/);
    expect(err2.text()).toMatch(/2 done, 1 skipped in /);

    const outputs = fs.readdirSync(path.join(root, 'out')).filter((f) => f.endsWith('.mp4')).sort();
    expect(outputs).toEqual(['a.mp4', 'b.mp4', 'c.mp4']);
    for (const f of outputs) expect((await probeVideo(path.join(root, 'out', f))).frames).toBe(2);
    const report = JSON.parse(fs.readFileSync(path.join(root, 'out', 'report.json'), 'utf8'));
    expect(report.summary).toEqual({ done: 2, skipped: 1, failed: 0, cancelled: 0, pending: 0 });
    expect(report.items.map((i: { output: string }) => path.basename(i.output))).toEqual(['a.mp4', 'b.mp4', 'c.mp4']);
  });
});
