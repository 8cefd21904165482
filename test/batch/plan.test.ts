import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { planBatch } from '../../src/batch/plan.ts';
import { findPreset } from '../../src/presets/index.ts';
import { tree } from './helpers.ts';

const roots: string[] = [];
const mk = (files: Record<string, string>) => {
  const r = tree(files);
  roots.push(r);
  return r;
};
afterEach(() => {
  for (const r of roots.splice(0)) fs.rmSync(r, { recursive: true, force: true });
});
const presets = { user: [] };

describe('planBatch', () => {
  it('one --ref for all, pairs by name first; outputs mirror DIR under OUTDIR as .mp4', () => {
    const root = mk({ 'in/a.mp4': 'x', 'in/b.mov': 'x', 'in/b.png': 'x', 'in/sub/c.webm': 'x', 'me.jpg': 'x' });
    const items = planBatch({ dir: path.join(root, 'in'), outDir: path.join(root, 'out'), ref: path.join(root, 'me.jpg'), recursive: true, presets });
    expect(items.map((i) => [i.name, path.relative(root, i.ref!), path.relative(root, i.output), i.preset])).toEqual([
      ['a.mp4', 'me.jpg', 'out/a.mp4', 'dance-portrait'],
      ['b.mov', 'in/b.png', 'out/b.mp4', 'dance-portrait'],
      [path.join('sub', 'c.webm'), 'me.jpg', path.join('out', 'sub', 'c.mp4'), 'dance-portrait'],
    ]);
    expect(items[0]!.options).toEqual({ ...items[0]!.options, ...findPreset('dance-portrait', presets).values });
  });
  it('preset and given flags: flags override the preset for every item', () => {
    const root = mk({ 'a.mp4': 'x', 'a.jpg': 'x' });
    const [it] = planBatch({ dir: root, outDir: path.join(root, 'out'), preset: 'preview', flags: { steps: 3, stride: 9 }, given: new Set(['steps']), presets });
    expect(it!.preset).toBe('preview');
    expect(it!.options).toMatchObject({ ...findPreset('preview', presets).values, steps: 3 });
  });
  it('two videos with one stem keep their extensions in the output name', () => {
    const root = mk({ 'clip.mp4': 'x', 'clip.mov': 'x', 'other.mkv': 'x', 'me.jpg': 'x' });
    const items = planBatch({ dir: root, outDir: path.join(root, 'out'), ref: path.join(root, 'me.jpg'), presets });
    expect(items.map((i) => path.basename(i.output))).toEqual(['clip.mov.mp4', 'clip.mp4.mp4', 'other.mp4']);
  });
  it('per-item problems fail only that item: no reference, unknown preset in a row, duplicate output', () => {
    const root = mk({
      'a.mp4': 'x', 'b.mp4': 'x', 'c.mp4': 'x', 'me.jpg': 'x',
      'm.csv': 'video,ref,preset,out\na.mp4,me.jpg,hq\nb.mp4,me.jpg,nope\nc.mp4,,,a.mp4\nd.mp4\n',
    });
    const items = planBatch({ dir: root, outDir: path.join(root, 'out'), manifest: path.join(root, 'm.csv'), presets });
    expect(items[0]!.problem).toBeUndefined();
    expect(items[0]!.options!.steps).toBe(findPreset('hq', presets).values.steps);
    expect(items[1]!.problem?.message).toBe(`${path.join(root, 'm.csv')}:3: Unknown preset 'nope'; valid presets: dance-portrait, preview, hq, square, landscape`);
    expect(items[2]!.problem?.message).toBe(`${path.join(root, 'm.csv')}:4: ${path.join(root, 'out', 'a.mp4')} is also the output of a.mp4`);
    expect(items[3]!.problem?.message).toBe('No reference photo for d.mp4');
  });
  it('an output that is the input (OUTDIR = DIR) fails that item', () => {
    const root = mk({ 'a.mp4': 'x', 'b.mov': 'x', 'me.jpg': 'x' });
    const items = planBatch({ dir: root, outDir: root, ref: path.join(root, 'me.jpg'), presets });
    expect(items[0]!.problem?.message).toBe(`${path.join(root, 'a.mp4')}: the output ${path.join(root, 'a.mp4')} is this item's input; choose another --out folder`);
    expect(items[1]!.problem).toBeUndefined(); // b.mov → b.mp4 is a new file
  });
  it('whole-batch errors: bad --preset or flag, no videos', () => {
    const root = mk({ 'a.mp4': 'x', 'sub/b.mp4': 'x' });
    expect(() => planBatch({ dir: root, outDir: path.join(root, 'out'), preset: 'fast', presets })).toThrow(
      "Unknown preset 'fast'; valid presets: dance-portrait, preview, hq, square, landscape",
    );
    expect(() => planBatch({ dir: root, outDir: path.join(root, 'out'), flags: { steps: 0 }, presets })).toThrow(
      'Expected integer between 1 and 1000 for --steps but received 0 of type number',
    );
    expect(() => planBatch({ dir: path.join(root, 'sub', '..', 'sub', '..', 'out-none'), outDir: root, presets })).toThrow(/does not exist/);
    const empty = mk({ 'x.txt': 'x', 'sub/b.mp4': 'x' });
    expect(() => planBatch({ dir: empty, outDir: path.join(empty, 'out'), presets })).toThrow(
      `No videos (mp4, mov, webm, mkv) in ${empty} (add --recursive for subfolders)`,
    );
  });
});
