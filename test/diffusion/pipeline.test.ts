import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CancelledError } from '../../src/core/errors.ts';
import type { JobEvent } from '../../src/core/events.ts';
import { float32, type Float32Tensor, type Tensor } from '../../src/core/tensor.ts';
import { checkpointPath } from '../../src/diffusion/checkpoint.ts';
import { collectDebug } from '../../src/diffusion/debug.ts';
import { linspaceF32 } from '../../src/diffusion/guidance.ts';
import { generate, type GenerateParams, type PipelineComponents } from '../../src/diffusion/pipeline.ts';
import { gaussianTensor, NOISE_STREAM } from '../../src/diffusion/random.ts';
import { poseSourceFromFrames, type PoseSource } from '../../src/diffusion/sampler.ts';
import { EulerDiscreteScheduler } from '../../src/diffusion/scheduler.ts';
import { clipPixelValues, poseFramesTensor, vaeImageTensor } from '../../src/diffusion/svd-preprocess.ts';
import {
  CLIP_NORM, fakeControlNeXt, fakeImageEncoder, fakeUnet, fakeVae, newLog, SVD_SCHEDULER_CONFIG, testImages, type CallLog,
} from './fakes.ts';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'cnext-pipeline-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

const f = Math.fround;
const [F, H, W] = [9, 32, 48];

function components(log: CallLog): PipelineComponents {
  return {
    imageEncoder: async () => fakeImageEncoder(log),
    vae: async () => fakeVae(log),
    unet: async () => fakeUnet(log),
    controlnext: async () => fakeControlNeXt(log),
    schedulerConfig: SVD_SCHEDULER_CONFIG,
    clipNormalization: CLIP_NORM,
    key: 'fakes',
  };
}

const images = testImages(F, H, W);
const refImage: Tensor = { type: 'uint8', dims: [H, W, 3], data: images.ref };
const params: Partial<GenerateParams> = { steps: 4, seed: 5, minGuidance: 1, maxGuidance: 2.5, framesPerBatch: 4, overlap: 2, decodeChunk: 2 };

/**
 * The upstream __call__ written out as directly as possible (torch shapes: CFG batch of 2 everywhere, ControlNeXt
 * on the duplicated 2·fpb rows, image latents repeated over all frames, pred_tmp / counter), using the same fakes.
 */
