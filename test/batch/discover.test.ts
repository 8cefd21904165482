import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { discoverVideos, pairedRef } from '../../src/batch/discover.ts';
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

describe('discoverVideos', () => {
  const files = {
    'b.mp4': 'x', 'a.MOV': 'x', 'c.webm': 'x', 'd.mkv': 'x', 'notes.txt': 'x', 'a.jpg': 'x', 'e.avi': 'x',
    'sub/f.mp4': 'x', 'sub/deeper/g.mp4': 'x', '.hidden.mp4': 'x', '.h.mp4.cnext-job/pose.mp4': 'x', 'h.mp4.partial-12.mp4': 'x',
    'out/a.mp4': 'x',
  };
  it('the four video types, sorted, no subfolders by default; hidden, job folders and partial files skipped', () => {
    const root = mk(files);
    expect(discoverVideos(root).map((f) => path.relative(root, f))).toEqual(['a.MOV', 'b.mp4', 'c.webm', 'd.mkv']);
  });
  it('--recursive enters subfolders but not the output folder', () => {
    const root = mk(files);
    expect(discoverVideos(root, { recursive: true, exclude: [path.join(root, 'out')] }).map((f) => path.relative(root, f))).toEqual([
      'a.MOV', 'b.mp4', 'c.webm', 'd.mkv', 'sub/deeper/g.mp4', 'sub/f.mp4',
    ]);
  });
  it('a missing folder or a file is an error', () => {
    expect(() => discoverVideos('/nonexistent-cnext-dir')).toThrow('The folder /nonexistent-cnext-dir does not exist');
    const root = mk({ 'a.mp4': 'x' });
    expect(() => discoverVideos(path.join(root, 'a.mp4'))).toThrow(`${path.join(root, 'a.mp4')} is not a folder`);
  });
});

describe('pairedRef', () => {
  it('the photo named like the video, jpg before png, extension case ignored', () => {
    const root = mk({ 'clip.mp4': 'x', 'clip.png': 'x', 'clip.JPG': 'x', 'other.mp4': 'x', 'other2.jpg': 'x', 'x.mov': 'x', 'x.webp': 'x' });
    expect(pairedRef(path.join(root, 'clip.mp4'))).toBe(path.join(root, 'clip.JPG'));
    expect(pairedRef(path.join(root, 'other.mp4'))).toBeUndefined();
    expect(pairedRef(path.join(root, 'x.mov'))).toBe(path.join(root, 'x.webp'));
  });
});
