// `cnext parity --device/--precision`: the flags reach the networks' sessions; wrong combinations are one line,
// exit 2; tf32/fp16 runs keep the fixture tolerance as PASS/FAIL and add a separately labelled bound.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { main } from '../../src/cli/main.ts';
import { parseDeviceFlags } from '../../src/cli/device-flags.ts';
import { reducedVerdict } from '../../src/parity/reduced.ts';
import { formatResult, formatSummary, resultJson, runParity } from '../../src/parity/run.ts';
import type { KindModule } from '../../src/parity/registry.ts';
import type { ParityCase } from '../../src/parity/types.ts';
import { fixturesDir } from './fixtures-dir.ts';

const FIX = fixturesDir();
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'cnext-parity-device-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));
afterEach(() => {
  vi.restoreAllMocks();
  process.exitCode = undefined;
});

async function cli(args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  vi.spyOn(process.stdout, 'write').mockImplementation((s: string | Uint8Array) => { out += String(s); return true; });
  vi.spyOn(process.stderr, 'write').mockImplementation((s: string | Uint8Array) => { err += String(s); return true; });
  try {
    return { code: await main(args), out, err };
  } finally {
    vi.restoreAllMocks();
  }
}

describe('device flags', () => {
  it('default to CPU fp32 and accept cuda with a GPU number', () => {
    expect(parseDeviceFlags({})).toEqual({ device: 'cpu', precision: 'fp32' });
    expect(parseDeviceFlags({ device: 'cuda' })).toEqual({ device: 'cuda', precision: 'fp16' });
    expect(parseDeviceFlags({ device: 'cuda', precision: 'fp32', gpu: '1' })).toEqual({ device: 'cuda', precision: 'fp32', deviceId: 1 });
  });

  it.each([
    [['--device', 'cpu', '--precision', 'fp16'], '--precision fp16 needs --device cuda; the CPU runs fp32 only'],
    [['--precision', 'tf32'], '--precision tf32 needs --device cuda; the CPU runs fp32 only'],
    [['--precision', 'bf16'], "Expected one of fp32, tf32, fp16 for --precision but received 'bf16' of type string"],
    [['--device', 'gpu'], "Expected one of cpu, cuda for --device but received 'gpu' of type string"],
    [['--gpu', '1'], '--gpu 1 needs --device cuda'],
  ])('cnext parity %j is refused with one line, exit 2', async (flags, message) => {
    const { code, out, err } = await cli(['parity', path.join(FIX, 'scheduler'), ...flags]);
    expect(code).toBe(2);
    expect(out).toBe('');
    expect(err.split('\n')[0]).toBe(`cnext: ${message}`);
  });
});

describe('parity on a device', () => {
  it('CPU fp32 through the flags runs the real CLIP case at the fixture tolerance', async () => {
    const { code, out } = await cli(['parity', path.join(FIX, 'clip_tiny'), '--device', 'cpu', '--precision', 'fp32']);
    expect(out).toMatch(/^PASS clip_tiny max_abs=\S+ mean_abs=\S+\n1 passed, 0 failed\n$/);
    expect(code).toBe(0);
  });

  it('hands the session options to the kind and labels the reduced-precision verdict separately', async () => {
    const dir = path.join(tmp, 'fake_net');
    fs.mkdirSync(dir, { recursive: true });
    fs.copyFileSync(path.join(FIX, 'scheduler', 'io.safetensors'), path.join(dir, 'io.safetensors'));
    fs.writeFileSync(path.join(dir, 'case.json'), JSON.stringify({ kind: 'fake', tolerance: { max_abs: 1e-5, mean_abs: 1e-6 } }));
    const seen: ParityCase['session'][] = [];
    const kind: KindModule = {
      run: async (c) => {
        seen.push(c.session);
        return [
          { name: 'out.a', maxAbs: 4e-3, meanAbs: 1e-4, pass: false, refMaxAbs: 1, refMeanAbs: 0.5, detail: 'max_abs 0.004 > 1e-5' },
          { name: 'out.b', maxAbs: 0, meanAbs: 0, pass: true, refMaxAbs: 2, refMeanAbs: 1 },
        ];
      },
    };
    const session = { provider: 'cuda' as const, precision: 'fp16' as const, deviceId: 1 };
    const s = await runParity([dir], { kinds: { fake: async () => kind }, session });
    expect(seen).toEqual([session]);
    const r = s.results[0];
    expect(r.pass).toBe(false); // the fixture tolerance decides PASS/FAIL in every precision
    expect(r.reduced).toEqual({ precision: 'fp16', pass: true, relMax: 4e-3, relMean: 2e-4 });
    expect(formatResult(r)).toBe(
      'FAIL fake_net 1 of 2 outputs over tolerance: out.a: max_abs 0.004 > 1e-5 (max_abs=0.004 mean_abs=1e-4) [fp16 bound within: max_abs ≤ 1e-2·max|ref|, mean_abs ≤ 1e-2·mean|ref|; worst max_abs/max|ref|=0.004 mean_abs/mean|ref|=2e-4]',
    );
    expect(formatSummary(s)).toBe('0 passed, 1 failed (fixture tolerances); 1 of 1 within the fp16 bound (max_abs ≤ 1e-2·max|ref|, mean_abs ≤ 1e-2·mean|ref|)');
    expect(resultJson(r)).toMatchObject({ status: 'FAIL', reduced_precision: { precision: 'fp16', within: true } });

    const strict = await runParity([dir], { kinds: { fake: async () => kind }, session: { provider: 'cuda', precision: 'fp32' } });
    expect(strict.results[0].reduced).toBeUndefined();
    expect(formatSummary(strict)).toBe('0 passed, 1 failed');
  });

  it('the reduced bound never passes an output without a reference magnitude, nor one over 1e-2 relative', () => {
    expect(reducedVerdict('tf32', [{ name: 'img', maxAbs: 1, meanAbs: 1, pass: false }]).pass).toBe(false);
    expect(reducedVerdict('tf32', [{ name: 'x', maxAbs: 0.02, meanAbs: 0, pass: false, refMaxAbs: 1, refMeanAbs: 1 }]).pass).toBe(false);
    expect(reducedVerdict('tf32', [{ name: 'x', maxAbs: 0, meanAbs: 0.006, pass: false, refMaxAbs: 1, refMeanAbs: 0.5 }]).pass).toBe(false);
  });
});
