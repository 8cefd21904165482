// The denoising loop of StableVideoDiffusionPipelineControlNeXt (dvlab-research/ControlNeXt @ ab4b3ac,
// ControlNeXt-SVD-v2/pipeline/pipeline_stable_video_diffusion_controlnext.py, __call__ step 8; fixtures README
// §5.8 step 7): for every timestep, sliding windows over the frames, classifier-free guidance with per-position
// scales, one Euler step per window (the scheduler index reset before each), and the windows' results averaged.
//
// Departures that change no number: ControlNeXt runs once per window and step on the F conditional pose frames
// (upstream runs it on the duplicated 2F rows — identical inputs, identical rows); its output is fed to the
// UNet as [ctrl, ctrl] with scale 0 on the unconditional rows, exactly what upstream feeds. Its timestep-free
// stem is computed once per frame per job (within a byte budget) and only its head runs per step (exact: the
// same ops on the same values). Pose maps are pulled per window from a PoseSource, never all held as floats.
import { CnextError, throwIfAborted } from '../core/errors.ts';
import { noEmit, type EmitFn } from '../core/events.ts';
import { float32, floatToHalf, numel, shapeString, type Float32Tensor } from '../core/tensor.ts';
import { floatTensor, newFloatData, toFloat32, type FloatData, type FloatTensor, type FloatType } from '../nets/float16.ts';
import type { ControlInput, ControlNeXt, Unet } from '../nets/interfaces.ts';
import { debugPut, type DebugSink } from './debug.ts';
import { applyGuidance } from './guidance.ts';
import type { EulerDiscreteScheduler } from './scheduler.ts';
import type { WindowPlan } from './windows.ts';

const f = Math.fround;

/** SVD micro-conditioning as ControlNeXt's pipeline really passes it: fps 6, motion bucket 128, noise aug 0.02. */
export const ADDED_TIME_IDS: readonly number[] = [6, 128, 0.02];

/**
 * Where the pose maps come from: frame `index` (0 = the pose of the reference image, then the driving poses) as
 * uint8 RGB HWC bytes of exactly height×width×3.
 */
export interface PoseSource {
  readonly count: number;
  frame(index: number): Promise<Uint8Array>;
  /** Identifies the content for checkpoint keys (e.g. a hash of poses.json + render settings); without it the frames are hashed. */
  readonly key?: string;
}

/** A PoseSource over frames already in memory ([F,H,W,3] bytes, or one array per frame). */
export function poseSourceFromFrames(frames: Uint8Array | readonly Uint8Array[], count?: number, key?: string): PoseSource {
  if (frames instanceof Uint8Array) {
    const n = count ?? 1;
    if (!Number.isInteger(n) || n < 1 || frames.length % n !== 0) {
      throw new CnextError('INVALID_PARAMETER', `${frames.length} pose bytes are not ${String(count)} equal frames`);
    }
    const size = frames.length / n;
    return { count: n, key, frame: async (i) => frames.subarray(i * size, (i + 1) * size) };
  }
  return { count: frames.length, key, frame: async (i) => frames[i] };
}

/**
 * Keeps the `capacity` most recently used frames (uint8), so overlapping windows and frame 0 (used by every
 * window) are fetched once per step. Concurrent requests for the same frame share one fetch.
 */
export function cachedPoseSource(source: PoseSource, capacity: number): PoseSource {
  const cache = new Map<number, Promise<Uint8Array>>();
  return {
    count: source.count,
    key: source.key,
    frame(index) {
      let p = cache.get(index);
      if (p) {
        cache.delete(index); // re-insert as most recent
      } else {
        p = source.frame(index);
        p.catch(() => cache.delete(index));
      }
      cache.set(index, p);
      while (cache.size > capacity) cache.delete(cache.keys().next().value as number);
      return p;
    },
  };
}

