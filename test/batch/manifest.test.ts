import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { parseCsvManifest, parseJsonManifest, readManifest, splitCsvLine } from '../../src/batch/manifest.ts';
import { tree } from './helpers.ts';

const roots: string[] = [];
afterEach(() => {
  for (const r of roots.splice(0)) fs.rmSync(r, { recursive: true, force: true });
});

describe('CSV manifest', () => {
  it('rows video,ref,preset,out without a header; blank lines and # comments skipped; empty cells fall back', () => {
    const rows = parseCsvManifest('# clips\na.mp4,a.jpg,hq\n\nb.mp4,,,b-out.mp4\n c.mp4 \n', 'm.csv');
    expect(rows).toEqual([
      { video: 'a.mp4', ref: 'a.jpg', preset: 'hq', out: undefined, where: 'm.csv:2' },
      { video: 'b.mp4', ref: undefined, preset: undefined, out: 'b-out.mp4', where: 'm.csv:4' },
      { video: 'c.mp4', ref: undefined, preset: undefined, out: undefined, where: 'm.csv:5' },
    ]);
  });
  it('a header names the columns in any order', () => {
    expect(parseCsvManifest('preset,Video,ref\nhq,a.mp4,me.jpg\r\n', 'm.csv')).toEqual([
      { video: 'a.mp4', ref: 'me.jpg', preset: 'hq', out: undefined, where: 'm.csv:2' },
    ]);
  });
  it('quoted cells keep commas, quotes and spaces', () => {
    expect(splitCsvLine('"my, clip.mp4"," a ""b"".jpg",hq', 'x')).toEqual(['my, clip.mp4', ' a "b".jpg', 'hq']);
  });
  it('errors name the line and the valid columns', () => {
    expect(() => parseCsvManifest('video,photo\n', 'm.csv')).toThrow("m.csv:1: unknown column 'photo'; valid columns: video, ref, preset, out");
    expect(() => parseCsvManifest('a.mp4,a.jpg,hq,o.mp4,extra\n', 'm.csv')).toThrow('m.csv:1: 5 cells but only 4 columns (video, ref, preset, out)');
    expect(() => parseCsvManifest('a.mp4\n,a.jpg\n', 'm.csv')).toThrow('m.csv:2: no video');
    expect(() => parseCsvManifest('"a.mp4,a.jpg\n', 'm.csv')).toThrow('m.csv:1: unterminated quote');
  });
});

describe('JSON manifest', () => {
  it('an array of rows, or { items }', () => {
    const rows = [{ video: 'a.mp4', ref: 'a.jpg', preset: 'hq' }, { video: 'b.mp4', out: 'x/b.mp4' }];
    expect(parseJsonManifest(JSON.stringify(rows), 'm.json')).toEqual([
      { video: 'a.mp4', ref: 'a.jpg', preset: 'hq', out: undefined, where: 'm.json item 1' },
      { video: 'b.mp4', ref: undefined, preset: undefined, out: 'x/b.mp4', where: 'm.json item 2' },
    ]);
    expect(parseJsonManifest(JSON.stringify({ items: rows }), 'm.json')).toHaveLength(2);
  });
  it('errors', () => {
    expect(() => parseJsonManifest('{', 'm.json')).toThrow(/^m\.json: not valid JSON/);
    expect(() => parseJsonManifest('{"rows": []}', 'm.json')).toThrow('m.json: expected an array of rows, or { "items": [...] }');
    expect(() => parseJsonManifest('[{"video": "a.mp4", "photo": "a.jpg"}]', 'm.json')).toThrow("m.json item 1: unknown key 'photo'; valid keys: video, ref, preset, out");
    expect(() => parseJsonManifest('[{"video": 3}]', 'm.json')).toThrow("m.json item 1: 'video' must be a string");
    expect(() => parseJsonManifest('[{"ref": "a.jpg"}]', 'm.json')).toThrow('m.json item 1: no video');
  });
});

describe('readManifest', () => {
  it('resolves paths against the manifest folder; .json picks JSON', () => {
    const root = tree({ 'lists/m.csv': 'clips/a.mp4,../me.jpg\n', 'lists/m.json': '[{"video": "/abs/b.mp4"}]' });
    roots.push(root);
    expect(readManifest(path.join(root, 'lists/m.csv'))[0]).toMatchObject({ video: path.join(root, 'lists/clips/a.mp4'), ref: path.join(root, 'me.jpg') });
    expect(readManifest(path.join(root, 'lists/m.json'))[0]).toMatchObject({ video: '/abs/b.mp4', ref: undefined });
    expect(() => readManifest(path.join(root, 'nope.csv'))).toThrow(`The manifest ${path.join(root, 'nope.csv')} does not exist`);
  });
});
