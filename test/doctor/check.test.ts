// The device check on the CPU: the five networks really build from tiny synthetic weights and run in a child.
import { describe, expect, it } from 'vitest';
import { checkDevice, checkNetworks } from '../../src/doctor/check.ts';
import { parseGpuQuery } from '../../src/doctor/probe.ts';

describe('device check', () => {
  it('runs CLIP, VAE encoder/decoder, ControlNeXt and UNet on the CPU, each OK', async () => {
    const names: string[] = [];
    const reports = await checkNetworks({ device: 'cpu', precision: 'fp32' }, { onResult: (r) => names.push(r.label) });
    expect(reports.map((r) => [r.label, r.status, r.message])).toEqual([
      ['CLIP image encoder', 'ok', undefined],
      ['VAE encoder', 'ok', undefined],
      ['VAE decoder', 'ok', undefined],
      ['ControlNeXt', 'ok', undefined],
      ['UNet', 'ok', undefined],
    ]);
    expect(names).toHaveLength(5);
    for (const r of reports) expect(r.seconds).toBeGreaterThan(0);
    await expect(checkDevice({ device: 'cpu', precision: 'fp32' }, { networks: ['clip'] })).resolves.toBeUndefined();
  }, 180_000);

  it('names the failing network in one DEVICE_CHECK_FAILED line', async () => {
    const err = await checkDevice({ device: 'cpu', precision: 'fp32' }, { networks: ['no-such-net'] }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'DEVICE_CHECK_FAILED', category: 'third-party' });
    expect((err as Error).message).toBe('Device check on cpu (fp32): the no-such-net failed: unknown check no-such-net');
  }, 60_000);

  it('refuses fp16 on the CPU before starting anything', async () => {
    await expect(checkDevice({ device: 'cpu', precision: 'fp16' })).rejects.toThrow('--precision fp16 needs --device cuda; the CPU runs fp32 only');
  });

  it('reads nvidia-smi --query-gpu CSV', () => {
    expect(parseGpuQuery('0, NVIDIA H200, 142385, 143771, 580.95.05\n')).toEqual([
      { index: 0, name: 'NVIDIA H200', memoryFreeMiB: 142385, memoryTotalMiB: 143771, driver: '580.95.05' },
    ]);
  });
});
