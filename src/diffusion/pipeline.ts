// The generator: a fitted reference image (uint8 H×W×3) and a pose-map source → video frames, as
// StableVideoDiffusionPipelineControlNeXt.__call__ computes them (fixtures README §5.8), in numbered stages that
// each load their networks and release them before the next (CPU RAM):
//   1. CLIP image embedding                 (image encoder)
//   2. VAE latents of the augmented image   (VAE encoder)
//   3. denoising loop                       (UNet + ControlNeXt), checkpointed per step in the job folder
//   4. chunked VAE decode → frames          (VAE decoder)
// Memory held by this loop (besides the networks) for 240 frames at 576×1024, 24 frames per batch: latents and
// the merge accumulator 2 × 35 MB; one window's pose condition as float32 170 MB (all 240 frames as floats would be
// 1.7 GB, as uint8 424 MB: neither is ever held); the uint8 pose cache (25 frames) 44 MB; ControlNeXt's output
// [24, 320, 71, 127] 277 MB plus the [ctrl, ctrl] buffer the UNet takes 554 MB; UNet input/output ≈ 35 MB; one
// decode chunk ≈ 28 MB. ≈ 1.2 GB in all; decoded frames go to `onFrames` chunk by chunk (collected, they would be
// another 1.7 GB).
import { CnextError, throwIfAborted } from '../core/errors.ts';
import { noEmit, type EmitFn, type StageName } from '../core/events.ts';
import { invalidParameterError } from '../core/is.ts';
import { float32, numel, shapeString, type Float32Tensor, type Tensor } from '../core/tensor.ts';
import { RunHasher, readCheckpoint, writeCheckpoint } from './checkpoint.ts';
import type { ControlNeXt, ImageEncoder, Unet, Vae } from '../nets/interfaces.ts';
import type { DebugSink } from './debug.ts';
import { debugPut } from './debug.ts';
import { decodeLatents, postprocessFrames } from './decode.ts';
import { doClassifierFreeGuidance, guidanceScales } from './guidance.ts';
import { encodeImageEmbedding, encodeImageLatents } from './image-conditioning.ts';
import { checkSeed, gaussianTensor, NOISE_STREAM } from './random.ts';
import { cachedPoseSource, sample, type PoseSource } from './sampler.ts';
import { EulerDiscreteScheduler } from './scheduler.ts';
import type { ClipNormalization } from './svd-preprocess.ts';
import { planWindows, type WindowPlan } from './windows.ts';


/** The user's knobs. Defaults are ControlNeXt-SVD-v2's own settings (its script.sh). */
export interface GenerateParams {
  /** num_inference_steps */
  readonly steps: number;
  /** Seeds the initial latents and the image augmentation noise (random.ts): same seed → same video. */
  readonly seed: number;
  /** CFG scale of the first frame position of each window (linspace up to maxGuidance). */
  readonly minGuidance: number;
  /** CFG scale of the last frame position; below 1 turns CFG off, as upstream. */
  readonly maxGuidance: number;
  readonly framesPerBatch: number;
  readonly overlap: number;
  /** decode_chunk_size */
  readonly decodeChunk: number;
  /** Multiplies the conditional rows' ControlNeXt scale (1 = upstream). */
  readonly controlStrength: number;
  /**
   * SVD micro-conditioning (added_time_ids = [fps id, motion bucket id, noise aug strength]). The defaults are what
   * ControlNeXt-SVD-v2's pipeline really passes: its __call__ takes fps=7, motion_bucket_id=127 and computes
   * fps − 1 = 6, then overwrites the time ids with the literals (6, 128, 0.02) before the denoising loop. Here the
   * values given are used, as diffusers' StableVideoDiffusionPipeline uses them: `fpsId` is the value after the
   * "fps − 1", and the noise strength both scales the image noise and enters the time ids.
   */
  readonly fpsId: number;
  readonly motionBucketId: number;
  /** Strength of the noise added to the reference image before VAE encoding. */
  readonly noiseAugStrength: number;
}

export const DEFAULT_GENERATE_PARAMS: GenerateParams = {
  steps: 25,
  seed: 42,
  minGuidance: 3,
  maxGuidance: 3,
  framesPerBatch: 24,
  overlap: 6,
  decodeChunk: 2,
  controlStrength: 1,
  fpsId: 6,
  motionBucketId: 128,
  noiseAugStrength: 0.02,
};

