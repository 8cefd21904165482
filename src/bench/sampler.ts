// The whole generator at full size (issue 4): 256×256, 14 frames, 2 steps, one window, on the synthetic
// SVD-xt + ControlNeXt model. Wall time per stage from the pipeline's own JobEvents.
import path from 'node:path';
import type { JobEvent } from '../core/events.ts';
import { loadComponents } from '../diffusion/load.ts';
import { generate } from '../diffusion/pipeline.ts';
import { poseSourceFromFrames } from '../diffusion/sampler.ts';
import type { BenchResult } from './isolate.ts';
import { fullSizeModels, type NetBenchArgs } from './networks.ts';

export async function benchSampler(args: NetBenchArgs): Promise<BenchResult> {
  const s = fullSizeModels(args);
  const { width: W, height: H, frames: F } = s;
  const components = loadComponents({ svdDir: s.svdDir, controlnext: path.join(s.controlnextDir, 'controlnet.bin'), unet: path.join(s.controlnextDir, 'unet.bin') });
  // A plain grey photo and blank pose maps with one bright bar: content does not change the cost.
  const ref = new Uint8Array(H * W * 3).fill(128);
  const pose = new Uint8Array(H * W * 3);
  pose.fill(255, (H / 2) * W * 3, (H / 2 + 4) * W * 3);
  const stageSec: Record<string, number> = {};
  let stepUnetSec = 0;
  let lastProgress = 0;
  const emit = (e: JobEvent) => {
    if (e.type === 'stage-end') stageSec[e.stage] = (stageSec[e.stage] ?? 0) + e.seconds;
    if (e.type === 'progress' && e.stage === 'denoise') {
      const now = performance.now();
      if (lastProgress) stepUnetSec = (now - lastProgress) / 1000;
      lastProgress = now;
    }
  };
  const t0 = performance.now();
  await generate(
    components,
    { refImage: { type: 'uint8', dims: [H, W, 3], data: ref }, poses: poseSourceFromFrames(Array.from({ length: F }, () => pose)), numFrames: F },
    { steps: 2, framesPerBatch: F, overlap: Math.min(6, F - 1), seed: 1 },
    { emit, onFrames: () => {} },
  );
  const total = (performance.now() - t0) / 1000;
  const out: BenchResult = { size: `${W}x${H}`, frames: F, steps: 2, windows: 1, totalSec: total };
  for (const [k, v] of Object.entries(stageSec)) out[`${k}Sec`] = v;
  if (stepUnetSec) out.lastStepSec = stepUnetSec;
  return out;
}
