// The job folder: everything an interrupted `cnext run` needs to resume instead of starting over.
//
//   <out dir>/.<out name>.cnext-job/      (or --job-dir)
//     job.json              inputs (sha256), resolved options, seed, versions, keys, finished stages
//     poses.json            reference pose, detected and aligned driving poses (keyed by the pose key)
//     pose.mp4              the aligned driving pose maps, timed like the output
//     denoise.safetensors   latents after the last finished denoising step (src/diffusion/checkpoint.ts)
//
// Two keys decide what is reused: the pose key (inputs + size/fit/retarget/stride/max frames/pose model) and the job key (pose key +
// every other option + the model files). A different job key means a fresh job; poses are still reused when
// their key matches.
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeJsonAtomic } from '../core/atomic-file.ts';
import { CnextError } from '../core/errors.ts';
import { acquirePidLock, describeOwner, type PidLockOptions } from '../core/pid-lock.ts';
import { RunHasher } from '../diffusion/checkpoint.ts';
import { describeBinary, resolveFfmpeg } from '../../video/ffmpeg.ts';
import type { JobOptions } from './options.ts';
import { flagName } from './knobs.ts';
import { poseOptions } from './options.ts';

export const JOB_FILE = 'job.json';
export const POSES_FILE = 'poses.json';
export const POSE_VIDEO_FILE = 'pose.mp4';
const FORMAT = 'cnext-job';

export interface InputFile {
  readonly path: string;
  readonly bytes: number;
  readonly sha256: string;
}

export interface JobRecord {
  readonly format: typeof FORMAT;
  readonly version: 1;
  readonly key: string;
  readonly poseKey: string;
  readonly inputs: { readonly ref: InputFile; readonly video: InputFile };
  readonly options: JobOptions;
  readonly seed: number;
  readonly preset?: string;
  readonly models: { readonly root: string; readonly key: string };
  readonly versions: Versions;
  readonly createdAt: string;
  updatedAt: string;
  /** Filled as stages finish. */
  stages: {
    pose?: { readonly drivingFrames: number; readonly fps: readonly [number, number] };
    denoise?: { readonly latentsSha256: string };
    output?: { readonly path: string; readonly bytes: number; readonly mtimeMs: number; readonly frames: number };
  };
}

export interface Versions {
  readonly cnext: string;
  readonly node: string;
  readonly onnxruntime: string;
  /** The ffmpeg that decoded and encoded: `5.1.9-0+deb12u1 (system)`, or `(bundled)`, `(env)` (video/ffmpeg.ts). */
  readonly ffmpeg?: string;
}

/** `<dir of out>/.<name of out>.cnext-job` */
export function defaultJobDir(out: string): string {
  const abs = path.resolve(out);
  return path.join(path.dirname(abs), `.${path.basename(abs)}.cnext-job`);
}

export function versions(): Versions {
  const require = createRequire(import.meta.url);
  const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
  const read = (file: string): string => {
    try {
      return String((JSON.parse(fs.readFileSync(file, 'utf8')) as { version?: unknown }).version ?? 'unknown');
    } catch {
      return 'unknown';
    }
  };
  let ort = 'unknown';
  try {
    ort = read(require.resolve('onnxruntime-node/package.json'));
  } catch {
    // not resolvable: keep 'unknown'
  }
  return { cnext: read(path.join(root, 'package.json')), node: process.version, onnxruntime: ort, ffmpeg: describeBinary(resolveFfmpeg().ffmpeg, false) };
}

export function poseKey(inputs: JobRecord['inputs'], o: JobOptions): string {
  return new RunHasher()
    .text('format', 'cnext-poses-1')
    .text('ref', inputs.ref.sha256)
    .text('video', inputs.video.sha256)
    .json('options', poseOptions(o))
    .digest();
}