export interface SamplerInputs {
  readonly unet: Unet;
  readonly controlnext: ControlNeXt;
  /** set_timesteps already called. */
  readonly scheduler: EulerDiscreteScheduler;
  /** (1, F, C, h, w): the latents before `firstStep` (initial noise × init_noise_sigma, or a checkpoint). */
  readonly latents: Float32Tensor;
  /** First step to run (0, or the step after a checkpoint). */
  readonly firstStep: number;
  /** (1, D) CLIP image embedding, conditional row. */
  readonly imageEmbedding: Float32Tensor;
  /** (1, C, h, w) image latents, conditional row (repeated over frames here). */
  readonly imageLatents: Float32Tensor;
  readonly poses: PoseSource;
  readonly height: number;
  readonly width: number;
  readonly plan: WindowPlan;
  /** Per window position (length framesPerBatch). */
  readonly guidance: Float32Array;
  /** Whether the UNet batch is [uncond, cond] (upstream: max_guidance_scale ≥ 1). */
  readonly cfg: boolean;
  /** Multiplies the conditional rows' control scale (1 = upstream). */
  readonly controlStrength: number;
  /** SVD's [fps id, motion bucket id, noise aug strength] (default ADDED_TIME_IDS). */
  readonly addedTimeIds?: readonly number[];
  /**
   * Bytes of ControlNeXt stem features (the timestep-free part, one row per pose frame) kept for the whole job, so
   * those frames run only the head at later steps. Default DEFAULT_STEM_CACHE_BYTES; 0 turns the cache off.
   */
  readonly stemCacheBytes?: number;
  readonly emit?: EmitFn;
  readonly signal?: AbortSignal;
  readonly debug?: DebugSink;
  /** Called after every completed step with the merged latents (checkpointing). */
  readonly onStep?: (step: number, latents: Float32Tensor) => Promise<void> | void;
}

/**
 * Default stem-cache budget. A stem row is Cs·(H/2−4)·(W/2−4) values: 128 channels at 576×1024 are 74 MB in fp32,
 * so 2 GiB keeps 29 frames — a whole 24-frame window; longer jobs keep their first frames and recompute the rest.
 */
export const DEFAULT_STEM_CACHE_BYTES = 2 * 2 ** 30;

