// The knob table: every setting a user can give a generation job, once. Per knob: its flag (the key is the flag in
// camelCase, `--frames-per-batch` ↔ `framesPerBatch`, in flags, presets files, job options, job.json and the MP4's
// metadata alike), its bound (a zod schema), its default, its help text and where it applies:
//   run, batch  a flag of `cnext run` / `cnext batch` (src/cli/run.ts addKnobOptions)
//   presets     a key of a preset (src/presets/schema.ts, `cnext presets show`)
//   job         a resolved job option (src/job/options.ts JobOptions; job key, job.json, metadata)
// A new knob is one row here plus its consumer. Defaults of the generator's knobs are the diffusion layer's own
// (DEFAULT_GENERATE_PARAMS, the reference's settings); src/job/options.ts adapts job options to its narrow type.
import { z } from 'zod';
import { DEVICES, PRECISIONS } from '../core/device.ts';
import { invalidParameterError } from '../core/is.ts';
import { DEFAULT_GENERATE_PARAMS as G } from '../diffusion/pipeline.ts';
import { POSE_MODEL_CHOICES } from '../core/pose-model.ts';

export type Scope = 'run' | 'batch' | 'presets' | 'job';

interface Row<S extends z.ZodType, I extends readonly Scope[] = readonly Scope[]> {
  readonly schema: S;
  /** undefined: no default value (the help says what happens instead, `defaultText`). */
  readonly default: z.output<S> | undefined;
  /** commander's value placeholder (`<n>`); none: a switch (boolean). */
  readonly arg?: string;
  readonly help: string;
  /** What --help shows as the default when it is not the value itself. */
  readonly defaultText?: string;
  /** What the knob accepts, in words, when the schema alone cannot say it (`WxH, e.g. 576x1024`). */
  readonly expected?: string;
  readonly in: I;
}

const row = <S extends z.ZodType, const I extends readonly Scope[]>(r: Row<S, I>): Row<S, I> => r;
const int = (min: number, max: number) => z.number().int().min(min).max(max);
const num = (min: number, max: number) => z.number().min(min).max(max);

/** Both sides multiples of 64 (the VAE divides by 8, the UNet's three downsamplers by 8 again), 64…4096. */
const SIZE = /^(\d+)x(\d+)$/;
const size = z.string().refine((s) => {
  const m = SIZE.exec(s);
  return !!m && [m[1], m[2]].every((v) => Number(v) % 64 === 0 && Number(v) >= 64 && Number(v) <= 4096);
});

const ALL = ['run', 'batch', 'presets', 'job'] as const;
const CLI = ['run', 'batch'] as const;

export const KNOBS = {
  preset: row({
    schema: z.string().min(1), default: undefined, arg: '<name>', in: CLI, defaultText: 'dance-portrait',
    help: 'named settings (`cnext presets`); flags given override them', expected: 'non-empty string',
  }),
  models: row({
    schema: z.string().min(1), default: undefined, arg: '<dir>', in: CLI, expected: 'non-empty string',
    help: 'models folder', defaultText: '$CNEXT_CACHE/models or ~/.cache/controlnext-motion/models',
  }),
  size: row({
    schema: size, default: '576x1024', arg: '<WxH>', in: ALL, help: 'output size, multiples of 64',
    expected: 'WxH with multiples of 64 between 64 and 4096, e.g. 576x1024',
  }),
  stride: row({ schema: int(1, 1000), default: 2, arg: '<n>', in: ALL, help: 'use every n-th driving frame' }),
  maxFrames: row({ schema: int(1, 100_000), default: 240, arg: '<n>', in: ALL, help: 'at most n driving frames' }),
  steps: row({ schema: int(1, 1000), default: G.steps, arg: '<n>', in: ALL, help: 'denoising steps' }),
  seed: row({ schema: int(0, Number.MAX_SAFE_INTEGER), default: G.seed, arg: '<n>', in: ALL, help: 'random seed' }),
  guidanceMin: row({ schema: num(0, 50), default: G.minGuidance, arg: '<x>', in: ALL, help: 'guidance at the first frame of a window' }),
  guidanceMax: row({ schema: num(0, 50), default: G.maxGuidance, arg: '<x>', in: ALL, help: 'guidance at the last frame of a window' }),
  framesPerBatch: row({ schema: int(2, 256), default: G.framesPerBatch, arg: '<n>', in: ALL, help: 'frames per sliding window' }),
  overlap: row({ schema: int(0, 255), default: G.overlap, arg: '<n>', in: ALL, help: 'frames shared by neighbouring windows' }),
  controlStrength: row({ schema: num(0, 10), default: G.controlStrength, arg: '<x>', in: ALL, help: 'pose control strength' }),
  motionBucketId: row({
    schema: int(0, 1023), default: G.motionBucketId, arg: '<n>', in: ALL,
    help: 'SVD motion bucket id: higher means more motion',
  }),
  noiseAugStrength: row({
    schema: num(0, 10), default: G.noiseAugStrength, arg: '<x>', in: ALL,
    help: 'noise added to the photo before encoding (also an SVD time id); higher loosens the likeness',
  }),
  fpsId: row({
    schema: int(0, 1023), default: G.fpsId, arg: '<n>', in: ALL,
    help: "SVD fps id, a time id (SVD was trained on fps − 1); the output keeps the video's fps",
  }),
  decodeChunk: row({ schema: int(1, 256), default: G.decodeChunk, arg: '<n>', in: ALL, help: 'frames per VAE decode chunk' }),
  fit: row({ schema: z.enum(['cover', 'pad']), default: 'cover', arg: '<mode>', in: ALL, help: 'fit the photo to the size: cover (crop) or pad' }),
  retarget: row({
    schema: z.enum(['fit', 'limb']), default: 'fit', arg: '<mode>', in: ALL,
    help: "pose retargeting: fit (the reference's linear rescale) or limb (also bone lengths of the photo's person)",
  }),
  poseModel: row({
    schema: z.enum(POSE_MODEL_CHOICES), default: 'auto', arg: '<name>', in: ALL,
    help: 'pose extractor: dwpose (what ControlNeXt was trained with; `cnext models pull dwpose`), mediapipe, or auto (dwpose when installed)',
  }),
  device: row({ schema: z.enum(DEVICES), default: 'cpu', arg: '<name>', in: ALL, help: DEVICES.join(' or ') }),
  precision: row({
    schema: z.enum(PRECISIONS), default: undefined, arg: '<p>', in: ALL, help: `${PRECISIONS.join(', ')}; the cpu runs fp32 only`,
    defaultText: 'fp32 on cpu, fp16 on cuda',
  }),
  lowMemory: row({ schema: z.boolean(), default: false, in: ALL, help: 'keep fp16 weights fp16 and memory-mapped (about half the RAM, slower)' }),
} as const;

