import { chmodSync, mkdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { CnextError } from '../../src/core/errors.ts';
import { tempDir } from './helpers.ts';

// chmod fails for paths containing "readonly": simulates an install tree we may not modify
vi.mock('node:fs', async (importOriginal) => {
  const fs = await importOriginal<typeof import('node:fs')>();
  return {
    ...fs,
    chmodSync: (p: string, mode: number) => {
      if (String(p).includes('readonly')) throw Object.assign(new Error(`EPERM: operation not permitted, chmod '${p}'`), { code: 'EPERM' });
      return fs.chmodSync(p, mode);
    },
  };
});

const { binaryPath, ensureExecutable, ffmpegFailed, isRecentVersion, resolveBinary, resolveFfmpeg, stderrTail, verifyBinary } = await import('../../video/ffmpeg.ts');

const tmp = tempDir();
afterAll(tmp.cleanup);

const FAKE = '#!/bin/sh\necho "ffmpeg version fake"\n';

describe('ffmpeg binaries', () => {
  it('finds runnable binaries', () => {
    for (const name of ['ffmpeg', 'ffprobe'] as const) {
      const p = binaryPath(name);
      expect(p).toMatch(new RegExp(`${name}$`));
      expect(statSync(p).mode & 0o100).toBe(0o100);
    }
  });

  it('prefers a system ffmpeg/ffprobe ≥ 5 on PATH, else the bundled one; CNEXT_FFMPEG/CNEXT_FFPROBE name one', () => {
    const sys = resolveBinary('ffmpeg', { PATH: '/usr/local/bin:/usr/bin' });
    // Debian's ffmpeg (5.1) is installed here and in CI (.ci/run)
    expect(sys).toMatchObject({ path: expect.stringMatching(/^\/usr\/(local\/)?bin\/ffmpeg$/), source: 'system' });
    expect(isRecentVersion(sys.version)).toBe(true);
    expect(resolveBinary('ffprobe', { PATH: '/usr/local/bin:/usr/bin' }).source).toBe('system');
    for (const name of ['ffmpeg', 'ffprobe'] as const) {
      const bundled = resolveBinary(name, { PATH: '' });
      expect(bundled.source).toBe('bundled');
      expect(bundled.path).toMatch(new RegExp(`@${name}-installer/.*/${name}$`));
    }
    // an old system ffmpeg is passed over
    const old = join(tmp.dir, 'old-bin');
    mkdirSync(old);
    writeFileSync(join(old, 'ffmpeg'), '#!/bin/sh\necho "ffmpeg version 4.4.2 Copyright"\n', { mode: 0o755 });
    expect(resolveBinary('ffmpeg', { PATH: old }).source).toBe('bundled');
    // named explicitly: used whatever its version
    expect(resolveBinary('ffmpeg', { PATH: '', CNEXT_FFMPEG: join(old, 'ffmpeg') })).toEqual({ path: join(old, 'ffmpeg'), version: '4.4.2', source: 'env' });
    expect(() => resolveBinary('ffprobe', { CNEXT_FFPROBE: join(old, 'nope') })).toThrow(`ffprobe cannot run: CNEXT_FFPROBE=${join(old, 'nope')} is not an executable file`);
    expect(['5.1.9-0+deb12u1', 'n6.1', '7.0', 'N-109421-g5e1d5b0'].map(isRecentVersion)).toEqual([true, true, true, true]);
    expect(['4.4.2', '3.4-static', 'weird'].map(isRecentVersion)).toEqual([false, false, false]);
    // this process: the one the whole pipeline uses
    expect(resolveFfmpeg().ffmpeg.path).toBe(binaryPath('ffmpeg'));
  });

  it('chmods a binary whose install script did not run', () => {
    const f = join(tmp.dir, 'ffmpeg');
    writeFileSync(f, FAKE);
    chmodSync(f, 0o644);
    expect(ensureExecutable('ffmpeg', f, join(tmp.dir, 'cache'))).toBe(f);
    expect(statSync(f).mode & 0o111).toBe(0o111);
    verifyBinary('ffmpeg', f);
  });

  it('copies it to the cache with +x when chmod is not allowed', () => {
    const f = join(tmp.dir, 'readonly-ffprobe');
    writeFileSync(f, FAKE, { mode: 0o644 });
    expect(statSync(f).mode & 0o111).toBe(0);
    const cache = join(tmp.dir, 'cache');
    const copy = ensureExecutable('ffprobe', f, cache);
    expect(copy).toBe(join(cache, `ffprobe-${FAKE.length}`));
    expect(statSync(copy).mode & 0o111).toBe(0o111);
    expect(ensureExecutable('ffprobe', f, cache)).toBe(copy); // reused
    verifyBinary('ffprobe', copy);
  });

  it('a binary that cannot run → system error with "Possible solutions:"', () => {
    const f = join(tmp.dir, 'broken');
    writeFileSync(f, '#!/bin/sh\necho "cannot execute binary file" >&2\nexit 126\n');
    chmodSync(f, 0o755);
    const e = (() => {
      try {
        verifyBinary('ffmpeg', f);
      } catch (x) {
        return x;
      }
    })() as CnextError;
    expect(e).toBeInstanceOf(CnextError);
    expect(e.code).toBe('FFMPEG_UNAVAILABLE');
    expect(e.category).toBe('system');
    expect(e.message).toBe(`ffmpeg cannot run: ${f} -version exited with 126: cannot execute binary file`);
    expect(e.describe()).toMatch(/\nPossible solutions:\n- Reinstall the bundled binary: npm rebuild @ffmpeg-installer\/ffmpeg/);
    expect(() => verifyBinary('ffmpeg', join(tmp.dir, 'missing'))).toThrow(/^ffmpeg cannot run: .*missing: spawnSync .* ENOENT$/);
  });

  it('ffmpeg failures are third-party errors with the stderr tail', () => {
    const e = ffmpegFailed('encoding x.mp4', 'line 1\n\nline 2\nError while opening encoder\n');
    expect(e.category).toBe('third-party');
    expect(e.message).toBe('ffmpeg failed while encoding x.mp4:\nline 1\nline 2\nError while opening encoder');
    expect(stderrTail('a\nb\nc\nd', 2)).toBe('c\nd');
  });
});