/** The networks, loaded on demand per stage (each is released at the end of its stage). */
export interface PipelineComponents {
  imageEncoder(): Promise<ImageEncoder>;
  vae(): Promise<Vae>;
  unet(): Promise<Unet>;
  controlnext(): Promise<ControlNeXt>;
  /** scheduler/scheduler_config.json */
  readonly schedulerConfig: unknown;
  /** feature_extractor/preprocessor_config.json mean/std */
  readonly clipNormalization: ClipNormalization;
  /** Identifies the weights (paths, sizes) for checkpoint keys. */
  readonly key?: string;
}

export interface GenerateInput {
  /** uint8 [H, W, 3]: the reference image, already fitted to the output size. */
  readonly refImage: Tensor;
  /** Pose maps: frame 0 is the reference image's pose, then the driving poses. count ≥ numFrames. */
  readonly poses: PoseSource;
  /** Frames to generate (default: poses.count). */
  readonly numFrames?: number;
}

export interface GenerateOptions {
  readonly emit?: EmitFn;
  readonly signal?: AbortSignal;
  /** Job folder for per-step checkpoints; a run given a folder with a matching checkpoint resumes from it. */
  readonly jobDir?: string;
  /** (1, F, C, h, w) initial latents, before × init_noise_sigma (default: drawn from the seed). */
  readonly latents?: Float32Tensor;
  /** (1, 3, H, W) augmentation noise (default: drawn from the seed). */
  readonly imageNoise?: Float32Tensor;
  readonly debug?: DebugSink;
  /**
   * Receives frames in [0, 1] as they are decoded ([n, 3, H, W], first frame index `start`); when given, the
   * frames are not collected (a long video never sits in RAM as floats).
   */
  readonly onFrames?: (start: number, frames: Float32Tensor) => Promise<void> | void;
  /** Pose frames kept in the uint8 cache (default framesPerBatch + 1). */
  readonly poseCache?: number;
}

export interface GenerateResult {
  /** (F, 3, H, W) in [0, 1]; absent when `onFrames` consumed them. */
  readonly frames?: Float32Tensor;
  /** (1, F, C, h, w) final latents. */
  readonly latents: Float32Tensor;
  /** Index of the checkpointed step the run resumed after, or null. */
  readonly resumedAfterStep: number | null;
}

/** SVD's added_time_ids: [fps id, motion bucket id, noise aug strength]. */
export const addedTimeIds = (p: GenerateParams): readonly number[] => [p.fpsId, p.motionBucketId, p.noiseAugStrength];

/** Validates and completes the knobs. */
export function resolveGenerateParams(p: Partial<GenerateParams> = {}): GenerateParams {
  const r = { ...DEFAULT_GENERATE_PARAMS, ...p };
  const int = (name: keyof GenerateParams, min: number) => {
    const v = r[name];
    if (!Number.isInteger(v) || v < min) throw invalidParameterError(name, `integer of at least ${min}`, v);
  };
  int('steps', 1);
  int('framesPerBatch', 1);
  int('overlap', 0);
  int('decodeChunk', 1);
  checkSeed(r.seed);
  for (const name of ['minGuidance', 'maxGuidance', 'controlStrength', 'noiseAugStrength', 'fpsId', 'motionBucketId'] as const) {
    const v = r[name];
    if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) throw invalidParameterError(name, 'non-negative number', v);
  }
  return r;
}

async function stage<T>(emit: EmitFn, name: StageName, total: number | undefined, body: () => Promise<T>): Promise<T> {
  const t0 = performance.now();
  emit({ type: 'stage-start', stage: name, total });
  const out = await body();
  emit({ type: 'stage-end', stage: name, seconds: (performance.now() - t0) / 1000 });
  return out;
}

async function using<N extends { release(): Promise<void> }, T>(load: () => Promise<N>, body: (net: N) => Promise<T>): Promise<T> {
  const net = await load();
  try {
    return await body(net);
  } finally {
    await net.release();
  }
}

