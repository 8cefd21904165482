// runJob end to end on a tiny synthetic model and the sample clip: output, exact fps, metadata, the job folder,
// "up to date" reruns and a fresh job (with reused poses) when an option changes.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readJobRecord } from '../../src/job/folder.ts';
import { runJob } from '../../src/job/run.ts';
import { ffprobeJson } from '../video/helpers.ts';
import { collect, DANCE, REF, SMALL, tempDir, tinyModels } from './helpers.ts';

let dir: string;
let models: string;

beforeAll(() => {
  dir = tempDir();
  models = tinyModels(dir);
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

describe('runJob', () => {
  it('writes the video (frame count, exact fps, seed in the metadata), the job folder and the extra videos', async () => {
    const out = path.join(dir, 'a', 'result.mp4');
    const { events, emit } = collect();
    const r = await runJob(
      { ref: REF, video: DANCE, out, models, options: SMALL, sideBySide: path.join(dir, 'a', 'sbs.mp4'), poseVideo: path.join(dir, 'a', 'pose.mp4') },
      { emit },
    );
    expect(r.output).toBe(out);
    expect(r.frames).toBe(4);
    expect(r.fps).toEqual([5, 1]); // 30/1 ÷ 6
    expect(r.reused).toEqual({ poses: false, afterStep: null, upToDate: false });

    const probe = ffprobeJson(['-count_frames', '-show_entries', 'stream=width,height,r_frame_rate,nb_read_frames:format_tags', out]);
    expect(probe.streams[0]).toMatchObject({ width: 128, height: 256, r_frame_rate: '5/1', nb_read_frames: '4' });
    const comment = JSON.parse(probe.format!.tags!.comment!);
    expect(comment.seed).toBe(7);
    expect(comment.ffmpeg).toMatch(/^\S+ \((system|bundled|env)\)$/); // which ffmpeg made it
    expect(comment.options).toMatchObject({ size: '128x256', precision: 'fp32', stride: 6, maxFrames: 4, steps: 2, seed: 7 });

    for (const f of ['sbs.mp4', 'pose.mp4']) {
      const p = ffprobeJson(['-count_frames', '-show_entries', 'stream=r_frame_rate,nb_read_frames', path.join(dir, 'a', f)]);
      expect(p.streams[0]).toMatchObject({ r_frame_rate: '5/1', nb_read_frames: '4' });
    }

    // job folder: job.json with hashes, options, seed; poses.json; the last checkpoint
    const job = readJobRecord(r.jobDir)!;
    expect(r.jobDir).toBe(path.join(dir, 'a', '.result.mp4.cnext-job'));
    expect(job.inputs.ref.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(job.inputs.video.bytes).toBe(fs.statSync(DANCE).size);
    expect(job.seed).toBe(7);
    expect(job.options).toEqual({ ...SMALL, poseModel: 'mediapipe' }); // auto, resolved: no DWPose files in the models folder
    expect(job.stages.denoise?.latentsSha256).toBe(r.latentsSha256);
    expect(job.versions.onnxruntime).toBe('1.30.0');
    const poses = JSON.parse(fs.readFileSync(path.join(r.jobDir, 'poses.json'), 'utf8'));
    expect(poses.frames.map((f: { index: number }) => f.index)).toEqual([0, 6, 12, 18]);
    expect(poses.canvas).toEqual({ width: 128, height: 256 });
    expect(fs.existsSync(path.join(r.jobDir, 'denoise.safetensors'))).toBe(true);
    expect(fs.existsSync(path.join(r.jobDir, 'job.lock'))).toBe(false);
    expect(fs.readdirSync(path.join(dir, 'a')).filter((f) => f.includes('partial'))).toEqual([]);

    // events: stages in order, one params event, ends with job-end done
    const starts = events.filter((e) => e.type === 'stage-start').map((e) => (e as { stage: string }).stage);
    expect(starts).toEqual(['align', 'pose', 'render', 'image-encode', 'denoise', 'vae-decode', 'encode']);
    expect(events.filter((e) => e.type === 'params')).toHaveLength(1);
    expect(events.at(-1)).toMatchObject({ type: 'job-end', status: 'done', output: out });

    // the same command again: nothing to do
    const again = collect();
    const r2 = await runJob(
      { ref: REF, video: DANCE, out, models, options: SMALL, sideBySide: path.join(dir, 'a', 'sbs.mp4'), poseVideo: path.join(dir, 'a', 'pose.mp4') },
      { emit: again.emit },
    );
    expect(r2.reused.upToDate).toBe(true);
    expect(r2.latentsSha256).toBe(r.latentsSha256);
    expect(again.events.some((e) => e.type === 'stage-start')).toBe(false);
    expect(again.events.some((e) => e.type === 'log' && /is up to date/.test(e.message))).toBe(true);

    // another seed: a fresh job that says why, reusing the poses (their key does not involve the seed)
    const third = collect();
    const r3 = await runJob({ ref: REF, video: DANCE, out, models, options: { ...SMALL, seed: 8, steps: 1 } }, { emit: third.emit });
    const warn = third.events.find((e) => e.type === 'log' && e.level === 'warn');
    expect(warn).toMatchObject({ message: `Starting a fresh job in ${r.jobDir}: --steps, --seed changed since the last run` });
    expect(r3.reused.poses).toBe(true);
    expect(r3.reused.afterStep).toBeNull();
    expect(r3.latentsSha256).not.toBe(r.latentsSha256);
    expect(third.events.filter((e) => e.type === 'stage-start').map((e) => (e as { stage: string }).stage))
      .toEqual(['image-encode', 'denoise', 'vae-decode', 'encode']);
    expect(readJobRecord(r.jobDir)!.seed).toBe(8);

    // a full disk while the job writes: one clear error, job-end failed, no partial output
    const fourth = collect();
    const enospc = Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
    const real = (await import('../../src/job/components.ts')).loadModelComponents(models);
    const e = await runJob({ ref: REF, video: DANCE, out: path.join(dir, 'a', 'full.mp4'), jobDir: r.jobDir, models, options: SMALL }, {
      emit: fourth.emit,
      components: { ...real, imageEncoder: async () => { throw enospc; } },
    }).catch((x) => x);
    expect(e.code).toBe('DISK_FULL');
    expect(e.message).toBe(`No space left on the disk while writing ${r.jobDir}`);
    expect(fourth.events.at(-1)).toMatchObject({ type: 'job-end', status: 'failed', error: e.message });
  });

  it('refuses an output that is not .mp4 and a missing input before any work', async () => {
    await expect(runJob({ ref: REF, video: DANCE, out: path.join(dir, 'x.avi'), models, options: SMALL }))
      .rejects.toThrow("Expected file name ending in .mp4 for --out but received '");
    await expect(runJob({ ref: path.join(dir, 'nope.jpg'), video: DANCE, out: path.join(dir, 'x.mp4'), models, options: SMALL }))
      .rejects.toThrow(`The image ${path.join(dir, 'nope.jpg')} does not exist`);
  });

  it('names the missing model and how to fetch it', async () => {
    const e = await runJob({ ref: REF, video: DANCE, out: path.join(dir, 'y.mp4'), models: path.join(dir, 'empty'), options: SMALL }).catch((x) => x);
    expect(e.code).toBe('MODEL_MISSING');
    expect(e.describe()).toContain('cnext models pull svd-xt-1-1 controlnext-svd-v2');
  });
});
