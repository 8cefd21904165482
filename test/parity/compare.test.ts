// compareOutputs (the check every network runner uses) and the case loader's weights resolution.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { float32, type Tensor } from '../../src/core/tensor.ts';
import { loadCase, validateCaseJson } from '../../src/parity/case.ts';
import { compareOutputs, fmt, toleranceFor } from '../../src/parity/compare.ts';
import type { CaseJson, ParityCase } from '../../src/parity/types.ts';
import { fixturesDir } from './fixtures-dir.ts';

function fakeCase(io: Record<string, Tensor>, tolerance: CaseJson['tolerance']): ParityCase {
  return {
    dir: '/nowhere/fake', name: 'fake', io: new Map(Object.entries(io)),
    json: { kind: 'fake', config: {}, inputs: {}, tolerance },
    weightsPath: () => { throw new Error('no weights'); },
  };
}

const ref = (vals: number[], dims = [vals.length]) => float32(dims, Float32Array.from(vals));

describe('compareOutputs', () => {
  const c = fakeCase(
    {
      'in.x': ref([1, 2]),
      'out.a': ref([1, 2, 3, 4], [2, 2]),
      'out.b': ref([10, 20]),
      'out.s': ref([1], [1]),
      'dbg.h': ref([0.5, 0.5]),
    },
    { max_abs: 0.1, mean_abs: 0.05, per_output: { 'out.b': { max_abs: 1, mean_abs: 1 }, 'dbg.h': { max_abs: 1e-3, mean_abs: 1e-3 } } },
  );

  it('checks every out.* with the case tolerance or its per_output entry', () => {
    const checks = compareOutputs(c, new Map<string, Float32Array | Tensor>([
      ['out.a', float32([2, 2], Float32Array.of(1.05, 2, 3, 4))],
      ['out.b', Float32Array.of(10.9, 20)],
      ['out.s', float32([], Float32Array.of(1))], // 0-d against the stored [1]
    ]));
    expect(checks.map((ch) => [ch.name, ch.pass])).toEqual([['out.a', true], ['out.b', true], ['out.s', true]]);
    expect(checks[0].maxAbs).toBeCloseTo(0.05, 6);
    expect(checks[0].meanAbs).toBeCloseTo(0.0125, 6);
  });

  it('fails over max_abs or mean_abs, a wrong shape, a missing output and an unknown produced name', () => {
    const checks = compareOutputs(c, new Map<string, Float32Array | Tensor>([
      ['out.a', float32([4], Float32Array.of(1, 2, 3, 4))],
      ['out.b', Float32Array.of(11.5, 20)],
      ['out.typo', Float32Array.of(1)],
      ['dbg.h', Float32Array.of(0.5, 0.503)],
    ]));
    const by = Object.fromEntries(checks.map((ch) => [ch.name, ch]));
    expect(by['out.a']).toMatchObject({ pass: false, detail: 'shape [4], expected [2, 2]' });
    expect(by['out.b']).toMatchObject({ pass: false, detail: 'max_abs 1.5 > 1' });
    expect(by['out.s']).toMatchObject({ pass: false, detail: 'not produced' });
    expect(by['out.typo']).toMatchObject({ pass: false, detail: 'produced but the case has no such reference tensor' });
    expect(by['dbg.h']).toMatchObject({ pass: false });
    expect(by['dbg.h'].detail).toBe('max_abs 0.003 > 0.001, mean_abs 0.0015 > 0.001');
  });

  it('NaN never passes', () => {
    const [a] = compareOutputs(c, new Map([['out.a', Float32Array.of(1, Number.NaN, 3, 4)]]), { select: (n) => n === 'out.a' });
    expect(a.pass).toBe(false);
    expect(a.maxAbs).toBe(Number.POSITIVE_INFINITY);
  });

  it('select limits what is required', () => {
    const checks = compareOutputs(c, new Map([['out.b', Float32Array.of(10, 20)]]), { select: (n) => n === 'out.b' });
    expect(checks.map((ch) => ch.name)).toEqual(['out.b']);
  });

  it('per_output keys may omit the out. prefix', () => {
    const c2 = fakeCase({ 'out.z': ref([0]) }, { max_abs: 1, mean_abs: 1, per_output: { z: { max_abs: 2, mean_abs: 3 } } });
    expect(toleranceFor(c2, 'out.z')).toEqual({ max_abs: 2, mean_abs: 3 });
  });

  it('formats numbers for PASS/FAIL lines', () => {
    expect([fmt(0), fmt(2e-6), fmt(1.5e-5), fmt(0.00204), fmt(1234.5), fmt(Infinity)]).toEqual(['0', '2e-6', '1.5e-5', '0.00204', '1230', 'Infinity']);
  });
});