function checkImage(refImage: Tensor): { H: number; W: number } {
  const d = refImage.dims;
  if (refImage.type !== 'uint8' || d.length !== 3 || d[2] !== 3) {
    throw invalidParameterError('reference image', 'uint8 RGB image of shape [H, W, 3]', `${refImage.type} ${shapeString(d)}`);
  }
  const [H, W] = d;
  if (H % 8 !== 0 || W % 8 !== 0) {
    throw new CnextError('INVALID_PARAMETER', `height and width have to be divisible by 8 but are ${H} and ${W}`);
  }
  return { H, W };
}

function checkDims(what: string, t: Float32Tensor, dims: readonly number[]): void {
  if (t.type !== 'float32' || shapeString(t.dims) !== shapeString(dims)) {
    throw new CnextError('INVALID_PARAMETER', `${what} has shape ${shapeString(t.dims)}, expected ${shapeString(dims)}`);
  }
}

/** The checkpoint key: everything that determines the latents (not decodeChunk, which only affects decoding). */
async function runKey(
  components: PipelineComponents, input: GenerateInput, p: GenerateParams, F: number, options: GenerateOptions,
): Promise<string> {
  const h = new RunHasher()
    .json('params', { ...p, decodeChunk: undefined, numFrames: F })
    .json('scheduler', components.schedulerConfig)
    .json('clip', components.clipNormalization)
    .text('weights', components.key ?? '')
    .json('image dims', input.refImage.dims)
    .bytes('image', input.refImage.data);
  if (options.latents) h.bytes('latents', options.latents.data);
  if (options.imageNoise) h.bytes('image noise', options.imageNoise.data);
  if (input.poses.key !== undefined) {
    h.text('poses', input.poses.key);
  } else {
    for (let i = 0; i < F; i++) h.bytes(`pose ${i}`, await input.poses.frame(i));
  }
  return h.digest();
}

/** What the steps of one generator run share (the `self` of diffusers' pipeline __call__). */
interface Run {
  readonly components: PipelineComponents;
  readonly input: GenerateInput;
  readonly p: GenerateParams;
  readonly options: GenerateOptions;
  readonly emit: EmitFn;
  readonly H: number;
  readonly W: number;
  /** Frames to generate. */
  readonly F: number;
  readonly plan: WindowPlan;
  readonly cfg: boolean;
  readonly guidance: Float32Array;
  readonly scheduler: EulerDiscreteScheduler;
  /** Checkpoint key ('' without a job folder). */
  key: string;
}

interface Checkpoint {
  readonly step: number;
  readonly latents: Float32Tensor;
  readonly imageEmbedding: Float32Tensor;
  readonly imageLatents: Float32Tensor;
}

/**
 * Runs the whole generator, in the steps of StableVideoDiffusionPipelineControlNeXt.__call__: check inputs and
 * plan, (resume), encode the image, prepare latents, denoise, decode.
 */
export async function generate(
  components: PipelineComponents,
  input: GenerateInput,
  params: Partial<GenerateParams> = {},
  options: GenerateOptions = {},
): Promise<GenerateResult> {
  const run = checkInputs(components, input, resolveGenerateParams(params), options);
  const resumed = await resumeFromCheckpoint(run);
  throwIfAborted(options.signal);
  // 1–2. Image conditioning.
  const { imageEmbedding, imageLatents } = resumed ?? (await encodeImage(run));
  if (resumed) run.emit({ type: 'stage-end', stage: 'image-encode', seconds: 0, skipped: true });
  throwIfAborted(options.signal);
  // 3. Denoising.
  const initial = prepareLatents(run, imageLatents, resumed);
  const latents = await denoise(run, initial, resumed ? resumed.step + 1 : 0, imageEmbedding, imageLatents);
  debugPut(options.debug, 'dbg.final_latents', () => latents);
  // 4. Decode.
  const frames = await decode(run, latents);
  return { frames, latents, resumedAfterStep: resumed ? resumed.step : null };
}

