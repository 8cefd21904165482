// `cnext bench --device/--precision`: refusals, the labels and first-call time of a real (tiny) UNet run on the
// CPU, the ControlNeXt-share ratio, and reading nvidia-smi's per-process memory.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseComputeApps } from '../../src/bench/gpu-memory.ts';
import { benchSession } from '../../src/bench/networks.ts';
import { deriveRatios } from '../../src/cli/bench.ts';
import { synthesizeModels } from '../../models/synth.ts';

const CLI = path.resolve(import.meta.dirname, '../../bin/cnext.js');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'cnext-bench-device-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

function cnext(args: string[]) {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: 170_000, env: { ...process.env, CNEXT_CACHE: tmp } });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

describe('cnext bench on a device', () => {
  it.each([
    [['unet', '--precision', 'fp16'], '--precision fp16 needs --device cuda; the CPU runs fp32 only'],
    [['unet', '--device', 'cpu', '--precision', 'tf32'], '--precision tf32 needs --device cuda; the CPU runs fp32 only'],
    [['conv-peak', '--device', 'cuda'], 'conv-peak measures the CPU only; with --device cuda choose from: unet, unet-lowmem, controlnext-overhead, sampler, job-240'],
  ])('refuses %j with one line, exit 2', (args, message) => {
    const r = cnext(['bench', ...args]);
    expect(r.code).toBe(2);
    expect(r.err.split('\n')[0]).toBe(`cnext: ${message}`);
    expect(r.out).toBe('');
  });

  it('runs the UNet benchmark on the CPU at a tiny size, labelled with device and precision', () => {
    const models = path.join(tmp, 'tiny');
    synthesizeModels(models, { preset: 'tiny', seed: 2 });
    const r = cnext(['bench', 'unet', '--json', '--models', models, '--size', '64x64', '--frames', '3', '--device', 'cpu', '--precision', 'fp32']);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    const j = JSON.parse(r.out) as { results: Record<string, { result: Record<string, unknown>; peakGpu?: unknown }> };
    const u = j.results.unet.result;
    expect(u).toMatchObject({ device: 'cpu', precision: 'fp32', frames: 3, size: '64x64', cfgBatch: 2, mode: 'normal' });
    expect(u.secondsPerCall).toBeGreaterThan(0);
    expect(u.firstCallSec).toBeGreaterThan(0);
    expect(j.results.unet.peakGpu).toBeUndefined(); // sampled on cuda only
  }, 180_000);
});

describe('bench plumbing', () => {
  it('maps the child args to session options', () => {
    expect(benchSession({})).toEqual({ session: { provider: 'cpu', precision: 'fp32' }, labels: { device: 'cpu', precision: 'fp32' } });
    expect(benchSession({ device: 'cuda', gpu: '1' })).toEqual({
      session: { provider: 'cuda', precision: 'fp16', deviceId: 1 }, labels: { device: 'cuda', precision: 'fp16' },
    });
    expect(() => benchSession({ device: 'cpu', precision: 'fp16' })).toThrow('--precision fp16 needs --device cuda');
  });

  it('derives the ControlNeXt share of a UNet call and the GPU memory in GiB', () => {
    const ratios = deriveRatios({
      'controlnext-overhead': {
        result: { controlNeXtSec: 0.03, unetControlSec: 0.6, stepWithControlSec: 0.63, stepWithoutControlSec: 0.59 },
        peakRssMB: 1, wallSec: 1, peakGpu: { processMiB: 11264, deviceDeltaMiB: 11000, samples: 9 },
      },
    });
    expect(ratios['ControlNeXt branch ÷ UNet call (target ≤ 0.05)']).toBeCloseTo(0.05, 10);
    expect(ratios['controlnext-overhead peak GPU memory GiB (process)']).toBe(11);
  });

  it('reads the child’s row of nvidia-smi --query-compute-apps', () => {
    expect(parseComputeApps('1234, 51200\n999, 10\n1234, 100\n', 1234)).toBe(51300);
    expect(parseComputeApps('999, 10\n', 1234)).toBeUndefined();
    expect(parseComputeApps('', 1234)).toBeUndefined();
  });
});