async function upstream(
  log: CallLog, p: Required<GenerateParams>, latentsIn: Float32Tensor, noise: Float32Tensor, timeIds: readonly number[] = [6, 128, 0.02],
): Promise<Float32Array> {
  const enc = fakeImageEncoder(log);
  const vae = fakeVae(log);
  const unet = fakeUnet(log);
  const ctrlNet = fakeControlNeXt(log);
  const emb = await enc.encode(clipPixelValues(refImage, CLIP_NORM).pixelValues);
  const D = emb.dims[1];
  const ehs = float32([2, 1, D]);
  ehs.data.set(emb.data, D);
  const img = vaeImageTensor(refImage);
  const aug = float32(img.dims, img.data.map((x, i) => x + f(f(p.noiseAugStrength) * noise.data[i])));
  const lat1 = await vae.encode(aug);
  const [, C, h, w] = lat1.dims;
  const fs_ = C * h * w;
  const imageLatents = new Float32Array(2 * F * fs_); // [2, F, C, h, w], batch 0 zeros
  for (let fr = 0; fr < F; fr++) imageLatents.set(lat1.data, (F + fr) * fs_);
  // upstream's literals (6, 128, 0.02); `timeIds` stands for diffusers' SVD pipeline, which uses the values passed
  const ati = float32([2, 3], Float32Array.from([...timeIds, ...timeIds]));
  const sched = new EulerDiscreteScheduler(SVD_SCHEDULER_CONFIG);
  sched.setTimesteps(p.steps);
  let latentsAll = latentsIn.data.map((x) => x * sched.initNoiseSigma);
  const cond1 = poseFramesTensor({ type: 'uint8', dims: [F, H, W, 3], data: images.poses });
  const pf = 3 * H * W;
  const fpb = Math.min(p.framesPerBatch, F);
  const g = linspaceF32(p.minGuidance, p.maxGuidance, fpb);
  for (let i = 0; i < p.steps; i++) {
    const t = sched.timesteps[i];
    const pred = new Float32Array(latentsAll.length);
    const counter = new Float32Array(F);
    for (let idx = 0; idx < F - p.overlap; idx += fpb - p.overlap) {
      sched.resetStepIndex();
      const s = idx + fpb > F ? F - fpb : idx;
      const lat = latentsAll.slice(s * fs_, (s + fpb) * fs_);
      const cond = new Float32Array(2 * fpb * pf); // cat([cond] * 2)[:, s:s+fpb], frame 0 replaced
      for (let b = 0; b < 2; b++) {
        for (let j = 0; j < fpb; j++) cond.set(cond1.data.subarray((j === 0 ? 0 : s + j) * pf, ((j === 0 ? 0 : s + j) + 1) * pf), (b * fpb + j) * pf);
      }
      const lmiScaled = sched.scaleModelInput(Float32Array.from([...lat, ...lat]), t);
      const ctrl = await ctrlNet.run(float32([2, fpb, 3, H, W], cond), t);
      const scale = new Float32Array(2 * fpb).fill(1);
      for (let k = 0; k < fpb; k++) scale[k] *= 0;
      const lmi = new Float32Array(2 * fpb * 2 * fs_); // cat(dim=2) with image_latents[:, s:s+fpb]
      for (let b = 0; b < 2; b++) {
        for (let j = 0; j < fpb; j++) {
          lmi.set(lmiScaled.subarray((b * fpb + j) * fs_, (b * fpb + j + 1) * fs_), (b * fpb + j) * 2 * fs_);
          lmi.set(imageLatents.subarray((b * F + s + j) * fs_, (b * F + s + j + 1) * fs_), ((b * fpb + j) * 2 + 1) * fs_);
        }
      }
      const out = await unet.run(float32([2, fpb, 2 * C, h, w], lmi), t, ehs, ati, { output: ctrl, scale: float32([2 * fpb], scale) });
      const half = fpb * fs_;
      const np = new Float32Array(half);
      for (let k = 0; k < half; k++) np[k] = out.data[k] + f(g[Math.floor(k / fs_)] * f(out.data[half + k] - out.data[k]));
      const next = sched.step(np, t, lat).prevSample;
      if (s === 0) {
        for (let k = 0; k < half; k++) pred[k] += next[k];
        for (let j = 0; j < fpb; j++) counter[j] += 1;
      } else {
        for (let k = fs_; k < half; k++) pred[s * fs_ + k] += next[k];
        for (let j = 1; j < fpb; j++) counter[s + j] += 1;
      }
    }
    for (let k = 0; k < pred.length; k++) pred[k] /= counter[Math.floor(k / fs_)];
    latentsAll = pred;
  }
  const z = latentsAll.map((x) => x * f(1 / 0.18215));
  const frames: number[] = [];
  for (let s = 0; s < F; s += p.decodeChunk) {
    const n = Math.min(p.decodeChunk, F - s);
    const dec = await vae.decode(float32([n, C, h, w], z.slice(s * fs_, (s + n) * fs_)), n);
    for (const x of dec.data) frames.push(Math.min(1, Math.max(0, f(x / 2 + 0.5))));
  }
  return Float32Array.from(frames);
}

function run(
  log: CallLog, extra: { jobDir?: string; signal?: AbortSignal; emit?: (e: JobEvent) => void; poses?: PoseSource; params?: Partial<GenerateParams> } = {},
) {
  return generate(components(log), { refImage, poses: extra.poses ?? poseSourceFromFrames(images.poses, F) }, { ...params, ...extra.params }, {
    jobDir: extra.jobDir, signal: extra.signal, emit: extra.emit,
  });
}

