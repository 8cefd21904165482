import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { DEFAULT_OPTIONS } from '../../src/job/options.ts';
import { BUILTIN_PRESETS, configPath, findPreset, listPresets, loadUserPresets, resolveValues } from '../../src/presets/index.ts';

const dirs: string[] = [];
function configFile(doc: unknown): NodeJS.ProcessEnv {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cnext-presets-'));
  dirs.push(dir);
  const file = path.join(dir, 'presets.json');
  fs.writeFileSync(file, typeof doc === 'string' ? doc : JSON.stringify(doc));
  return { CNEXT_CONFIG: file };
}
afterEach(() => {
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

describe('built-in presets', () => {
  it('dance-portrait is the reference run', () => {
    expect(findPreset('dance-portrait', { user: [] }).values).toMatchObject({
      size: '576x1024', framesPerBatch: 24, overlap: 6, stride: 2, guidanceMin: 3, guidanceMax: 3, steps: 25, decodeChunk: 2,
      motionBucketId: 128, fpsId: 6, noiseAugStrength: 0.02, retarget: 'fit',
    });
  });
  it('preview, hq, square and landscape change what their names say; sizes are multiples of 64', () => {
    const v = (n: string) => findPreset(n, { user: [] }).values;
    expect(v('preview').steps!).toBeLessThan(25);
    expect(v('preview').stride).toBe(3);
    expect(v('hq')).toMatchObject({ stride: 1 });
    expect(v('hq').steps!).toBeGreaterThan(25);
    expect(v('square').size).toBe('768x768');
    expect(v('landscape')).toMatchObject({ size: '1024x576' });
    for (const p of BUILTIN_PRESETS) {
      expect(p.values.size, p.name).toMatch(/^\d+x\d+$/);
      for (const side of p.values.size!.split('x')) expect(Number(side) % 64, p.name).toBe(0);
      expect(p.values.overlap!).toBeLessThan(p.values.framesPerBatch!);
    }
  });
  it('unknown name: the message lists the valid presets', () => {
    expect(() => findPreset('dance', { user: [] })).toThrow("Unknown preset 'dance'; valid presets: dance-portrait, preview, hq, square, landscape");
  });
});

describe('merge order: defaults < preset < flags the user gave', () => {
  it('only given flags override the preset', () => {
    // commander fills defaults for every flag; only `steps` was typed
    const r = resolveValues('preview', { steps: 12, stride: 2, size: '576x1024' }, new Set(['steps']), { user: [] });
    expect(r.preset).toBe('preview');
    expect(r.values).toEqual({ ...DEFAULT_OPTIONS, ...findPreset('preview', { user: [] }).values, steps: 12 });
  });
  it('no preset → dance-portrait; flags checked with the preset bounds', () => {
    expect(resolveValues(undefined, {}, new Set(), { user: [] }).values).toEqual({ ...DEFAULT_OPTIONS, ...findPreset('dance-portrait', { user: [] }).values });
    expect(() => resolveValues('hq', { steps: 0 }, new Set(['steps']), { user: [] })).toThrow(
      'Expected integer between 1 and 1000 for --steps but received 0 of type number',
    );
    expect(() => resolveValues('hq', { fit: 'fill' }, new Set(['fit']), { user: [] })).toThrow(
      "Expected one of cover, pad for --fit but received 'fill' of type string",
    );
    expect(() => resolveValues('hq', { size: '500x576' }, new Set(['size']), { user: [] })).toThrow(
      "Expected WxH with multiples of 64 between 64 and 4096, e.g. 576x1024 for --size but received '500x576' of type string",
    );
    expect(() => resolveValues('hq', { overlap: 24 }, new Set(['overlap']), { user: [] })).toThrow(
      '--overlap (24) must be smaller than --frames-per-batch (24)',
    );
  });
});

describe('user presets file', () => {
  it('location: CNEXT_CONFIG, else XDG_CONFIG_HOME, else ~/.config', () => {
    expect(configPath({ CNEXT_CONFIG: '/x/p.json' })).toBe('/x/p.json');
    expect(configPath({ XDG_CONFIG_HOME: '/cfg' })).toBe('/cfg/controlnext-motion/presets.json');
    expect(configPath({ HOME: '/home/me' })).toBe('/home/me/.config/controlnext-motion/presets.json');
  });
  it('a missing default file is no presets; a missing CNEXT_CONFIG is an error', () => {
    expect(loadUserPresets({ XDG_CONFIG_HOME: '/nonexistent-cnext' }).presets).toEqual([]);
    expect(() => loadUserPresets({ CNEXT_CONFIG: '/nonexistent-cnext/p.json' })).toThrow('CNEXT_CONFIG points at /nonexistent-cnext/p.json, which does not exist');
  });
  it('extends a built-in (default: dance-portrait), may replace one, and flags still win', () => {
    const env = configFile({
      presets: {
        mine: { extends: 'hq', steps: 30, description: 'my clips' },
        small: { size: '320x576' },
        preview: { steps: 4, extends: 'preview' },
        child: { extends: 'mine', seed: 7 },
      },
    });
    const all = listPresets({ env });
    expect(all.map((p) => p.name)).toEqual(['dance-portrait', 'preview', 'hq', 'square', 'landscape', 'mine', 'small', 'child']);
    expect(findPreset('mine', { env }).values).toEqual({ ...findPreset('hq', { user: [] }).values, steps: 30 });
    expect(findPreset('mine', { env }).source).toBe(env.CNEXT_CONFIG);
    expect(findPreset('small', { env }).values).toMatchObject({ size: '320x576', steps: 25, stride: 2 });
    expect(findPreset('preview', { env }).values).toMatchObject({ steps: 4, stride: 3 });
    expect(findPreset('child', { env }).values).toMatchObject({ steps: 30, stride: 1, seed: 7 });
    expect(resolveValues('child', { steps: 5 }, new Set(['steps']), { env }).values.steps).toBe(5);
  });
  it('invalid values name the preset, the key and the valid choices', () => {
    const file = (doc: unknown) => configFile(doc);
    let env = file({ presets: { bad: { steps: -1 } } });
    expect(() => listPresets({ env })).toThrow(`${env.CNEXT_CONFIG}: preset 'bad': Expected integer between 1 and 1000 for "steps" but received -1 of type number`);
    env = file({ presets: { bad: { fit: 'stretch' } } });
    expect(() => listPresets({ env })).toThrow(`preset 'bad': Expected one of cover, pad for "fit" but received 'stretch' of type string`);
    env = file({ presets: { bad: { step: 10 } } });
    expect(() => listPresets({ env })).toThrow(
      "preset 'bad': unknown setting 'step'; valid settings: size, stride, maxFrames, steps, seed, guidanceMin, guidanceMax, framesPerBatch, overlap, controlStrength, motionBucketId, noiseAugStrength, fpsId, decodeChunk, fit, retarget, poseModel, device, precision, lowMemory, description, extends",
    );
    env = file({ presets: { bad: { extends: 'nope' } } });
    expect(() => listPresets({ env })).toThrow("preset 'bad' extends unknown preset 'nope'; valid presets: dance-portrait, preview, hq, square, landscape");
    env = file({ presets: { a: { extends: 'b' }, b: { extends: 'a' } } });
    expect(() => listPresets({ env })).toThrow("preset 'a' extends itself (a → b → a)");
    env = file('{ "presets": ');
    expect(() => listPresets({ env })).toThrow(/presets\.json: not valid JSON/);
    env = file({ mine: { steps: 3 } });
    expect(() => listPresets({ env })).toThrow(`unknown key 'mine' (the only top-level key is "presets")`);
  });
});
