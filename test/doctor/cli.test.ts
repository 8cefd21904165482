// `cnext doctor` flags: wrong device/precision combinations are one line, exit 2, before any check runs.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { main } from '../../src/cli/main.ts';
import { formatFacts, formatReport } from '../../src/cli/doctor.ts';

afterEach(() => {
  vi.restoreAllMocks();
  process.exitCode = undefined;
});

async function cli(args: string[]) {
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

describe('cnext doctor', () => {
  it.each([
    [['--device', 'cpu', '--precision', 'fp16'], '--precision fp16 needs --device cuda; the CPU runs fp32 only'],
    [['--device', 'cpu', '--gpu', '0'], '--gpu 0 needs --device cuda'],
    [['--device', 'tpu'], "Expected one of cpu, cuda for --device but received 'tpu' of type string"],
  ])('refuses %j with one line, exit 2', async (flags, message) => {
    const r = await cli(['doctor', ...flags, '--json']);
    expect(r.code).toBe(2);
    expect(r.err.split('\n')[0]).toBe(`cnext: ${message}`);
    expect(r.out).toBe('');
  });

  it('words missing GPU facts as "not found" and a crash with its signal', () => {
    const lines = formatFacts({
      onnxruntime: { version: '1.30.0', binDir: '/x', libraries: ['libonnxruntime.so.1'], cudaProvider: false },
      cudaLibraries: [],
      ffmpeg: { path: '/usr/bin/ffmpeg', version: 'ffmpeg version 7.1' },
    });
    expect(lines).toContain('GPU                 not found (no nvidia-smi)');
    expect(lines).toContain('CUDA driver         not found (no nvidia-smi)');
    expect(formatReport({ name: 'clip', label: 'CLIP image encoder', status: 'crash', signal: 'SIGSEGV', message: 'the process was killed by SIGSEGV' }))
      .toBe('  CLIP image encoder  CRASH crashed the process (SIGSEGV)');
    expect(formatReport({ name: 'unet', label: 'UNet', status: 'ok', seconds: 1.5 })).toBe('  UNet                OK 1.50 s');
  });
});
