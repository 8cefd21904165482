// The generation knobs a preset may set: a partial GenerateOptions (src/job/options.ts), keyed as the flags are
// (`--frames-per-batch` ↔ `framesPerBatch`; `--size WxH` ↔ width, height). Values are checked here with the bounds
// the flags have, so a user preset and a flag fail with the same message.
import { z } from 'zod';
import type { GenerateOptions } from '../job/options.ts';

const int = (min: number, max: number) => z.number().int().min(min).max(max);
const num = (min: number, max: number) => z.number().min(min).max(max);

/** Every knob a preset can hold, each optional; unknown keys are errors (`strict`). */
export const presetValues = z
  .object({
    /** output size in pixels: multiples of 64 (the VAE divides by 8, the UNet's downsamplers by 8 again) */
    width: int(64, 4096).multipleOf(64).optional(),
    height: int(64, 4096).multipleOf(64).optional(),
    /** use every n-th driving frame */
    stride: int(1, 1000).optional(),
    /** at most this many sampled driving frames */
    maxFrames: int(1, 100_000).optional(),
    /** num_inference_steps */
    steps: int(1, 1000).optional(),
    seed: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER).optional(),
    /** CFG scale at the first / last frame position of a window */
    minGuidance: num(0, 50).optional(),
    maxGuidance: num(0, 50).optional(),
    framesPerBatch: int(2, 256).optional(),
    overlap: int(0, 255).optional(),
    /** frames per VAE decode chunk */
    decodeChunk: int(1, 256).optional(),
    controlStrength: num(0, 10).optional(),
    /** how the reference photo is fitted to width×height */
    fit: z.enum(['cover', 'pad']).optional(),
    device: z.enum(['cpu', 'cuda']).optional(),
    lowMemory: z.boolean().optional(),
  })
  .strict();

export type PresetValues = z.infer<typeof presetValues>;

// The schema and GenerateOptions must stay the same set of keys (a compile error here says which differs).
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
const sameKeys: Same<keyof PresetValues, keyof GenerateOptions> = true;
void sameKeys;
export type PresetKey = keyof PresetValues;

export const PRESET_KEYS = Object.keys(presetValues.shape) as PresetKey[];

/** `framesPerBatch` → `--frames-per-batch`; width and height are `--size WxH`. */
/** Keys whose flag is not their kebab-case name (`cnext run --help` is the source of truth). */
const FLAG_NAMES: Readonly<Record<string, string>> = {
  width: '--size',
  height: '--size',
  minGuidance: '--guidance-min',
  maxGuidance: '--guidance-max',
};

export const flagName = (key: string): string =>
  FLAG_NAMES[key] ?? `--${key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;
