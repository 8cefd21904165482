// The generation knobs a preset may set: a partial of the `cnext run` option schema, keyed as the flags are
// (`--frames-per-batch` ↔ `framesPerBatch`). Values are validated here with the same bounds the flags have, so a
// user preset and a flag fail with the same message.
import { z } from 'zod';

const int = (min: number, max: number) => z.number().int().min(min).max(max);
const num = (min: number, max: number) => z.number().min(min).max(max);

/** Every knob a preset can hold, each optional; unknown keys are errors (`strict`). */
export const presetValues = z
  .object({
    /** output width in pixels (multiple of 8; the reference trains on multiples of 64) */
    width: int(64, 4096).multipleOf(8).optional(),
    height: int(64, 4096).multipleOf(8).optional(),
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
    noiseAugStrength: num(0, 10).optional(),
    /** how the reference photo is fitted to width×height */
    fit: z.enum(['cover', 'pad']).optional(),
  })
  .strict();

export type PresetValues = z.infer<typeof presetValues>;
export type PresetKey = keyof PresetValues;

export const PRESET_KEYS = Object.keys(presetValues.shape) as PresetKey[];

/** `framesPerBatch` → `--frames-per-batch` */
export const flagName = (key: string): string => `--${key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;