describe('case loading', () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'cnext-case-'));
  afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

  it('resolves weights relative to the case folder: one file, or a map of components', () => {
    const root = fixturesDir();
    const nonsq = loadCase(path.join(root, 'controlnext_nonsquare'));
    expect(nonsq.weightsPath()).toBe(path.join(root, 'controlnext', 'weights.safetensors'));
    const pipe = loadCase(path.join(root, 'pipeline_tiny'));
    expect(pipe.weightsPath('unet')).toBe(path.join(root, 'unet_tiny', 'weights.safetensors'));
    expect(pipe.weightsPath('vae')).toBe(path.join(root, 'pipeline_tiny', 'vae.safetensors'));
    expect(() => pipe.weightsPath()).toThrow('pipeline_tiny: weights are per component (unet, vae, image_encoder, controlnext); name one');
    expect(() => pipe.weightsPath('text_encoder')).toThrow('pipeline_tiny: case.json has no weights for component "text_encoder"');
    expect(() => loadCase(path.join(root, 'scheduler')).weightsPath()).toThrow('scheduler: case.json names no weights');
  });

  it('loads io tensors with their dtypes', () => {
    const c = loadCase(path.join(fixturesDir(), 'svd_image_preprocess'));
    expect(c.io.get('in.image_u8')).toMatchObject({ type: 'uint8', dims: [1024, 576, 3] });
    expect(c.io.get('out.pixel_values')).toMatchObject({ type: 'float32', dims: [1, 3, 224, 224] });
  });

  it('a weights file that is not there is a missing-file error', () => {
    const dir = path.join(tmp, 'w');
    fs.mkdirSync(dir);
    fs.writeFileSync(path.join(dir, 'case.json'), JSON.stringify({ kind: 'x', tolerance: { max_abs: 1, mean_abs: 1 }, weights: '../gone.safetensors' }));
    fs.copyFileSync(path.join(fixturesDir(), 'scheduler', 'io.safetensors'), path.join(dir, 'io.safetensors'));
    expect(() => loadCase(dir).weightsPath()).toThrow(`w: missing weights file ../gone.safetensors (${path.join(tmp, 'gone.safetensors')})`);
  });

  it('validates the fields runners rely on', () => {
    expect(() => validateCaseJson('c', [])).toThrow('c: case.json is not a JSON object');
    expect(() => validateCaseJson('c', { tolerance: { max_abs: 1, mean_abs: 1 } })).toThrow('c: case.json has no "kind" string');
    expect(() => validateCaseJson('c', { kind: 'k', tolerance: { max_abs: -1, mean_abs: 1 } })).toThrow('"tolerance" needs non-negative numbers');
    expect(() => validateCaseJson('c', { kind: 'k', tolerance: { max_abs: 1, mean_abs: 1, per_output: { a: { max_abs: 1 } } } }))
      .toThrow('c: case.json "tolerance.per_output.a" needs numbers max_abs and mean_abs');
    expect(() => validateCaseJson('c', { kind: 'k', tolerance: { max_abs: 1, mean_abs: 1 }, weights: 3 })).toThrow('"weights" must be a path or a map');
    expect(validateCaseJson('c', { kind: 'k', tolerance: { max_abs: 1, mean_abs: 1 }, weights: null, extra: 5 }))
      .toMatchObject({ kind: 'k', config: {}, inputs: {}, extra: 5 });
  });
});