/** Runs the denoising steps firstStep…n−1 and returns the final merged latents (1, F, C, h, w). */
export async function sample(inp: SamplerInputs): Promise<Float32Tensor> {
  const { unet, controlnext, scheduler, plan, guidance, cfg, poses, height: H, width: W, debug } = inp;
  const emit = inp.emit ?? noEmit;
  const [one, F, C, h, w] = inp.latents.dims;
  if (inp.latents.dims.length !== 5 || one !== 1) {
    throw new CnextError('INVALID_PARAMETER', `latents have shape ${shapeString(inp.latents.dims)}, expected [1, F, C, h, w]`);
  }
  if (shapeString(inp.imageLatents.dims) !== shapeString([1, C, h, w])) {
    throw new CnextError('INVALID_PARAMETER', `image latents have shape ${shapeString(inp.imageLatents.dims)}, expected ${shapeString([1, C, h, w])}`);
  }
  if (inp.imageEmbedding.dims.length !== 2 || inp.imageEmbedding.dims[0] !== 1) {
    throw new CnextError('INVALID_PARAMETER', `the image embedding has shape ${shapeString(inp.imageEmbedding.dims)}, expected [1, D]`);
  }
  if (plan.counts.length !== F) throw new CnextError('INVALID_PARAMETER', `window plan for ${plan.counts.length} frames, latents have ${F}`);
  if (poses.count < F) throw new CnextError('INVALID_PARAMETER', `${poses.count} pose frames for ${F} video frames`);
  const fpb = plan.framesPerBatch;
  if (guidance.length !== fpb) throw new CnextError('INVALID_PARAMETER', `${guidance.length} guidance scales for ${fpb} frames per batch`);

  const steps = scheduler.timesteps.length;
  const windows = plan.starts.length;
  const B2 = cfg ? 2 : 1;
  const D = inp.imageEmbedding.dims[1];
  const frameSize = C * h * w;
  const imageLat = inp.imageLatents.data;

  // Step-invariant inputs. (B2, 1, D), (B2, 3); unconditional rows of the image embedding are zeros.
  const ehs = float32([B2, 1, D]);
  ehs.data.set(inp.imageEmbedding.data, (B2 - 1) * D);
  const addedTimeIds = float32([B2, 3]);
  for (let b = 0; b < B2; b++) addedTimeIds.data.set((inp.addedTimeIds ?? ADDED_TIME_IDS).map(f), b * 3);
  // (B2·fpb) control scale: 0 for the unconditional half, controlStrength (1 upstream) for the conditional rows.
  const controlScale = float32([B2 * fpb]);
  controlScale.data.fill(f(1 * inp.controlStrength), (B2 - 1) * fpb);
  // (B2, fpb, 2C, h, w): the image-latent channels never change; the latent channels are rewritten per window.
  const unetSample = float32([B2, fpb, 2 * C, h, w]);
  for (let j = 0; j < fpb; j++) unetSample.data.set(imageLat, (((B2 - 1) * fpb + j) * 2 + 1) * frameSize);
  // ControlNeXt's tensors: float32, or float16 for an fp16 graph (the pose frames are written straight in half
  // precision and its features go to the UNet unconverted). run() is float32 only, so it is used only for a
  // ControlNeXt without the stem/head split.
  const io: FloatType = controlnext.stem && controlnext.head ? (controlnext.io ?? 'float32') : 'float32';
  const bytesPer = io === 'float32' ? 4 : 2;
  // Pose condition of the frames ControlNeXt still has to see in one window: at most (1, fpb, 3, H, W).
  const plane = H * W;
  const condBuffer = newFloatData(io, fpb * 3 * plane);
  // ControlNeXt is per frame (2-D layers, GroupNorm per row, one t for all rows), so within a step the frames
  // that overlapping windows share, and pose frame 0 that every window starts with, are computed once:
  // frame index → its (C0·h'·w') output row at this step. Windows only move forward, so rows before the next
  // window's start are dropped as soon as that window begins; at most overlap + 1 rows are kept.
  const controlRows = new Map<number, FloatData>();
  let control: ControlInput | undefined; // (B2·fpb, C0, h', w'), reused by every window

  // ControlNeXt's stem does not depend on the timestep: frame index → its stem row (Cs·hs·ws), kept for the whole
  // job while the byte budget lasts (first come, first kept: every step visits the frames in the same order, so a
  // fixed set beats LRU, which would evict each row just before its next use).
  const stemRows = new Map<number, FloatData>();
  const stemBudget = inp.stemCacheBytes ?? DEFAULT_STEM_CACHE_BYTES;
  let stemBytes = 0;
  let stemDims: readonly number[] | undefined; // [Cs, hs, ws]
  let featureBuffer: FloatData | undefined; // the head's input, at most (1, fpb, Cs, hs, ws)
  /** ControlNeXt output [n, C0, h', w'] of the given pose frames at timestep t. */
  const controlFor = async (indices: readonly number[], t: number): Promise<FloatTensor> => {
    const { stem, head } = controlnext;
    const pose = async (ks: readonly number[]) => {
      const data = condBuffer.subarray(0, ks.length * 3 * plane);
      await fillCondition(data, poses, ks, plane);
      return floatTensor(io, [1, ks.length, 3, H, W], data);
    };
    if (!stem || !head) return controlnext.run((await pose(indices)) as Float32Tensor, t);
    const todo = indices.filter((k) => !stemRows.has(k));
    let fresh: FloatTensor | undefined;
    if (todo.length) {
      const out = await stem(await pose(todo));
      if (out.dims.length !== 5 || out.dims[1] !== todo.length || out.type !== io) {
        throw new CnextError('MODEL_OUTPUT', `the ControlNeXt stem returned ${out.type} ${shapeString(out.dims)} for ${todo.length} frames, expected ${io} [1, ${todo.length}, Cs, hs, ws]`);
      }
      fresh = out;
      stemDims = out.dims.slice(2);
      const rowSize = out.data.length / todo.length;
      todo.forEach((k, r) => {
        if (stemBytes + rowSize * bytesPer > stemBudget) return;
        stemRows.set(k, out.data.slice(r * rowSize, (r + 1) * rowSize));
        stemBytes += rowSize * bytesPer;
      });
      if (todo.length === indices.length) return head(out, t); // same frames, same order
    }
    const rowSize = numel(stemDims!);
    featureBuffer ??= newFloatData(io, fpb * rowSize);
    const features = featureBuffer.subarray(0, indices.length * rowSize);
    const freshRow = new Map(todo.map((k, r) => [k, r]));
    indices.forEach((k, j) => {
      const r = freshRow.get(k);
      const row = r === undefined ? stemRows.get(k)! : fresh!.data.subarray(r * rowSize, (r + 1) * rowSize);
      (features as Float32Array).set(row as Float32Array, j * rowSize);
    });
    return head(floatTensor(io, [1, indices.length, ...stemDims!], features), t);
  };

  let latents = inp.latents.data;
  for (let i = inp.firstStep; i < steps; i++) {
    const t = scheduler.timesteps[i];
    const acc = new Float32Array(latents.length);
    controlRows.clear();
    for (let b = 0; b < windows; b++) {
      throwIfAborted(inp.signal);
      const s = plan.starts[b];
      const tag = `dbg.s${i}.w${b}`;
      scheduler.resetStepIndex();
      // (1, fpb, C, h, w) window latents from the previous step's merged latents
      const lat = latents.subarray(s * frameSize, (s + fpb) * frameSize);
      const scaled = scheduler.scaleModelInput(lat, t);
      for (let bb = 0; bb < B2; bb++) {
        for (let j = 0; j < fpb; j++) unetSample.data.set(scaled.subarray(j * frameSize, (j + 1) * frameSize), ((bb * fpb + j) * 2) * frameSize);
      }
      debugPut(debug, `${tag}.unet_sample`, () => float32(unetSample.dims, unetSample.data.slice()));

      // the window's condition frames: pose frame 0, then s+1 … s+fpb−1
      const frames = Array.from({ length: fpb }, (_, j) => (j === 0 ? 0 : s + j));
      for (const k of [...controlRows.keys()]) if (k !== 0 && k <= s) controlRows.delete(k);
      const missing = frames.filter((k) => !controlRows.has(k));
      if (missing.length) {
        const ctrl = await controlFor(missing, t);
        if (ctrl.dims.length !== 4 || ctrl.dims[0] !== missing.length) {
          throw new CnextError('MODEL_OUTPUT', `ControlNeXt returned ${shapeString(ctrl.dims)} for ${missing.length} frames, expected [${missing.length}, C0, h', w']`);
        }
        const rowSize = ctrl.data.length / missing.length;
        missing.forEach((k, r) => controlRows.set(k, ctrl.data.slice(r * rowSize, (r + 1) * rowSize)));
        control ??= { output: floatTensor(ctrl.type, [B2 * fpb, ...ctrl.dims.slice(1)]), scale: controlScale };
      }
      // (B2·fpb, C0, h', w'): the same rows for both CFG halves (the unconditional half is scaled by 0)
      const ctrlOut = control!.output.data;
      const rowSize = ctrlOut.length / (B2 * fpb);
      for (let bb = 0; bb < B2; bb++) frames.forEach((k, j) => (ctrlOut as Float32Array).set(controlRows.get(k)! as Float32Array, (bb * fpb + j) * rowSize));
      debugPut(debug, `${tag}.controlnext_out`, () => toFloat32(floatTensor(control!.output.type, control!.output.dims, ctrlOut.slice())));
      debugPut(debug, `${tag}.control_scale`, () => float32([B2 * fpb, 1, 1, 1], controlScale.data.slice()));

      const noise = await unet.run(unetSample, t, ehs, addedTimeIds, control!);
      if (noise.data.length !== B2 * fpb * frameSize) {
        throw new CnextError('MODEL_OUTPUT', `the UNet returned ${shapeString(noise.dims)}, expected ${shapeString([B2, fpb, C, h, w])}`);
      }
      debugPut(debug, `${tag}.unet_out`, () => noise);
      const noisePred = cfg ? applyGuidance(noise.data, fpb, guidance) : noise.data;
      debugPut(debug, `${tag}.noise_pred_cfg`, () => float32([1, fpb, C, h, w], noisePred));

      const out = scheduler.step(noisePred, t, lat).prevSample;
      debugPut(debug, `${tag}.latents_out`, () => float32([1, fpb, C, h, w], out));
      // The first frame of every window but the one at 0 is dropped (it is pose frame 0's, not its own).
      const from = s === 0 ? 0 : 1;
      const dst = acc.subarray((s + from) * frameSize, (s + fpb) * frameSize);
      const src = out.subarray(from * frameSize);
      for (let k = 0; k < dst.length; k++) dst[k] += src[k];
      emit({
        type: 'progress', stage: 'denoise', done: (i - inp.firstStep) * windows + b + 1, total: (steps - inp.firstStep) * windows,
        unit: 'windows', step: i + 1, steps, window: b + 1, windows,
      });
    }
    for (let fr = 0; fr < F; fr++) {
      const c = plan.counts[fr];
      const row = acc.subarray(fr * frameSize, (fr + 1) * frameSize);
      for (let k = 0; k < row.length; k++) row[k] /= c;
    }
    latents = acc;
    // every frame's stem is cached: the stem's session (and its memory arena) is no longer needed
    if (stemRows.size >= F && i < steps - 1) await controlnext.releaseStem?.();
    const merged = float32([1, F, C, h, w], latents);
    debugPut(debug, `dbg.latents_after_step${i}`, () => merged);
    await inp.onStep?.(i, merged);
  }
  return float32([1, F, C, h, w], latents);
}

