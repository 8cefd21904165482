// JobOptions: every knob of one generation job, fully resolved (the knob table's defaults ← preset ← flags; see
// src/job/knobs.ts, which also says what each one means), and the one adapter from them to the generator's own
// narrow parameters (src/diffusion/pipeline.ts GenerateParams).
import { resolvePrecision, type Precision } from '../core/device.ts';
import { DEFAULT_GENERATE_PARAMS, type GenerateParams } from '../diffusion/pipeline.ts';
import { KNOBS, keysIn, parseSize, type KeysIn, type KnobValue } from './knobs.ts';

export type { Device, Precision } from '../core/device.ts';

type JobKey = KeysIn<'job'>;

/** Every job knob with its value; `precision` resolved for the device. */
export type JobOptions = { readonly [K in JobKey]: K extends 'precision' ? Precision : KnobValue<K> };
export type Fit = JobOptions['fit'];

/** The table's job knobs with their defaults (the reference run, ControlNeXt-SVD-v2 script.sh), precision resolved. */
export function withDefaults(values: Partial<Record<JobKey, unknown>>): JobOptions {
  const o: Record<string, unknown> = {};
  for (const k of keysIn('job')) o[k] = values[k] ?? KNOBS[k].default;
  o.precision = resolvePrecision(o.device as JobOptions['device'], o.precision as Precision | undefined);
  return o as JobOptions;
}

export const DEFAULT_OPTIONS: JobOptions = withDefaults({});

/** Output frame size in pixels. */
export const frameSize = (o: Pick<JobOptions, 'size'>): { width: number; height: number } => parseSize(o.size);

/** The generator's parameters for `numFrames` generated frames (windows clipped to the clip, as upstream does). */
export function generateParams(o: JobOptions, numFrames: number): GenerateParams {
  const fpb = Math.min(o.framesPerBatch, numFrames);
  return {
    ...DEFAULT_GENERATE_PARAMS,
    steps: o.steps,
    seed: o.seed,
    minGuidance: o.guidanceMin,
    maxGuidance: o.guidanceMax,
    framesPerBatch: o.framesPerBatch,
    // One window covers a clip shorter than a batch; the overlap then changes nothing, so it is clipped too.
    overlap: Math.min(o.overlap, fpb - 1),
    decodeChunk: o.decodeChunk,
    controlStrength: o.controlStrength,
    motionBucketId: o.motionBucketId,
    noiseAugStrength: o.noiseAugStrength,
    fpsId: o.fpsId,
  };
}

/** The knobs that decide the pose maps (a change re-runs pose extraction). */
export function poseOptions(o: JobOptions) {
  return { size: o.size, stride: o.stride, maxFrames: o.maxFrames, fit: o.fit, retarget: o.retarget, poseModel: o.poseModel };
}