export function jobKey(pose: string, o: JobOptions, modelsKey: string): string {
  // device and lowMemory pick how the networks run, not what they compute (to float rounding): a job started on
  // one device resumes on the other. precision does change the numbers, so it is part of the key.
  return new RunHasher()
    .text('format', 'cnext-job-1')
    .text('poses', pose)
    .json('options', { ...o, device: undefined, lowMemory: undefined })
    .text('models', modelsKey)
    .digest();
}

export function readJobRecord(dir: string): JobRecord | null {
  const file = path.join(dir, JOB_FILE);
  if (!fs.existsSync(file)) return null;
  try {
    const r = JSON.parse(fs.readFileSync(file, 'utf8')) as JobRecord;
    return r && r.format === FORMAT && r.version === 1 ? r : null;
  } catch {
    return null; // unreadable (e.g. cut short by a full disk): treated as no job
  }
}


export function writeJobRecord(dir: string, r: JobRecord): void {
  r.updatedAt = new Date().toISOString();
  writeJsonAtomic(path.join(dir, JOB_FILE), r);
}


/** What differs between an old job and the new one, in the user's words (flags and input names). */
export function describeChanges(old: JobRecord, next: JobRecord): string[] {
  const out = new Set<string>();
  if (old.inputs?.ref?.sha256 !== next.inputs.ref.sha256) out.add('--ref');
  if (old.inputs?.video?.sha256 !== next.inputs.video.sha256) out.add('--video');
  for (const k of Object.keys(next.options) as Array<keyof JobOptions>) {
    if (k === 'device' || k === 'lowMemory') continue;
    if (JSON.stringify(old.options?.[k]) !== JSON.stringify(next.options[k])) out.add(flagName(k));
  }
  if (old.models?.key !== next.models.key) out.add('model files');
  return [...out];
}

/** Removes the artefacts of another job (keeps the folder and anything that is not ours). */
export function clearJob(dir: string, keepPoses: boolean): void {
  const files = [JOB_FILE, 'denoise.safetensors', ...(keepPoses ? [] : [POSES_FILE, POSE_VIDEO_FILE])];
  for (const f of files) fs.rmSync(path.join(dir, f), { force: true });
}

/** Disk-full errors (from fs or from ffmpeg's stderr) become one clear CnextError. */
export function diskFullError(e: unknown, where: string): CnextError | null {
  const seen = new Set<unknown>();
  for (let x: unknown = e; x && !seen.has(x); x = (x as { cause?: unknown }).cause) {
    seen.add(x);
    const code = (x as { code?: unknown }).code;
    const msg = x instanceof Error ? x.message : String(x);
    if (code === 'ENOSPC' || code === 'EDQUOT' || /No space left on device|ENOSPC|Disk quota exceeded/i.test(msg)) {
      return new CnextError('DISK_FULL', `No space left on the disk while writing ${where}`, {
        category: 'system',
        cause: e,
        solutions: [
          'Free some disk space and run the same command again: finished stages are kept and the job resumes',
          'Or put the job folder on another disk with --job-dir DIR',
        ],
      });
    }
  }
  return null;
}

export const LOCK_FILE = 'job.lock';

/**
 * One process per job folder: `job.lock` holds the owner's pid and host. A lock whose process is gone (killed,
 * crashed) is taken over; one from another host only with `takeOverForeign` (src/core/pid-lock.ts). Returns the
 * release function.
 */
export function lockJobDir(dir: string, options: PidLockOptions = {}): () => void {
  fs.mkdirSync(dir, { recursive: true });
  const lock = path.join(dir, LOCK_FILE);
  return acquirePidLock(lock, (owner) =>
    new CnextError('JOB_BUSY', `Another cnext process (${describeOwner(owner)}) is working in the job folder ${dir}`, {
      solutions: [
        'Wait for it to finish, or stop it (Ctrl-C) and run the command again',
        'Or use another --job-dir',
        ...(owner.host ? [`If no cnext job runs there any more, delete ${lock}`] : []),
      ],
    }),
  options);
}
