// Shared by the job tests: a tiny synthetic models folder (real layout, random weights), the samples, small options.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { JobEvent } from '../../src/core/events.ts';
import { DEFAULT_OPTIONS, type JobOptions } from '../../src/job/options.ts';
import { synthesizeModels } from '../../models/synth.ts';
import { decodeFrames } from '../../video/decode.ts';

export const SAMPLES = fileURLToPath(new URL('../../samples/', import.meta.url));
export const DANCE = path.join(SAMPLES, 'dance.mp4');
export const REF = path.join(SAMPLES, 'ref.jpg');

/** 128×256, every 6th frame of the 30 fps sample (→ 5 fps), 4 driving frames (5 generated), 2 steps. */
export const SMALL: JobOptions = { ...DEFAULT_OPTIONS, size: '128x256', stride: 6, maxFrames: 4, steps: 2, seed: 7 };

export function tempDir(prefix = 'cnext-job-'): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

/** A tiny synthetic models folder (fp32), about 16 MB, written in ~1 s. */
export function tinyModels(dir: string): string {
  const root = path.join(dir, 'models');
  synthesizeModels(root, { preset: 'tiny', seed: 0, dtype: 'F32' });
  return root;
}

/** Every decoded frame of a video, concatenated (RGB bytes). */
export async function decodedBytes(file: string): Promise<{ frames: number; bytes: Buffer }> {
  const parts: Buffer[] = [];
  for await (const f of decodeFrames(file)) parts.push(Buffer.from(f.rgb));
  return { frames: parts.length, bytes: Buffer.concat(parts) };
}

export function collect(): { events: JobEvent[]; emit: (e: JobEvent) => void } {
  const events: JobEvent[] = [];
  return { events, emit: (e) => void events.push(e) };
}
