// Kill midway: a job aborted right after its first denoising step's checkpoint, then run again, ends with the same
// latents and bit-identical frames as a run that was never interrupted.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { CancelledError } from '../../src/core/errors.ts';
import { readJobRecord } from '../../src/job/folder.ts';
import { runJob } from '../../src/job/run.ts';
import { collect, DANCE, decodedBytes, REF, SMALL, tempDir, tinyModels } from './helpers.ts';

let dir: string;
let models: string;
const options = { ...SMALL, steps: 3 };

beforeAll(() => {
  dir = tempDir();
  models = tinyModels(dir);
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

it('resumes from the last checkpointed step and matches an uninterrupted run bit for bit', async () => {
  const out = path.join(dir, 'cut', 'result.mp4');
  const ac = new AbortController();
  const first = collect();
  const err = await runJob({ ref: REF, video: DANCE, out, models, options }, {
    signal: ac.signal,
    emit: (e) => {
      first.emit(e);
      if (e.type === 'artifact' && e.kind === 'checkpoint') ac.abort();
    },
  }).catch((e) => e);
  expect(err).toBeInstanceOf(CancelledError);
  expect(first.events.at(-1)).toMatchObject({ type: 'job-end', status: 'cancelled' });
  expect(fs.existsSync(out)).toBe(false);
  expect(fs.readdirSync(path.dirname(out)).filter((f) => !f.startsWith('.'))).toEqual([]); // no partial output
  const jobDir = path.join(dir, 'cut', '.result.mp4.cnext-job');
  expect(readJobRecord(jobDir)!.stages.denoise).toBeUndefined();
  expect(fs.existsSync(path.join(jobDir, 'job.lock'))).toBe(false); // released on the way out

  // The uninterrupted reference, in its own job folder; it may reuse the poses (same inputs and pose options).
  const refOut = path.join(dir, 'whole', 'result.mp4');
  const refJob = path.join(dir, 'whole', 'job');
  fs.mkdirSync(refJob, { recursive: true });
  for (const f of ['poses.json', 'pose.mp4']) fs.copyFileSync(path.join(jobDir, f), path.join(refJob, f));
  const whole = await runJob({ ref: REF, video: DANCE, out: refOut, models, options, jobDir: refJob });
  expect(whole.reused).toEqual({ poses: true, afterStep: null, upToDate: false });

  // The same command again: resumes after step 0 (index), skipping poses and image conditioning.
  const second = collect();
  const resumed = await runJob({ ref: REF, video: DANCE, out, models, options }, { emit: second.emit });
  expect(resumed.reused).toEqual({ poses: true, afterStep: 0, upToDate: false });
  expect(second.events).toContainEqual({ type: 'log', level: 'info', message: `Resuming the job in ${jobDir}` });
  expect(second.events.filter((e) => e.type === 'stage-end' && e.skipped).map((e) => (e as { stage: string }).stage)).toEqual(['pose', 'image-encode']);
  const denoise = second.events.find((e) => e.type === 'stage-start' && e.stage === 'denoise');
  expect(denoise).toMatchObject({ total: 2 }); // steps 2 and 3 of 3, one window

  expect(resumed.latentsSha256).toBe(whole.latentsSha256);
  const [a, b] = [await decodedBytes(out), await decodedBytes(refOut)];
  expect(a.frames).toBe(4);
  expect(b.frames).toBe(4);
  expect(a.bytes.equals(b.bytes)).toBe(true);
});