/**
 * Writes the pose condition (1, n, 3, H, W) of the given pose frames as (2·(u/255) − 1 + 1)/2 in float32 — the
 * pipeline's preprocess round trip — or that value rounded to float16 (raw half bits) when `out` is a Uint16Array.
 */
async function fillCondition(out: FloatData, poses: PoseSource, indices: readonly number[], plane: number): Promise<void> {
  const frames = await Promise.all(indices.map((k) => poses.frame(k)));
  for (let j = 0; j < indices.length; j++) {
    const src = frames[j];
    const index = indices[j];
    if (src.length !== plane * 3) {
      throw new CnextError('INVALID_PARAMETER', `pose frame ${index} has ${src.length} bytes, expected ${plane * 3} (height×width×3 RGB)`);
    }
    const base = j * 3 * plane;
    const lut = out instanceof Uint16Array ? POSE_LUT16 : POSE_LUT;
    for (let p = 0; p < plane; p++) {
      for (let ch = 0; ch < 3; ch++) out[base + ch * plane + p] = lut[src[p * 3 + ch]];
    }
  }
}

/** u8 → (2·(u/255) − 1 + 1)/2 in float32, for every byte value (same arithmetic as svd-preprocess poseFramesTensor). */
const POSE_LUT = Float32Array.from({ length: 256 }, (_, u) => f(f(f(2 * f(u / 255)) - 1) + 1) / 2);
/** The same values rounded to float16, as raw half bits. */
const POSE_LUT16 = Uint16Array.from(POSE_LUT, (v) => floatToHalf(v));