export type KnobKey = keyof typeof KNOBS;
export type KnobValue<K extends KnobKey> = z.output<(typeof KNOBS)[K]['schema']>;
/** Every knob, each optional: what flags or a preset set. */
export type KnobValues = { readonly [K in KnobKey]?: KnobValue<K> };

/** The knobs that apply in `S`, as a type. */
export type KeysIn<S extends Scope> = { [K in KnobKey]: S extends (typeof KNOBS)[K]['in'][number] ? K : never }[KnobKey];

export const KNOB_KEYS = Object.keys(KNOBS) as KnobKey[];
export const keysIn = <S extends Scope>(scope: S): KeysIn<S>[] =>
  KNOB_KEYS.filter((k) => (KNOBS[k].in as readonly Scope[]).includes(scope)) as KeysIn<S>[];

/** `framesPerBatch` → `--frames-per-batch`. */
export const flagName = (key: string): string => `--${key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;

/** A strict zod object of the knobs of `scope`, each optional. */
export function knobSchema<S extends Scope>(scope: S) {
  const shape: Record<string, z.ZodType> = {};
  for (const k of keysIn(scope)) shape[k] = KNOBS[k].schema.optional();
  return z.object(shape).strict() as unknown as z.ZodObject<{ [K in KeysIn<S>]: z.ZodOptional<(typeof KNOBS)[K]['schema']> }, z.core.$strict>;
}

const unwrap = (s: z.ZodType): z.ZodType => (s instanceof z.ZodOptional ? (s.unwrap() as z.ZodType) : s);

/** What a knob accepts, in words: `integer between 1 and 1000`, `one of cover, pad`. */
export function expectedFor(key: string): string {
  const knob = (KNOBS as Record<string, Row<z.ZodType>>)[key];
  if (!knob) return 'a known flag';
  if (knob.expected) return knob.expected;
  const s = unwrap(knob.schema);
  if (s instanceof z.ZodEnum) return `one of ${s.options.join(', ')}`;
  if (s instanceof z.ZodNumber) return `${s.isInt ? 'integer' : 'number'} between ${s.minValue} and ${s.maxValue}`;
  if (s instanceof z.ZodBoolean) return 'true or false';
  return 'valid value';
}

const isNumeric = (key: KnobKey) => unwrap(KNOBS[key].schema) instanceof z.ZodNumber;

/**
 * commander's raw option values of `scope` → checked knob values (numbers from their text, so a message says
 * `0 of type number`). Keys that are not knobs of the scope are ignored (the command checks its own flags);
 * the first problem → a parameter error naming the flag.
 */
export function parseKnobFlags(raw: Readonly<Record<string, unknown>>, scope: 'run' | 'batch'): KnobValues {
  const out: Record<string, unknown> = {};
  for (const k of keysIn(scope)) {
    let v = raw[k];
    if (v === undefined) continue;
    if (isNumeric(k) && typeof v === 'string' && v.trim() !== '' && Number.isFinite(Number(v.trim()))) v = Number(v.trim());
    const r = KNOBS[k].schema.safeParse(v);
    if (!r.success) throw invalidParameterError(flagName(k), expectedFor(k), v);
    out[k] = r.data;
  }
  return out as KnobValues;
}

/** `576x1024` → { width: 576, height: 1024 } */
export function parseSize(s: string): { width: number; height: number } {
  const m = SIZE.exec(s);
  if (!m) throw invalidParameterError('--size', KNOBS.size.expected!, s);
  return { width: Number(m[1]), height: Number(m[2]) };
}

/** The help line of a knob, with its default. */
export function knobHelp(key: KnobKey): string {
  const k: Row<z.ZodType> = KNOBS[key];
  const d = k.defaultText ?? (k.default === undefined || typeof k.default === 'boolean' ? undefined : String(k.default));
  return d === undefined ? k.help : `${k.help} (default ${d})`;
}
