import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { Command } from 'commander';
import { reportError } from '../../src/cli/main.ts';
import { register } from '../../src/cli/weights.ts';
import { writeSyntheticSafetensors, writeSyntheticTorchZip } from '../../src/weights/synthetic.ts';
import { writeTorchZip } from '../../src/weights/torch-zip-writer.ts';
import * as hostile from '../weights/hostile.ts';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cnext-cli-weights-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
afterEach(() => { vi.restoreAllMocks(); });

const spec = [
  { name: 'conv_in.weight', shape: [4, 8, 3, 3], dtype: 'F16' as const },
  { name: 'conv_in.bias', shape: [4], dtype: 'F16' as const },
  { name: 'proj.weight', shape: [6, 4] },
];

async function run(args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  vi.spyOn(process.stdout, 'write').mockImplementation((s: string | Uint8Array) => { out += String(s); return true; });
  vi.spyOn(process.stderr, 'write').mockImplementation((s: string | Uint8Array) => { err += String(s); return true; });
  // The same parse-and-report path as main(), with only this command registered.
  const program = new Command('cnext').exitOverride();
  register(program);
  try {
    let code = 0;
    try {
      await program.parseAsync(args, { from: 'user' });
    } catch (e) {
      code = reportError(e);
    }
    return { code, out, err };
  } finally {
    vi.restoreAllMocks();
  }
}

describe('cnext weights', () => {
  it('lists the tensors of a safetensors file', async () => {
    const file = path.join(dir, 'unet.safetensors');
    writeSyntheticSafetensors(file, spec, { seed: 1 });
    const r = await run(['weights', file]);
    expect(r.code).toBe(0);
    expect(r.err).toBe('');
    expect(r.out).toBe([
      file,
      '  conv_in.bias\tF16\t[4]\t8',
      '  conv_in.weight\tF16\t[4, 8, 3, 3]\t576',
      '  proj.weight\tF32\t[6, 4]\t96',
      '  3 tensors, 680 bytes',
      '',
    ].join('\n'));
  });

  it('lists a PyTorch .bin (sniffed, not by extension), with offsets and the layout of transposed tensors', async () => {
    const file = path.join(dir, 'controlnext.safetensors'); // a torch zip despite its name
    writeSyntheticTorchZip(file, spec, { seed: 1, transposed: { 'proj.weight': [1, 0] } });
    const r = await run(['weights', '--offsets', file]);
    expect(r.code).toBe(0);
    const lines = r.out.split('\n');
    expect(lines[0]).toBe(file);
    expect(lines[1]).toMatch(/^ {2}conv_in\.bias\tF16\t\[4\]\t8\t@\d+$/);
    expect(lines[3]).toMatch(/^ {2}proj\.weight\tF32\t\[6, 4\]\t96\t@\d+\tstored \[4, 6\] perm \[1, 0\]$/);
    expect(lines[4]).toBe('  3 tensors, 680 bytes');
  });

  it('exits non-zero with one line for malformed, hostile and unknown files', async () => {
    const good = path.join(dir, 'good.bin');
    writeSyntheticTorchZip(good, spec, { seed: 1 });
    const truncated = path.join(dir, 'truncated.bin');
    fs.writeFileSync(truncated, fs.readFileSync(good).subarray(0, 2000));
    const evil = path.join(dir, 'evil.bin');
    const marker = path.join(dir, 'pwned');
    writeTorchZip(evil, [], [], { dataPkl: hostile.stateDictWithPayload(marker) });
    const badJson = path.join(dir, 'bad.safetensors');
    fs.writeFileSync(badJson, Buffer.concat([Buffer.from([4, 0, 0, 0, 0, 0, 0, 0]), Buffer.from('{"a"')]));
    const text = path.join(dir, 'notes.txt');
    fs.writeFileSync(text, 'hello world\n');
    const cases: Array<[string, RegExp]> = [
      [truncated, /^cnext: .*truncated\.bin is not a valid PyTorch zip file: no end-of-central-directory record \(not a zip, or truncated\)\n$/],
      [evil, /^cnext: .*evil\.bin \(archive\/data\.pkl\): refusing global "posix\.system" at byte \d+: only PyTorch state-dict objects are allowed \(nothing was executed\)\n$/],
      [badJson, /^cnext: .*bad\.safetensors is not a valid safetensors file: header is not JSON \(.*\)\n$/],
      [text, /^cnext: .*notes\.txt is neither safetensors nor a PyTorch zip \(starts with 68 65 6c 6c 6f 20 77 6f\)\n$/],
      [path.join(dir, 'missing.bin'), /^cnext: Cannot read weight file .*missing\.bin: ENOENT.*\n$/],
    ];
    for (const [file, re] of cases) {
      const r = await run(['weights', file]);
      expect(r.code, file).toBe(2);
      expect(r.err).toMatch(re);
      expect(r.err.split('\n').length).toBe(2); // one line
    }
    expect(fs.existsSync(marker)).toBe(false);
  });

  it('works as a real process: bin/cnext.js exits 2 on a hostile file', () => {
    const evil = path.join(dir, 'evil2.bin');
    const marker = path.join(dir, 'pwned2');
    writeTorchZip(evil, [], [], { dataPkl: hostile.stateDictWithPayload(marker) });
    const bin = path.join(import.meta.dirname, '../../bin/cnext.js');
    const r = spawnSync(process.execPath, [bin, 'weights', evil], { encoding: 'utf8', timeout: 60_000 });
    expect(r.status).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/^cnext: .*refusing global "posix\.system".*\n$/);
    expect(fs.existsSync(marker)).toBe(false);
  });
});