/** Checks the inputs; plans windows, guidance and the schedule; logs the plan. */
function checkInputs(components: PipelineComponents, input: GenerateInput, p: GenerateParams, options: GenerateOptions): Run {
  const emit = options.emit ?? noEmit;
  const { H, W } = checkImage(input.refImage);
  const F = input.numFrames ?? input.poses.count;
  if (!Number.isInteger(F) || F < 1) throw invalidParameterError('numFrames', 'integer of at least 1', F);
  if (input.poses.count < F) {
    throw new CnextError('INVALID_PARAMETER', `${F} frames requested but the pose source has ${input.poses.count}`);
  }
  const plan = planWindows(F, p.framesPerBatch, p.overlap);
  const cfg = doClassifierFreeGuidance(p.maxGuidance);
  const guidance = guidanceScales(p.minGuidance, p.maxGuidance, plan.framesPerBatch);
  const scheduler = new EulerDiscreteScheduler(components.schedulerConfig);
  scheduler.setTimesteps(p.steps);
  if (options.imageNoise) checkDims('image noise', options.imageNoise, [1, 3, H, W]);
  // F counts the reference pose's frame 0, which the job does not write: say what is generated as such
  emit({
    type: 'log',
    level: 'info',
    message: `${F} frames (the reference pose's + ${F - 1}) at ${W}×${H}: ${plan.starts.length} window(s) of ${plan.framesPerBatch} frames (overlap ${plan.overlap}) ` +
      `starting at ${plan.starts.join(', ')}; ${p.steps} steps; guidance ${p.minGuidance}→${p.maxGuidance}${cfg ? '' : ' (CFG off: max < 1)'}; ` +
      `time ids [${addedTimeIds(p).join(', ')}]`,
  });
  debugPut(options.debug, 'dbg.timesteps', () => float32([scheduler.timesteps.length], scheduler.timesteps.slice()));
  debugPut(options.debug, 'dbg.sigmas', () => float32([scheduler.sigmas.length], scheduler.sigmas.slice()));
  debugPut(options.debug, 'dbg.guidance_scale', () => float32([guidance.length], guidance.slice()));
  return { components, input, p, options, emit, H, W, F, plan, cfg, guidance, scheduler, key: '' };
}

/** The checkpoint in the job folder that belongs to this run, if any. */
async function resumeFromCheckpoint(run: Run): Promise<Checkpoint | null> {
  const { options, p, emit } = run;
  if (options.jobDir === undefined) return null;
  run.key = await runKey(run.components, run.input, p, run.F, options);
  const found = readCheckpoint(options.jobDir, run.key);
  if (found.status === 'found' && found.checkpoint.steps === p.steps) {
    emit({ type: 'log', level: 'info', message: `Resuming from ${found.file}: steps 1–${found.checkpoint.step + 1} of ${p.steps} already done` });
    return found.checkpoint;
  }
  if (found.status === 'mismatch') {
    emit({ type: 'log', level: 'warn', message: `${found.file} belongs to another run (inputs or parameters differ); starting over` });
  }
  return null;
}

/** 1–2. The CLIP image embedding and the VAE latents of the noise-augmented image. */
async function encodeImage(run: Run): Promise<{ imageEmbedding: Float32Tensor; imageLatents: Float32Tensor }> {
  const { components, input, p, options, emit, cfg, H, W } = run;
  return stage(emit, 'image-encode', 2, async () => {
    const imageEmbedding = await using(components.imageEncoder, (enc) => encodeImageEmbedding(enc, input.refImage, components.clipNormalization, options.debug, cfg));
    emit({ type: 'progress', stage: 'image-encode', done: 1, total: 2, unit: 'networks' });
    const noise = options.imageNoise ?? gaussianTensor(p.seed, NOISE_STREAM.imageNoiseAug, [1, 3, H, W]);
    const imageLatents = await using(components.vae, (vae) => encodeImageLatents(vae, input.refImage, noise, p.noiseAugStrength, options.debug, cfg));
    emit({ type: 'progress', stage: 'image-encode', done: 2, total: 2, unit: 'networks' });
    return { imageEmbedding, imageLatents };
  });
}

/** (1, F, C, h, w): the checkpointed latents, or the initial noise × init_noise_sigma. */
function prepareLatents(run: Run, imageLatents: Float32Tensor, resumed: Checkpoint | null): Float32Tensor {
  const { H, W, F, scheduler, options, p } = run;
  const [, C, h, w] = imageLatents.dims;
  if (H % h !== 0 || W % w !== 0 || H / h !== W / w) {
    throw new CnextError('MODEL_OUTPUT', `the VAE encoder returned latents ${shapeString(imageLatents.dims)} for a ${H}×${W} image`);
  }
  const latentDims = [1, F, C, h, w];
  if (resumed) {
    checkDims('checkpointed latents', resumed.latents, latentDims);
    return resumed.latents;
  }
  const init = options.latents ?? gaussianTensor(p.seed, NOISE_STREAM.latents, latentDims);
  checkDims('initial latents', init, latentDims);
  const sigma = scheduler.initNoiseSigma;
  const d = new Float32Array(numel(latentDims));
  for (let i = 0; i < d.length; i++) d[i] = init.data[i] * sigma;
  const latents = float32(latentDims, d);
  debugPut(options.debug, 'dbg.latents_init', () => latents);
  return latents;
}

