// GenerateOptions: every knob of one generation job, fully resolved (defaults ← preset ← flags). The CLI schema
// (src/cli/run.ts `options`), presets (src/job/presets.ts) and the job planner all speak this type; a flag
// `--frames-per-batch` is the key `framesPerBatch` everywhere.
import { DEFAULT_GENERATE_PARAMS, type GenerateParams } from '../diffusion/pipeline.ts';

export type Fit = 'cover' | 'pad';
export type { Device } from '../core/device.ts';
import type { Device } from '../core/device.ts';

export interface GenerateOptions {
  /** Output frame size. Both multiples of 64: the VAE divides by 8 and the UNet's three downsamplers by 8 again. */
  readonly width: number;
  readonly height: number;
  /** Use every stride-th driving frame; the output runs at source fps / stride. */
  readonly stride: number;
  /** At most this many driving frames (after the stride). */
  readonly maxFrames: number;
  /** Denoising steps (Euler, Karras sigmas). */
  readonly steps: number;
  /** Seeds the initial latents and the image augmentation noise: same seed, same inputs → same video. */
  readonly seed: number;
  /** CFG scale ramps from minGuidance (first frame of a window) to maxGuidance (last). */
  readonly minGuidance: number;
  readonly maxGuidance: number;
  /** Frames per sliding window, and frames shared by neighbouring windows. */
  readonly framesPerBatch: number;
  readonly overlap: number;
  /** Multiplies the ControlNeXt injection (1 = the reference). */
  readonly controlStrength: number;
  /** Frames decoded together by the temporal VAE decoder. */
  readonly decodeChunk: number;
  /** How the reference image (and the driving frames of the side-by-side) reach width × height. */
  readonly fit: Fit;
  readonly device: Device;
  /** Keep fp16 weights fp16 and memory-mapped (about half the RAM, slower). */
  readonly lowMemory: boolean;
}

/** The reference run (ControlNeXt-SVD-v2 script.sh): 576×1024 portrait, stride 2, 240 frames, 25 steps, guidance 3. */
export const DEFAULT_OPTIONS: GenerateOptions = {
  width: 576,
  height: 1024,
  stride: 2,
  maxFrames: 240,
  steps: DEFAULT_GENERATE_PARAMS.steps,
  seed: DEFAULT_GENERATE_PARAMS.seed,
  minGuidance: DEFAULT_GENERATE_PARAMS.minGuidance,
  maxGuidance: DEFAULT_GENERATE_PARAMS.maxGuidance,
  framesPerBatch: DEFAULT_GENERATE_PARAMS.framesPerBatch,
  overlap: DEFAULT_GENERATE_PARAMS.overlap,
  controlStrength: DEFAULT_GENERATE_PARAMS.controlStrength,
  decodeChunk: DEFAULT_GENERATE_PARAMS.decodeChunk,
  fit: 'cover',
  device: 'cpu',
  lowMemory: false,
};

/** The generator's parameters for `numFrames` generated frames (windows clipped to the clip, as upstream does). */
export function generateParams(o: GenerateOptions, numFrames: number): GenerateParams {
  const fpb = Math.min(o.framesPerBatch, numFrames);
  return {
    ...DEFAULT_GENERATE_PARAMS,
    steps: o.steps,
    seed: o.seed,
    minGuidance: o.minGuidance,
    maxGuidance: o.maxGuidance,
    framesPerBatch: o.framesPerBatch,
    // One window covers a clip shorter than a batch; the overlap then changes nothing, so it is clipped too.
    overlap: Math.min(o.overlap, fpb - 1),
    decodeChunk: o.decodeChunk,
    controlStrength: o.controlStrength,
  };
}

/** The knobs that decide the pose maps (a change re-runs pose extraction). */
export function poseOptions(o: GenerateOptions) {
  return { width: o.width, height: o.height, stride: o.stride, maxFrames: o.maxFrames, fit: o.fit };
}