describe('generate (fake networks)', () => {
  it('equals a literal transcription of the upstream loop bit for bit (CFG, windows, frame-0 control, merge, chunked decode)', async () => {
    const log = newLog();
    const p = { ...params, decodeChunk: 2, controlStrength: 1, noiseAugStrength: 0.02 } as Required<GenerateParams>;
    const got = await run(log);
    const latents = gaussianTensor(p.seed, NOISE_STREAM.latents, [1, F, 4, H / 8, W / 8]);
    const noise = gaussianTensor(p.seed, NOISE_STREAM.imageNoiseAug, [1, 3, H, W]);
    const want = await upstream(newLog(), p, latents, noise);
    expect(got.frames!.dims).toEqual([F, 3, H, W]);
    expect(got.frames!.data).toEqual(want);
    // ControlNeXt ran on conditional rows only (not 2·fpb), and on each frame once per step: windows start at
    // 0, 2, 4, 5 (fpb 4), so after [0 1 2 3] they add [4 5], [6 7], [8] — 9 rows a step instead of 16.
    expect(log.controlnext).toEqual(Array.from({ length: 4 }, () => [4, 2, 2, 1]).flat());
    expect(log.unet).toBe(16);
    expect(log.vaeDecode).toEqual([2, 2, 2, 2, 1]);
    // every stage released its networks
    expect(log.released.sort()).toEqual(['clip', 'controlnext', 'unet', 'vae', 'vae']);
  });

  it('takes injected initial latents and augmentation noise instead of the seed', async () => {
    const latents = gaussianTensor(77, 0, [1, F, 4, H / 8, W / 8]);
    const imageNoise = gaussianTensor(78, 0, [1, 3, H, W]);
    const got = await generate(components(newLog()), { refImage, poses: poseSourceFromFrames(images.poses, F) }, params, { latents, imageNoise });
    const want = await upstream(newLog(), { ...params, controlStrength: 1, noiseAugStrength: 0.02 } as Required<GenerateParams>, latents, imageNoise);
    expect(got.frames!.data).toEqual(want);
    const other = await run(newLog());
    expect(other.frames!.data).not.toEqual(want);
  });

  it('--fps-id, --motion-bucket-id, --noise-aug-strength: the time ids and the image noise (diffusers\' SVD semantics)', async () => {
    const knobs = { fpsId: 9, motionBucketId: 60, noiseAugStrength: 0.05 };
    const got = await run(newLog(), { params: knobs });
    const p = { ...params, decodeChunk: 2, controlStrength: 1, ...knobs } as Required<GenerateParams>;
    const latents = gaussianTensor(p.seed, NOISE_STREAM.latents, [1, F, 4, H / 8, W / 8]);
    const noise = gaussianTensor(p.seed, NOISE_STREAM.imageNoiseAug, [1, 3, H, W]);
    expect(got.frames!.data).toEqual(await upstream(newLog(), p, latents, noise, [9, 60, 0.05]));
    expect(got.frames!.data).not.toEqual((await run(newLog())).frames!.data);
  });

  it('is reproducible from the seed and changes with it', async () => {
    const a = await run(newLog());
    const b = await run(newLog());
    const c = await run(newLog(), { params: { seed: 6 } });
    expect(b.frames!.data).toEqual(a.frames!.data);
    expect(c.frames!.data).not.toEqual(a.frames!.data);
  });

  it('controlStrength scales the conditional control rows (0 and 1 differ, unconditional rows stay 0)', async () => {
    const scales: number[][] = [];
    const log = newLog();
    const comps = components(log);
    const unet = fakeUnet(log);
    comps.unet = async () => ({ ...unet, run: (s, t, e, a, c) => (scales.push([...c!.scale.data]), unet.run(s, t, e, a, c)) });
    const got = await generate(comps, { refImage, poses: poseSourceFromFrames(images.poses, F) }, { ...params, controlStrength: 0.5 });
    expect(scales[0]).toEqual([0, 0, 0, 0, 0.5, 0.5, 0.5, 0.5]);
    const base = await run(newLog());
    expect(got.frames!.data).not.toEqual(base.frames!.data);
  });

  it('runs without CFG when max guidance < 1 (batch of one, control scale 1)', async () => {
    const batches: number[] = [];
    const log = newLog();
    const comps = components(log);
    const unet = fakeUnet(log);
    comps.unet = async () => ({ ...unet, run: (s, t, e, a, c) => (batches.push(s.dims[0], e.dims[0], a.dims[0], c!.output.dims[0]), unet.run(s, t, e, a, c)) });
    const got = await generate(comps, { refImage, poses: poseSourceFromFrames(images.poses, F) }, { ...params, minGuidance: 0.5, maxGuidance: 0.5 });
    expect(batches.slice(0, 4)).toEqual([1, 1, 1, 4]);
    expect(got.frames!.data.every(Number.isFinite)).toBe(true);
  });

  it('emits stage, per-(step, window) and per-decode-chunk progress events', async () => {
    const events: JobEvent[] = [];
    await run(newLog(), { emit: (e) => events.push(e) });
    const denoise = events.filter((e) => e.type === 'progress' && e.stage === 'denoise');
    expect(denoise).toHaveLength(16);
    expect(denoise[5]).toEqual({ type: 'progress', stage: 'denoise', done: 6, total: 16, unit: 'windows', step: 2, steps: 4, window: 2, windows: 4 });
    const decode = events.filter((e) => e.type === 'progress' && e.stage === 'vae-decode').map((e) => (e as { done: number }).done);
    expect(decode).toEqual([2, 4, 6, 8, 9]);
    expect(events.filter((e) => e.type === 'stage-start').map((e) => (e as { stage: string }).stage)).toEqual(['image-encode', 'denoise', 'vae-decode']);
  });

  it('pulls pose frames per window through a small cache, never the whole video at once', async () => {
    const requested: number[] = [];
    const poses: PoseSource = {
      count: F,
      key: 'synthetic',
      frame: async (i) => (requested.push(i), images.poses.subarray(i * H * W * 3, (i + 1) * H * W * 3)),
    };
    const a = await run(newLog(), { poses });
    const b = await run(newLog());
    expect(a.frames!.data).toEqual(b.frames!.data);
    // every frame (pose frame 0 included) is fetched once per step, not once per window: ControlNeXt sees each
    // frame once per step, and the uint8 cache (fpb + 1 frames) covers the window overlap
    expect(requested.length).toBe(4 * F);
  });

  it('stops between windows when aborted', async () => {
    const ctl = new AbortController();
    const log = newLog();
    const p = run(log, {
      signal: ctl.signal,
      emit: (e) => { if (e.type === 'progress' && e.stage === 'denoise' && e.done === 3) ctl.abort(); },
    });
    await expect(p).rejects.toBeInstanceOf(CancelledError);
    expect(log.unet).toBe(3);
    expect(log.released).toContain('unet');
  });

  it('resumes from the last completed step with bit-identical output', async () => {
    const full = await run(newLog());

    const jobDir = path.join(tmp, 'job');
    const ctl = new AbortController();
    const first = newLog();
    const artifacts: string[] = [];
    const interrupted = run(first, {
      jobDir,
      signal: ctl.signal,
      emit: (e) => {
        if (e.type === 'artifact') artifacts.push(e.path);
        // abort after step 1 (the second step) completed and was checkpointed
        if (e.type === 'progress' && e.stage === 'denoise' && e.step === 2 && e.window === e.windows) ctl.abort();
      },
    });
    await expect(interrupted).rejects.toBeInstanceOf(CancelledError);
    expect(artifacts).toEqual([checkpointPath(jobDir), checkpointPath(jobDir)]);
    expect(first.unet).toBe(8);
    expect(fs.readdirSync(jobDir)).toEqual(['denoise.safetensors']); // no tmp file left behind

    const second = newLog();
    const events: JobEvent[] = [];
    const resumed = await run(second, { jobDir, emit: (e) => events.push(e) });
    expect(resumed.resumedAfterStep).toBe(1);
    expect(second.clip).toBe(0); // image conditioning came from the checkpoint
    expect(second.vaeEncode).toBe(0);
    expect(second.unet).toBe(8); // steps 2 and 3 only
    expect(resumed.frames!.data).toEqual(full.frames!.data);
    expect(events.some((e) => e.type === 'log' && e.message.includes('steps 1–2 of 4 already done'))).toBe(true);

    // A finished job decodes straight from its last checkpoint.
    const third = newLog();
    const again = await run(third, { jobDir });
    expect(again.resumedAfterStep).toBe(3);
    expect(third.unet).toBe(0);
    expect(again.frames!.data).toEqual(full.frames!.data);
  });

  it('ignores a checkpoint of different inputs and starts over', async () => {
    const jobDir = path.join(tmp, 'job2');
    await run(newLog(), { jobDir });
    const events: JobEvent[] = [];
    const log = newLog();
    const other = await run(log, { jobDir, params: { seed: 99 }, emit: (e) => events.push(e) });
    expect(other.resumedAfterStep).toBeNull();
    expect(log.unet).toBe(16);
    expect(events.some((e) => e.type === 'log' && e.level === 'warn' && e.message.includes('belongs to another run'))).toBe(true);
    const fresh = await run(newLog(), { params: { seed: 99 } });
    expect(other.frames!.data).toEqual(fresh.frames!.data);
  });

  it('hands frames to onFrames chunk by chunk instead of collecting them', async () => {
    const chunks: Array<[number, number]> = [];
    const full = await run(newLog());
    const got = await generate(components(newLog()), { refImage, poses: poseSourceFromFrames(images.poses, F) }, params, {
      onFrames: (start, frames) => {
        chunks.push([start, frames.dims[0]]);
        const size = 3 * H * W;
        expect(frames.data).toEqual(full.frames!.data.subarray(start * size, (start + frames.dims[0]) * size));
      },
    });
    expect(got.frames).toBeUndefined();
    expect(chunks).toEqual([[0, 2], [2, 2], [4, 2], [6, 2], [8, 1]]);
  });

  it('offers the debug tensors it is asked for', async () => {
    const debug = collectDebug((n) => n === 'dbg.latents_after_step0' || n === 'dbg.s1.w2.controlnext_out' || n === 'dbg.decoded');
    await generate(components(newLog()), { refImage, poses: poseSourceFromFrames(images.poses, F) }, params, { debug });
    expect([...debug.tensors.keys()].sort()).toEqual(['dbg.decoded', 'dbg.latents_after_step0', 'dbg.s1.w2.controlnext_out']);
    expect(debug.tensors.get('dbg.decoded')!.dims).toEqual([1, 3, F, H, W]);
    const ctrl = debug.tensors.get('dbg.s1.w2.controlnext_out')!;
    expect(ctrl.dims).toEqual([8, 4, 2, 3]);
    expect(ctrl.data.subarray(0, ctrl.data.length / 2)).toEqual(ctrl.data.subarray(ctrl.data.length / 2));
  });

  it('rejects bad inputs with clear errors', async () => {
    const bad = (input: Partial<Parameters<typeof generate>[1]>, p: Partial<GenerateParams> = {}) =>
      generate(components(newLog()), { refImage, poses: poseSourceFromFrames(images.poses, F), ...input }, { ...params, ...p });
    await expect(bad({ refImage: { type: 'uint8', dims: [30, 48, 3], data: new Uint8Array(30 * 48 * 3) } }))
      .rejects.toThrow('height and width have to be divisible by 8 but are 30 and 48');
    await expect(bad({ numFrames: 12 })).rejects.toThrow('12 frames requested but the pose source has 9');
    await expect(bad({}, { steps: 0 })).rejects.toThrow('Expected integer of at least 1 for steps but received 0 of type number');
    await expect(bad({}, { overlap: 0 })).rejects.toThrow('Frame 4 is not covered by any window');
    await expect(bad({ poses: poseSourceFromFrames(images.poses.subarray(0, F * 100), F) })).rejects.toThrow('pose frame 0 has 100 bytes, expected 4608 (height×width×3 RGB)');
  });
});
