// `cnext models synth --preset tiny|svd-xt --out DIR`: a models folder in the real layout (svd-xt-1-1/ and
// controlnext-svd-v2/) filled with seeded random weights, for tests, benchmarks and the demo. The loaders cannot
// tell it from downloaded weights; the frames it produces are noise-like, not a person.
import fs from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import { z } from 'zod';
import { CnextError } from '../core/errors.ts';
import { invalidParameterError } from '../core/is.ts';
import { assertWritable } from '../core/writable.ts';
import { SYNTH_PRESETS, type SynthPreset } from '../../models/configs.ts';
import { diskFree } from '../../models/download.ts';
import { networkSpecs, synthesizeModels, type SynthResult } from '../../models/synth.ts';
import { diskFullError } from '../job/folder.ts';
import { modelsGroup } from './models.ts';

export const options = z
  .object({
    preset: z.enum(Object.keys(SYNTH_PRESETS) as [SynthPreset, ...SynthPreset[]]),
    out: z.string().min(1),
    seed: z.number().int().min(0).max(2 ** 31 - 1).default(0),
    dtype: z.enum(['fp16', 'fp32']).default('fp16'),
    baseUnet: z.boolean().default(false),
  })
  .strict();
export type SynthFlags = z.infer<typeof options>;

const EXPECTED: Record<string, string> = {
  preset: `one of ${Object.keys(SYNTH_PRESETS).join(', ')}`,
  out: 'folder path',
  seed: `integer between 0 and ${2 ** 31 - 1}`,
  dtype: 'one of fp16, fp32',
  baseUnet: 'flag',
};

export function parseSynthOptions(raw: Record<string, unknown>): SynthFlags {
  const input: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(raw)) {
    if (v === undefined) continue;
    input[k] = k === 'seed' && typeof v === 'string' && v.trim() !== '' && Number.isFinite(Number(v)) ? Number(v) : v;
  }
  const r = options.safeParse(input);
  if (r.success) return r.data;
  const key = String(r.error.issues[0]!.path[0] ?? '');
  throw invalidParameterError(`--${key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`, EXPECTED[key] ?? 'valid value', input[key]);
}

/** Bytes the weight files will take (tensor data only). */
export function synthBytes(preset: SynthPreset, dtype: 'fp16' | 'fp32', baseUnet: boolean): number {
  const specs = networkSpecs(preset);
  const count = (entries: ReadonlyArray<{ shape: readonly number[] }>) => entries.reduce((a, e) => a + e.shape.reduce((x, y) => x * y, 1), 0);
  const n = count(specs.unet) * (baseUnet ? 2 : 1) + count(specs.vae) + count(specs.image_encoder) + count(specs.controlnext);
  return n * (dtype === 'fp16' ? 2 : 4);
}

export function runSynth(o: SynthFlags): SynthResult {
  const root = path.resolve(o.out);
  assertWritable(root, '--out');
  const need = synthBytes(o.preset, o.dtype, o.baseUnet);
  const free = diskFree(root);
  if (free !== undefined && free < need) {
    throw new CnextError('DISK_FULL', `${root} has ${(free / 1e9).toFixed(2)} GB free; the ${o.preset} weights need ${(need / 1e9).toFixed(2)} GB`, {
      category: 'system',
      solutions: ['Free some space, or write to another disk with --out', ...(o.preset === 'svd-xt' ? ['Or use --preset tiny'] : [])],
    });
  }
  try {
    return synthesizeModels(root, { preset: o.preset, seed: o.seed, dtype: o.dtype === 'fp16' ? 'F16' : 'F32', baseUnet: o.baseUnet });
  } catch (e) {
    throw diskFullError(e, root) ?? e;
  }
}

export function register(program: Command, deps: { out?: (s: string) => void } = {}): void {
  const out = deps.out ?? ((s: string) => void process.stdout.write(s));
  modelsGroup(program)
    .command('synth')
    .description('write a models folder with random weights in the real layout (tests, benchmarks, the demo)')
    .requiredOption('--preset <name>', `model size: ${Object.keys(SYNTH_PRESETS).join(' or ')}`)
    .requiredOption('--out <dir>', 'models folder to write (use it with --models DIR)')
    .option('--seed <n>', 'random seed of the weights', '0')
    .option('--dtype <type>', 'fp16 (as the released files) or fp32', 'fp16')
    .option('--base-unet', 'also write the plain SVD UNet (svd-xt-1-1/unet/…safetensors)')
    .action((raw: Record<string, unknown>) => {
      const o = parseSynthOptions(raw);
      const t0 = performance.now();
      const r = runSynth(o);
      out(
        `${r.files.length} files, ${(r.bytes / 1e6).toFixed(1)} MB of ${o.dtype} random weights (preset ${o.preset}, seed ${o.seed}) in ` +
          `${((performance.now() - t0) / 1000).toFixed(1)} s\n${r.svdDir}\n${r.controlnextDir}\n` +
          `These are untrained: videos made with them are noise. Use them with --models ${path.resolve(o.out)}\n`,
      );
    });
}
