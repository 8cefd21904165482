import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readSafetensorsHeader, readEntryBytes, writeSafetensors, writeSafetensorsStream } from '../../src/weights/safetensors.ts';
import {
  GaussianStream, specOf, syntheticChunks, syntheticInit, syntheticValues,
  writeSyntheticSafetensors, writeSyntheticTorchZip, type SyntheticTensorSpec,
} from '../../src/weights/synthetic.ts';
import { openWeightFile } from '../../src/weights/open.ts';
import { readTorchZip } from '../../src/weights/torch-zip.ts';
import { logicalValues } from './helpers.ts';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cnext-synthetic-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

const spec: SyntheticTensorSpec[] = [
  { name: 'down.0.conv.weight', shape: [8, 4, 3, 3] },
  { name: 'down.0.conv.bias', shape: [8] },
  { name: 'down.0.norm.weight', shape: [8], dtype: 'F16' },
  { name: 'down.0.norm.bias', shape: [8], dtype: 'BF16' },
  { name: 'pos_ids', shape: [1, 7], dtype: 'I64' },
  { name: 'mix_factor', shape: [1] },
  { name: 'scalar', shape: [] },
];

function stats(v: ArrayLike<number>): { mean: number; std: number } {
  let s = 0;
  for (let i = 0; i < v.length; i++) s += v[i];
  const mean = s / v.length;
  let q = 0;
  for (let i = 0; i < v.length; i++) q += (v[i] - mean) ** 2;
  return { mean, std: Math.sqrt(q / v.length) };
}