/** 3. The denoising loop from `firstStep` (sampler.ts), each finished step checkpointed in the job folder. */
async function denoise(
  run: Run, latents: Float32Tensor, firstStep: number, imageEmbedding: Float32Tensor, imageLatents: Float32Tensor,
): Promise<Float32Tensor> {
  const { components, input, p, options, emit, plan, H, W, guidance, cfg, scheduler } = run;
  if (firstStep >= p.steps) {
    emit({ type: 'stage-end', stage: 'denoise', seconds: 0, skipped: true });
    return latents;
  }
  const poses = cachedPoseSource(input.poses, options.poseCache ?? plan.framesPerBatch + 1);
  const total = (p.steps - firstStep) * plan.starts.length;
  const { jobDir, signal, debug } = options;
  return stage(emit, 'denoise', total, async () => {
    const unet = await components.unet();
    try {
      return await using(components.controlnext, (controlnext) => sample({
        unet, controlnext, scheduler, latents, firstStep, imageEmbedding, imageLatents, poses, height: H, width: W,
        plan, guidance, cfg, controlStrength: p.controlStrength, addedTimeIds: addedTimeIds(p), emit, signal, debug,
        onStep: jobDir === undefined ? undefined : (step, merged) => {
          const file = writeCheckpoint(jobDir, run.key, { step, steps: p.steps, latents: merged, imageEmbedding, imageLatents });
          emit({ type: 'artifact', kind: 'checkpoint', path: file });
        },
      }));
    } finally {
      await unet.release();
    }
  });
}

/** 4. Chunked VAE decode → frames in [0, 1], handed to `onFrames` chunk by chunk or collected. */
async function decode(run: Run, latents: Float32Tensor): Promise<Float32Tensor | undefined> {
  const { components, p, options, emit, F } = run;
  const { debug, signal } = options;
  const collected: Float32Tensor[] = [];
  const wantDecoded = debug?.want('dbg.decoded') ?? false;
  const decodedChunks: Float32Tensor[] = [];
  await stage(emit, 'vae-decode', F, () => using(components.vae, (vae) => decodeLatents(vae, latents, {
    chunk: p.decodeChunk, emit, signal,
    onChunk: async (start, decoded) => {
      if (wantDecoded) decodedChunks.push(decoded);
      const frames = postprocessFrames(decoded);
      if (options.onFrames) await options.onFrames(start, frames);
      else collected.push(frames);
    },
  })));
  if (wantDecoded) debug!.put('dbg.decoded', toBcfhw(decodedChunks));
  return options.onFrames ? undefined : concatFrames(collected);
}

/** // n × (k, 3, H, W) → (ΣK, 3, H, W) */
function concatFrames(parts: readonly Float32Tensor[]): Float32Tensor {
  const [, c, hh, ww] = parts[0].dims;
  const n = parts.reduce((a, t) => a + t.dims[0], 0);
  const out = new Float32Array(n * c * hh * ww);
  let off = 0;
  for (const t of parts) {
    out.set(t.data, off);
    off += t.data.length;
  }
  return float32([n, c, hh, ww], out);
}

/** // chunks of (k, 3, H, W) → (1, 3, F, H, W), the layout of upstream decode_latents() */
function toBcfhw(parts: readonly Float32Tensor[]): Float32Tensor {
  const all = concatFrames(parts);
  const [n, c, hh, ww] = all.dims;
  const plane = hh * ww;
  const out = new Float32Array(all.data.length);
  for (let fr = 0; fr < n; fr++) {
    for (let ch = 0; ch < c; ch++) out.set(all.data.subarray((fr * c + ch) * plane, (fr * c + ch + 1) * plane), (ch * n + fr) * plane);
  }
  return float32([1, c, n, hh, ww], out);
}
