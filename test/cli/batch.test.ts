import fs from 'node:fs';
import path from 'node:path';
import { Writable } from 'node:stream';
import { Command } from 'commander';
import { afterEach, describe, expect, it } from 'vitest';
import { parseBatchOptions, register, runBatchCommand } from '../../src/cli/batch.ts';
import { tree } from '../batch/helpers.ts';

const roots: string[] = [];
afterEach(() => {
  for (const r of roots.splice(0)) fs.rmSync(r, { recursive: true, force: true });
  process.exitCode = undefined;
});

function sink() {
  let text = '';
  const w = new Writable({
    write(c, _e, cb) {
      text += String(c);
      cb();
    },
  }) as unknown as NodeJS.WriteStream;
  return { w, text: () => text };
}

describe('cnext batch', () => {
  it('--help', () => {
    let out = '';
    const program = new Command('cnext').exitOverride().configureOutput({ writeOut: (s) => (out += s) });
    register(program);
    expect(() => program.parse(['batch', '--help'], { from: 'user' })).toThrow();
    expect(out).toMatchSnapshot();
  });

  it('flags are checked like cnext run’s, with the flag named', () => {
    const base = { out: 'out' };
    expect(() => parseBatchOptions('in', { ...base, steps: '0' })).toThrow('Expected integer between 1 and 1000 for --steps but received 0 of type number');
    expect(() => parseBatchOptions('in', { ...base, guidanceMax: '-1' })).toThrow('Expected number between 0 and 50 for --guidance-max but received -1 of type number');
    expect(() => parseBatchOptions('in', { ...base, fit: 'fill' })).toThrow("Expected one of cover, pad for --fit but received 'fill' of type string");
    expect(() => parseBatchOptions('in', { ...base, size: '576' })).toThrow("Expected WxH with multiples of 64 between 64 and 4096, e.g. 576x1024 for --size but received '576' of type string");
    expect(() => parseBatchOptions('in', { out: 'x.mp4' })).toThrow("Expected output folder (not a .mp4 file) for --out but received 'x.mp4' of type string");
    const f = parseBatchOptions('in', { ...base, size: '320x576', guidanceMin: '1', steps: '7', recursive: true, preset: 'hq' });
    expect(f).toMatchObject({ dir: 'in', out: 'out', recursive: true, preset: 'hq', flags: { size: '320x576', guidanceMin: 1, steps: 7 } });
  });

  it('without a terminal: plain log lines, then the summary table; exit status 1 when an item failed', async () => {
    const root = tree({ 'in/a.mp4': 'a', 'in/b.mp4': 'b', 'me.jpg': 'p' });
    roots.push(root);
    const out = sink();
    const flags = parseBatchOptions(path.join(root, 'in'), { out: path.join(root, 'out'), ref: path.join(root, 'me.jpg'), preset: 'preview' });
    await runBatchCommand(flags, {
      stdout: out.w, stderr: sink().w, presets: { user: [] }, prefetch: null, modelsKey: 'fake',
      runItem: async (it, { emit }) => {
        if (it.name === 'b.mp4') throw new Error('decoder exploded');
        emit({ type: 'stage-start', stage: 'denoise', total: 2 });
        fs.mkdirSync(path.dirname(it.output), { recursive: true });
        fs.writeFileSync(it.output, 'video');
        emit({ type: 'stage-end', stage: 'denoise', seconds: 0.5 });
      },
    });
    const text = out.text().replace(new RegExp(root.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'), 'g'), 'ROOT').replace(/\d+\.\d s|\d:\d\d/g, 'T');
    expect(text).toMatchSnapshot();
    expect(process.exitCode).toBe(1);
  });
});
