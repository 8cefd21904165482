// Test helpers for video/: temp dirs, the bundled ffmpeg for making odd inputs, ffmpeg child-process counting.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { binaryPath } from '../../video/ffmpeg.ts';

export const SAMPLES = fileURLToPath(new URL('../../samples/', import.meta.url));
export const DANCE = join(SAMPLES, 'dance.mp4');
export const REF = join(SAMPLES, 'ref.jpg');

export function tempDir(): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'cnext-video-'));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Runs the bundled ffmpeg (quiet) — for making test inputs, never in the code under test. */
export function ffmpegSync(args: string[]): void {
  execFileSync(binaryPath('ffmpeg'), ['-nostdin', '-v', 'error', '-y', ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
}

export interface FfprobeJson {
  streams: Array<Record<string, string>>;
  format?: { tags?: Record<string, string> };
}

export function ffprobeJson(args: string[]): FfprobeJson {
  return JSON.parse(execFileSync(binaryPath('ffprobe'), ['-v', 'error', '-of', 'json', ...args], { encoding: 'utf8' }));
}

/** PIDs of ffmpeg/ffprobe processes that are children of this (test worker) process. */
export function childFfmpegs(): number[] {
  let out = '';
  try {
    out = execFileSync('ps', ['-o', 'pid=,comm=', '--ppid', String(process.pid)], { encoding: 'utf8' });
  } catch {
    return []; // ps exits 1 when there are no children
  }
  return out
    .split('\n')
    .map((l) => l.trim().split(/\s+/))
    .filter(([, comm]) => comm && /^ff(mpeg|probe)/.test(comm))
    .map(([pid]) => Number(pid));
}

/** A synthetic RGB frame: smooth gradients that move with `t`, plus a coloured block (easy to check after x264). */
export function syntheticFrame(width: number, height: number, t: number): Uint8Array {
  const rgb = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const o = (y * width + x) * 3;
      rgb[o] = (x * 255) / (width - 1);
      rgb[o + 1] = (y * 255) / (height - 1);
      rgb[o + 2] = (t * 37) % 256;
    }
  }
  return rgb;
}

export function psnr(a: Uint8Array, b: Uint8Array): number {
  let se = 0;
  for (let i = 0; i < a.length; i++) se += (a[i] - b[i]) ** 2;
  const mse = se / a.length;
  return mse === 0 ? Infinity : 10 * Math.log10((255 * 255) / mse);
}
