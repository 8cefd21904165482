// The pose stage honours --retarget: `fit` is the reference's linear rescale alone, `limb` also scales every bone
// of the driving person to the photo's person (pose/align.ts), so the aligned poses differ and the key does too.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { poseKey } from '../../src/job/folder.ts';
import { frameSize } from '../../src/job/options.ts';
import { extractJobPoses } from '../../src/job/poses.ts';
import { fitImage, loadImage } from '../../video/image.ts';
import { probeVideo } from '../../video/probe.ts';
import { DANCE, REF, SMALL, tempDir } from './helpers.ts';

const dir = tempDir('cnext-poses-');
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

describe('pose stage', () => {
  it('--retarget limb changes the aligned poses (and the pose key), not the reference pose', async () => {
    const info = await probeVideo(DANCE);
    const img = await loadImage(REF);
    const { width, height } = frameSize(SMALL);
    const refImage = await fitImage(img.rgb, img.width, img.height, width, height, SMALL.fit);
    const inputs = { ref: { path: REF, bytes: 1, sha256: 'r' }, video: { path: DANCE, bytes: 1, sha256: 'v' } };
    const run = async (retarget: 'fit' | 'limb') => {
      const options = { ...SMALL, maxFrames: 2, retarget };
      const jobDir = path.join(dir, retarget);
      fs.mkdirSync(jobDir);
      return extractJobPoses({ refImage, video: DANCE, info, options, key: poseKey(inputs, options), jobDir, emit: () => {} });
    };
    const fit = await run('fit');
    const limb = await run('limb');
    expect(limb.key).not.toBe(fit.key);
    expect(limb.reference).toEqual(fit.reference);
    expect(limb.frames.map((f) => f.detected)).toEqual(fit.frames.map((f) => f.detected));
    expect(limb.frames.map((f) => f.aligned)).not.toEqual(fit.frames.map((f) => f.aligned));
  }, 120_000);
});
