// --pose-model in a whole job (tiny synthetic generator + synthetic DWPose models in the same models folder): auto
// resolves to DWPose when its files are there and the job records which extractor it used (job.json, poses.json,
// the MP4's metadata); changing the extractor starts fresh poses.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { prefetchPoses } from '../../src/batch/prefetch.ts';
import { readJobRecord } from '../../src/job/folder.ts';
import { runJob } from '../../src/job/run.ts';
import { writeSynthDwpose } from '../../pose/dwpose/synth.ts';
import { ffprobeJson } from '../video/helpers.ts';
import { collect, DANCE, REF, SMALL, tempDir, tinyModels } from './helpers.ts';

let dir: string;
let models: string;

beforeAll(() => {
  dir = tempDir('cnext-job-posemodel-');
  models = tinyModels(dir);
  writeSynthDwpose(path.join(models, 'dwpose'));
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

describe('runJob --pose-model', () => {
  it('auto → dwpose (recorded everywhere); then mediapipe → a fresh job with fresh poses', async () => {
    const out = path.join(dir, 'r.mp4');
    const first = collect();
    const r = await runJob({ ref: REF, video: DANCE, out, models, options: { ...SMALL, poseModel: 'auto' } }, { emit: first.emit });
    expect(first.events).toContainEqual(expect.objectContaining({ type: 'stage-start', stage: 'pose', label: 'DWPose' }));
    expect(readJobRecord(r.jobDir)!.options.poseModel).toBe('dwpose');
    const poses = JSON.parse(fs.readFileSync(path.join(r.jobDir, 'poses.json'), 'utf8'));
    expect(poses.extractor).toBe('dwpose');
    expect(poses.reference.face).not.toBeNull(); // DWPose returns the face; MediaPipe only with --face
    const comment = JSON.parse(ffprobeJson(['-show_entries', 'format_tags', out]).format!.tags!.comment!);
    expect(comment.options.poseModel).toBe('dwpose');

    const second = collect();
    const r2 = await runJob({ ref: REF, video: DANCE, out, models, options: { ...SMALL, poseModel: 'mediapipe' } }, { emit: second.emit });
    expect(second.events).toContainEqual(expect.objectContaining({ type: 'log', level: 'warn', message: `Starting a fresh job in ${r.jobDir}: --pose-model changed since the last run` }));
    expect(r2.reused.poses).toBe(false);
    expect(JSON.parse(fs.readFileSync(path.join(r.jobDir, 'poses.json'), 'utf8')).extractor).toBe('mediapipe');
  });

  it('batch prefetch resolves auto like runJob: the job finds the prefetched DWPose poses under its key', async () => {
    const output = path.join(dir, 'b', 'item.mp4');
    const item = { index: 0, name: 'item', video: DANCE, ref: REF, preset: 'x', output, options: { ...SMALL, poseModel: 'auto' as const } };
    const ctl = new AbortController();
    expect(await prefetchPoses(item, { emit: () => {}, signal: ctl.signal }, { models })).toBe(true);
    const r = await runJob({ ref: REF, video: DANCE, out: output, models, options: item.options });
    expect(r.reused.poses).toBe(true);
    expect(JSON.parse(fs.readFileSync(path.join(r.jobDir, 'poses.json'), 'utf8')).extractor).toBe('dwpose');
  });

  it('dwpose without its files fails before any work, naming the command that fetches them', async () => {
    const e = await runJob({ ref: REF, video: DANCE, out: path.join(dir, 'n.mp4'), models: path.join(dir, 'nothing'), options: { ...SMALL, poseModel: 'dwpose' } }).catch((x) => x);
    expect(e.code).toBe('MODEL_MISSING');
    expect(e.describe()).toContain('Run: cnext models pull dwpose');
  });
});
