import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CnextError } from '../../src/core/errors.ts';
import { openWeightFile, sniffWeightFormat } from '../../src/weights/open.ts';
import { writeSyntheticSafetensors, writeSyntheticTorchZip } from '../../src/weights/synthetic.ts';

const FIXTURES = path.join(import.meta.dirname, 'fixtures');
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cnext-open-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

function errorOf(f: () => unknown): CnextError {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(CnextError);
    return e as CnextError;
  }
  throw new Error('expected a CnextError');
}

describe('openWeightFile', () => {
  it('sniffs the format from the first bytes, whatever the extension', () => {
    const spec = [{ name: 'w', shape: [2, 2] }];
    const st = path.join(dir, 'weights.bin');
    const tz = path.join(dir, 'weights.safetensors');
    writeSyntheticSafetensors(st, spec);
    writeSyntheticTorchZip(tz, spec);
    expect(sniffWeightFormat(st)).toBe('safetensors');
    expect(sniffWeightFormat(tz)).toBe('torch-zip');
    expect(openWeightFile(st).names()).toEqual(['w']);
    expect(openWeightFile(tz).names()).toEqual(['w']);
    // the same bytes either way
    expect(openWeightFile(tz).get('w').length).toBe(openWeightFile(st).get('w').length);
  });

  it('names what it cannot read', () => {
    const legacy = errorOf(() => openWeightFile(path.join(FIXTURES, 'legacy.pt')));
    expect(legacy.code).toBe('WEIGHTS_UNSUPPORTED');
    expect(legacy.message).toBe(`${path.join(FIXTURES, 'legacy.pt')} is a PyTorch file in the legacy (pre-1.6, non-zip) format, which is not supported`);
    const empty = path.join(dir, 'empty');
    fs.writeFileSync(empty, '');
    expect(errorOf(() => openWeightFile(empty)).message).toBe(`${empty} is neither safetensors nor a PyTorch zip (empty file)`);
    const emptyZip = path.join(dir, 'empty.zip');
    fs.writeFileSync(emptyZip, Buffer.from('504b0506' + '00'.repeat(18), 'hex'));
    expect(errorOf(() => openWeightFile(emptyZip)).message).toBe(
      `${emptyZip} is not a valid PyTorch zip file: no <folder>/data.pkl entry (a zip, but not one written by torch.save)`,
    );
    expect(errorOf(() => openWeightFile(dir)).code).toBe('WEIGHTS_UNREADABLE');
  });
});
