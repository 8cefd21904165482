// The whole generator on the synthetic SVD-xt + ControlNeXt model (generate(): image encode, denoising windows
// with CFG and ControlNeXt, VAE decode), timed per stage from the pipeline's own JobEvents.
// - `sampler` (issue 4): 256×256, 14 frames, 2 steps, one window.
// - `job-240` (the GPU issue's end-to-end target): the reference's default job — 240 frames, windows of 24 with
//   overlap 6, 25 steps, 576×1024 — on the device given with --device/--precision. --frames/--size/--steps make
//   it small enough for a CPU (e.g. --models <tiny> --size 64x64 --frames 8 --steps 2).
import fs from 'node:fs';
import path from 'node:path';
import type { JobEvent } from '../core/events.ts';
import { loadComponents } from '../diffusion/load.ts';
import { generate } from '../diffusion/pipeline.ts';
import { poseSourceFromFrames } from '../diffusion/sampler.ts';
import type { BenchResult } from './isolate.ts';
import { benchSession, fullSizeModels, type NetBenchArgs } from './networks.ts';

interface PipelineRun {
  readonly steps: number;
  readonly framesPerBatch: number;
  readonly overlap: number;
}

async function benchPipeline(args: NetBenchArgs, run: PipelineRun): Promise<BenchResult> {
  const s = fullSizeModels(args);
  const { session, labels } = benchSession(args);
  const { width: W, height: H, frames: F } = s;
  const framesPerBatch = Math.min(run.framesPerBatch, F);
  const overlap = Math.min(run.overlap, framesPerBatch - 1);
  const controlnextConfig = path.join(s.controlnextDir, 'config.json'); // only a synthetic tiny model has one
  const components = loadComponents(
    {
      svdDir: s.svdDir, controlnext: path.join(s.controlnextDir, 'controlnet.bin'), unet: path.join(s.controlnextDir, 'unet.bin'),
      ...(fs.existsSync(controlnextConfig) ? { controlnextConfig } : {}),
    },
    { session },
  );
  // A plain grey photo and blank pose maps with one bright bar: content does not change the cost.
  const ref = new Uint8Array(H * W * 3).fill(128);
  const pose = new Uint8Array(H * W * 3);
  pose.fill(255, Math.floor(H / 2) * W * 3, (Math.floor(H / 2) + 4) * W * 3);
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
    { steps: run.steps, framesPerBatch, overlap, seed: 1 },
    { emit, onFrames: () => {} },
  );
  const total = (performance.now() - t0) / 1000;
  const out: BenchResult = { ...labels, size: `${W}x${H}`, frames: F, steps: run.steps, framesPerBatch, overlap, totalSec: total };
  for (const [k, v] of Object.entries(stageSec)) out[`${k}Sec`] = v;
  if (stepUnetSec) out.lastStepSec = stepUnetSec;
  return out;
}

export async function benchSampler(args: NetBenchArgs): Promise<BenchResult> {
  const frames = Number(args.frames ?? 14);
  return benchPipeline(args, { steps: Number(args.steps ?? 2), framesPerBatch: frames, overlap: 6 });
}

export async function benchJob(args: NetBenchArgs): Promise<BenchResult> {
  return benchPipeline(
    { ...args, frames: args.frames ?? '240', size: args.size ?? '576x1024' },
    { steps: Number(args.steps ?? 25), framesPerBatch: 24, overlap: 6 },
  );
}
