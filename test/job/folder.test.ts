import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { defaultJobDir, describeChanges, diskFullError, jobKey, lockJobDir, poseKey, type JobRecord } from '../../src/job/folder.ts';
import { generateParams } from '../../src/job/options.ts';
import { outputFps } from '../../src/job/poses.ts';
import { SMALL, tempDir } from './helpers.ts';

const inputs = {
  ref: { path: '/a/ref.jpg', bytes: 1, sha256: 'r'.repeat(64) },
  video: { path: '/a/v.mp4', bytes: 2, sha256: 'v'.repeat(64) },
};

function record(over: Partial<JobRecord> = {}): JobRecord {
  return {
    format: 'cnext-job', version: 1, key: 'k', poseKey: 'p', inputs, options: SMALL, seed: SMALL.seed,
    models: { root: '/m', key: 'mk' }, versions: { cnext: '0', node: 'v20', onnxruntime: '1.30.0' },
    createdAt: '', updatedAt: '', stages: {}, ...over,
  };
}

describe('job folder', () => {
  it('defaults to a hidden folder next to the output', () => {
    expect(defaultJobDir('/x/y/clip.mp4')).toBe('/x/y/.clip.mp4.cnext-job');
    expect(defaultJobDir('clip.mp4')).toBe(path.resolve('.clip.mp4.cnext-job'));
  });

  it('keys: poses depend on inputs and pose options only; the job key ignores device and memory mode, not precision', () => {
    const p = poseKey(inputs, SMALL);
    expect(poseKey(inputs, { ...SMALL, steps: 9, seed: 1, guidanceMin: 1, motionBucketId: 60 })).toBe(p);
    expect(poseKey(inputs, { ...SMALL, retarget: 'limb' })).not.toBe(p);
    expect(poseKey(inputs, { ...SMALL, stride: 2 })).not.toBe(p);
    expect(poseKey({ ...inputs, video: { ...inputs.video, sha256: 'w'.repeat(64) } }, SMALL)).not.toBe(p);
    const k = jobKey(p, SMALL, 'mk');
    expect(jobKey(p, { ...SMALL, device: 'cuda', lowMemory: true }, 'mk')).toBe(k);
    expect(jobKey(p, { ...SMALL, decodeChunk: 3 }, 'mk')).not.toBe(k);
    expect(jobKey(p, SMALL, 'other weights')).not.toBe(k);
    expect(jobKey(p, { ...SMALL, device: 'cuda', precision: 'fp16' }, 'mk')).not.toBe(k); // precision changes the numbers
    for (const o of [{ fpsId: 7 }, { motionBucketId: 127 }, { noiseAugStrength: 0.05 }]) expect(jobKey(p, { ...SMALL, ...o }, 'mk')).not.toBe(k);
  });

  it('says what changed in flag names', () => {
    const next = record({ options: { ...SMALL, size: '192x256', overlap: 2, framesPerBatch: 8, device: 'cuda' }, inputs: { ...inputs, ref: { ...inputs.ref, sha256: 'x'.repeat(64) } } });
    expect(describeChanges(record(), next)).toEqual(['--ref', '--size', '--frames-per-batch', '--overlap']);
    expect(describeChanges(record(), record({ models: { root: '/m', key: 'new' } }))).toEqual(['model files']);
  });

  it('turns ENOSPC (fs error, nested cause, or ffmpeg stderr) into DISK_FULL', () => {
    const fsErr = Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
    const e = diskFullError(fsErr, '/jobs/x')!;
    expect(e.code).toBe('DISK_FULL');
    expect(e.category).toBe('system');
    expect(e.message).toBe('No space left on the disk while writing /jobs/x');
    expect(e.describe()).toContain('run the same command again: finished stages are kept');
    expect(diskFullError(new Error('wrap', { cause: fsErr }), 'f')?.code).toBe('DISK_FULL');
    expect(diskFullError(new Error('ffmpeg failed: av_interleaved_write_frame(): No space left on device'), 'f')?.code).toBe('DISK_FULL');
    expect(diskFullError(new Error('EACCES'), 'f')).toBeNull();
  });

  it('output fps is source fps / stride, reduced', () => {
    expect(outputFps([30, 1], 2)).toEqual([15, 1]);
    expect(outputFps([30000, 1001], 2)).toEqual([15000, 1001]);
    expect(outputFps([24, 1], 5)).toEqual([24, 5]);
  });

  it('windows are clipped to a short clip (one window; the overlap is moot)', () => {
    expect(generateParams(SMALL, 5)).toMatchObject({ framesPerBatch: 24, overlap: 4, steps: 2, seed: 7 });
    expect(generateParams(SMALL, 100)).toMatchObject({ overlap: 6 });
  });

  it('one process per job folder; a dead owner\'s lock is taken over', () => {
    const dir = tempDir();
    try {
      const lock = path.join(dir, 'job.lock');
      fs.writeFileSync(lock, `${process.ppid}\n`); // a live process
      expect(() => lockJobDir(dir)).toThrow(`Another cnext process (pid ${process.ppid}) is working in the job folder ${dir}`);
      fs.writeFileSync(lock, '2147483646\n'); // no such process
      const release = lockJobDir(dir);
      expect(fs.readFileSync(lock, 'utf8')).toBe(`${process.pid} ${os.hostname()}\n`);
      release();
      expect(fs.existsSync(lock)).toBe(false);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a lock from another host is busy whatever its pid (shared storage), unless the caller takes it over', () => {
    const dir = tempDir();
    try {
      const lock = path.join(dir, 'job.lock');
      // a pid that is dead here says nothing about the host that wrote it
      fs.writeFileSync(lock, '2147483646 gpu-node-7\n');
      expect(() => lockJobDir(dir)).toThrow(`Another cnext process (pid 2147483646 on host gpu-node-7) is working in the job folder ${dir}`);
      // a pid that is alive here says nothing either: a farm worker given the job by the queue takes it over
      fs.writeFileSync(lock, `${process.ppid} gpu-node-7\n`);
      const release = lockJobDir(dir, { takeOverForeign: true });
      expect(fs.readFileSync(lock, 'utf8')).toBe(`${process.pid} ${os.hostname()}\n`);
      release();
      // this host's own live process is never taken over, foreign takeover or not
      fs.writeFileSync(lock, `${process.ppid} ${os.hostname()}\n`);
      expect(() => lockJobDir(dir, { takeOverForeign: true })).toThrow(`Another cnext process (pid ${process.ppid}) is working`);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