describe('synthetic weights', () => {
  it('are deterministic: same seed, same bytes; another seed, other values', () => {
    const a = path.join(dir, 'a.safetensors');
    const b = path.join(dir, 'b.safetensors');
    const c = path.join(dir, 'c.safetensors');
    writeSyntheticSafetensors(a, spec, { seed: 42 });
    writeSyntheticSafetensors(b, spec, { seed: 42 });
    writeSyntheticSafetensors(c, spec, { seed: 43 });
    expect(fs.readFileSync(a).equals(fs.readFileSync(b))).toBe(true);
    const w = (f: string) => logicalValues(openWeightFile(f).get('down.0.conv.weight'));
    expect(w(a)).not.toEqual(w(c));
  });

  it('depend on (seed, name), not on the order of the spec or the file format', () => {
    const fwd = path.join(dir, 'fwd.safetensors');
    const rev = path.join(dir, 'rev.safetensors');
    const zip = path.join(dir, 'fwd.bin');
    writeSyntheticSafetensors(fwd, spec, { seed: 5 });
    writeSyntheticSafetensors(rev, [...spec].reverse(), { seed: 5 });
    writeSyntheticTorchZip(zip, spec, { seed: 5 });
    const sf = openWeightFile(fwd);
    const sr = openWeightFile(rev);
    const sz = openWeightFile(zip);
    expect(sz.names()).toEqual(spec.map((t) => t.name));
    for (const t of spec) {
      const bytes = readEntryBytes(sf.get(t.name));
      expect(readEntryBytes(sr.get(t.name)).equals(bytes), t.name).toBe(true);
      expect(readEntryBytes(sz.get(t.name)).equals(bytes), t.name).toBe(true);
      expect(sz.get(t.name).dtype).toBe(t.dtype ?? 'F32');
      expect(logicalValues(sf.get(t.name))).toEqual([...syntheticValues(t, 5)]);
    }
  });

  it('use torch-like init scales, overridable per tensor', () => {
    expect(syntheticInit({ name: 'a.weight', shape: [320, 320, 3, 3] })).toEqual({ mean: 0, std: 1 / Math.sqrt(2880) });
    expect(syntheticInit({ name: 'a.bias', shape: [320] })).toEqual({ mean: 0, std: 0.02 });
    expect(syntheticInit({ name: 'norm.weight', shape: [320] })).toEqual({ mean: 1, std: 0.02 });
    expect(syntheticInit({ name: 'mix_factor', shape: [1] })).toEqual({ mean: 0, std: 1 });
    expect(syntheticInit({ name: 'x.weight', shape: [4, 4], std: 0.5, mean: 2 })).toEqual({ mean: 2, std: 0.5 });
    const big = syntheticValues({ name: 'lin.weight', shape: [256, 1024] }, 1);
    const s = stats(big);
    expect(Math.abs(s.mean)).toBeLessThan(0.02 / 32); // ~10 standard errors
    expect(Math.abs(s.std * 32 - 1)).toBeLessThan(0.01); // std 1/sqrt(1024)
    const norm = stats(syntheticValues({ name: 'n.weight', shape: [20000] }, 1));
    expect(Math.abs(norm.mean - 1)).toBeLessThan(0.001);
    expect(Math.abs(norm.std - 0.02)).toBeLessThan(0.001);
    const custom = stats(syntheticValues({ name: 'c', shape: [20000], mean: -3, std: 0.1 }, 1));
    expect(Math.abs(custom.mean + 3)).toBeLessThan(0.005);
    expect(Math.abs(custom.std - 0.1)).toBeLessThan(0.005);
  });

  it('round to half and bfloat16 from the same float32 values (nearest even)', () => {
    const t = { name: 'w', shape: [4000] };
    const f32 = syntheticValues(t, 9, 'F32');
    const f16 = syntheticValues(t, 9, 'F16');
    const bf16 = syntheticValues(t, 9, 'BF16');
    for (let i = 0; i < f32.length; i++) {
      expect(Math.abs(f16[i] - f32[i])).toBeLessThanOrEqual(Math.max(Math.abs(f32[i]) * 2 ** -11, 2 ** -25));
      expect(Math.abs(bf16[i] - f32[i])).toBeLessThanOrEqual(Math.abs(f32[i]) * 2 ** -8);
    }
  });

  it('store every float tensor in the requested dtype; int64 tensors stay arange', () => {
    const file = path.join(dir, 'f16.safetensors');
    writeSyntheticSafetensors(file, spec, { seed: 2, dtype: 'F16' });
    const h = readSafetensorsHeader(file);
    expect(h.entries.map((e) => e.dtype)).toEqual(['F16', 'F16', 'F16', 'F16', 'I64', 'F16', 'F16']);
    expect(h.metadata).toEqual({ format: 'pt', synthetic_seed: '2' });
    const ids = h.entries.find((e) => e.name === 'pos_ids')!;
    expect(logicalValues(ids)).toEqual([0, 1, 2, 3, 4, 5, 6]);
    const bz = path.join(dir, 'bf16.bin');
    writeSyntheticTorchZip(bz, spec, { seed: 2, dtype: 'BF16' });
    expect(readTorchZip(bz).entries.map((e) => e.dtype)).toEqual(['BF16', 'BF16', 'BF16', 'BF16', 'I64', 'BF16', 'BF16']);
  });

  it('stream in pieces of at most 1 M elements, continuous across pieces', () => {
    const t = { name: 'big', shape: [3, 1100, 1001] }; // 3.3033 M elements
    const pieces = [...syntheticChunks(t, t.shape, 'F32', 4)];
    expect(pieces.map((p) => p.byteLength)).toEqual([4 << 20, 4 << 20, 4 << 20, (3303300 - 3 * 2 ** 20) * 4]);
    // an odd piece boundary does not break the variate pairs: values equal a single-pass fill
    const whole = new Float32Array(3303300);
    new GaussianStream(4, 'big').fill(whole, 0, 1 / Math.sqrt(1101100));
    const joined = new Float32Array(Buffer.concat(pieces).buffer.slice(0));
    expect(joined.every((v, i) => v === whole[i])).toBe(true);
    const odd = new GaussianStream(4, 'big');
    const parts = [new Float32Array(3), new Float32Array(5), new Float32Array(1)];
    for (const p of parts) odd.fill(p, 0, 1 / Math.sqrt(1101100));
    expect([...parts[0], ...parts[1], ...parts[2]]).toEqual([...whole.subarray(0, 9)]);
  });

  it('writeSafetensorsStream lays a file out exactly like writeSafetensors', () => {
    const a = path.join(dir, 'plain.safetensors');
    const b = path.join(dir, 'stream.safetensors');
    const data = new Map(spec.map((t) => {
      const bytes = Buffer.concat([...syntheticChunks(t, t.shape, t.dtype ?? 'F32', 1)]);
      return [t.name, { dtype: t.dtype ?? 'F32', shape: t.shape, data: new Uint8Array(bytes) }] as const;
    }));
    writeSafetensors(a, data, { k: 'v' });
    writeSafetensorsStream(b, [...data].map(([n, t]) => [n, { dtype: t.dtype, shape: t.shape, chunks: () => [t.data.subarray(0, 3), t.data.subarray(3)] }]), { k: 'v' });
    expect(fs.readFileSync(a).equals(fs.readFileSync(b))).toBe(true);
    expect(() => writeSafetensorsStream(path.join(dir, 'short.safetensors'), [['x', { dtype: 'F32', shape: [2], chunks: () => [new Uint8Array(4)] }]]))
      .toThrow('tensor x: 4 bytes for 8 expected');
    expect(fs.readdirSync(dir).some((f) => f.startsWith('short.safetensors'))).toBe(false); // no half-written file
  });

  it('reject bad specs and mirror an existing file with specOf', () => {
    expect(() => writeSyntheticSafetensors(path.join(dir, 'x'), [{ name: 'a', shape: [1] }, { name: 'a', shape: [2] }])).toThrow('tensor a is listed twice in the spec');
    expect(() => writeSyntheticSafetensors(path.join(dir, 'x'), [{ name: 'a', shape: [-1] }])).toThrow('invalid dim -1');
    expect(() => writeSyntheticTorchZip(path.join(dir, 'x'), [{ name: 'a', shape: [2, 3] }], { transposed: { a: [0, 0] } })).toThrow('is not a permutation');
    const file = path.join(dir, 'mirror.safetensors');
    writeSyntheticSafetensors(file, spec, { seed: 1 });
    expect(specOf(openWeightFile(file))).toEqual(spec.map((t) => ({ name: t.name, shape: t.shape, dtype: t.dtype ?? 'F32' })));
  });
});
