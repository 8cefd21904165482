// `cnext demo` (and `npm start`): the whole pipeline on samples/ — pose extraction, alignment, SVD + ControlNeXt
// denoising, VAE decoding, MP4 encoding — with a tiny synthetic model (random weights in the real layout) made on
// first use in the cache. Small size, few frames, few steps: about a minute on two cores. The frames are noise,
// because the weights are untrained; the command says so and how to get the real ones.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Command } from 'commander';
import { z } from 'zod';
import { invalidParameterError } from '../core/is.ts';
import { DEFAULT_OPTIONS, type JobOptions } from '../job/options.ts';
import type { JobResult } from '../job/run.ts';
import { runSynth } from './models-synth.ts';
import { runWithReporter, type RunCliDeps } from './run.ts';

export const SAMPLES_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'samples');

/** Synthetic model of the demo: bump `version` when what synthesizeModels writes changes. */
const DEMO_MODEL = { format: 'cnext-demo-models', version: 2, preset: 'tiny', seed: 0, dtype: 'fp16' } as const;
const MARKER = '.cnext-demo.json';

/** 192×320 (multiples of 64, close to the sample's 9:16), every 3rd frame, 14 frames, 4 steps. */
export const DEMO_OPTIONS: JobOptions = {
  ...DEFAULT_OPTIONS,
  size: '192x320',
  stride: 3,
  maxFrames: 14,
  steps: 4,
};

export const NOTICE =
  'Note: the demo runs on untrained synthetic weights (random numbers in the real model layout), so its frames are ' +
  'noise, not the person in the photo. The pipeline around them is the real one.';
export const REAL_WEIGHTS =
  'For real results: accept the licence at https://huggingface.co/stabilityai/stable-video-diffusion-img2vid-xt-1-1, then\n' +
  '  HF_TOKEN=hf_... cnext models pull svd-xt-1-1 controlnext-svd-v2\n' +
  '  cnext run --ref photo.jpg --video dance.mp4 --out result.mp4';

/** `$CNEXT_CACHE/demo-models`, else `$XDG_CACHE_HOME/controlnext-motion/demo-models`, else ~/.cache/…/demo-models. */
export function demoModelsDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.CNEXT_CACHE) return path.resolve(env.CNEXT_CACHE, 'demo-models');
  if (env.XDG_CACHE_HOME) return path.resolve(env.XDG_CACHE_HOME, 'controlnext-motion', 'demo-models');
  return path.join(os.homedir(), '.cache', 'controlnext-motion', 'demo-models');
}

/** The demo's synthetic models folder, written (atomically, as a whole folder) when missing or outdated. */
export function ensureDemoModels(dir: string, log: (line: string) => void): string {
  try {
    const m = JSON.parse(fs.readFileSync(path.join(dir, MARKER), 'utf8')) as Record<string, unknown>;
    if (Object.entries(DEMO_MODEL).every(([k, v]) => m[k] === v)) return dir;
  } catch {
    // missing or unreadable: (re)create
  }
  log(`Creating the demo's tiny synthetic model in ${dir} (first run only)`);
  const tmp = `${dir}.partial-${process.pid}`;
  fs.rmSync(tmp, { recursive: true, force: true });
  runSynth({ preset: DEMO_MODEL.preset, out: tmp, seed: DEMO_MODEL.seed, dtype: DEMO_MODEL.dtype, baseUnet: false });
  fs.writeFileSync(path.join(tmp, MARKER), `${JSON.stringify(DEMO_MODEL)}\n`);
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(path.dirname(dir), { recursive: true });
  fs.renameSync(tmp, dir);
  return dir;
}

/** A path relative to the working folder when it is inside it, else absolute. */
const shown = (f: string): string => {
  const rel = path.relative(process.cwd(), f);
  return rel && !rel.startsWith('..') && !path.isAbsolute(rel) ? rel : f;
};

export const options = z.object({ outDir: z.string().min(1).default('out'), json: z.boolean().default(false) }).strict();

export interface DemoDeps extends RunCliDeps {
  readonly env?: NodeJS.ProcessEnv;
}

export async function runDemo(raw: Record<string, unknown>, deps: DemoDeps = {}): Promise<JobResult | null> {
  const r = options.safeParse(Object.fromEntries(Object.entries(raw).filter(([, v]) => v !== undefined)));
  if (!r.success) {
    const key = String(r.error.issues[0]!.path[0] ?? '');
    throw invalidParameterError(key === 'outDir' ? '--out-dir' : `--${key}`, key === 'outDir' ? 'folder path' : 'flag', raw[key]);
  }
  const { outDir, json } = r.data;
  const stdout = deps.stdout ?? process.stdout;
  const stderr = deps.stderr ?? process.stderr;
  // With --json stdout carries only events; the notes go to stderr.
  const say = (line: string) => void (json ? stderr : stdout).write(`${line}\n`);
  say(NOTICE);
  const models = ensureDemoModels(demoModelsDir(deps.env), say);
  const out = path.resolve(outDir);
  const result = await runWithReporter(
    {
      json,
      job: {
        ref: path.join(SAMPLES_DIR, 'ref.jpg'),
        video: path.join(SAMPLES_DIR, 'dance.mp4'),
        out: path.join(out, 'demo.mp4'),
        sideBySide: path.join(out, 'demo-side-by-side.mp4'),
        poseVideo: path.join(out, 'demo-pose.mp4'),
        models,
        options: DEMO_OPTIONS,
        preset: 'demo',
      },
    },
    { ...deps, run: { ...deps.run, metadata: { description: 'cnext demo: made with untrained synthetic weights', ...deps.run?.metadata } } },
    'cnext demo',
  );
  if (result) {
    say(`\nWrote ${result.files.map(shown).join(', ')} (${result.frames} frames at ${result.fps[0]}/${result.fps[1]} fps).`);
    say(NOTICE);
    say(REAL_WEIGHTS);
  }
  return result;
}

export function register(program: Command, deps: DemoDeps = {}): void {
  program
    .command('demo')
    .description('run the whole pipeline on the bundled samples with a tiny synthetic model (no download; about a minute)')
    .option('--out-dir <dir>', 'where demo.mp4, demo-pose.mp4 and demo-side-by-side.mp4 go', 'out')
    .option('--json', 'NDJSON events on stdout, one per line')
    .action(async (raw: Record<string, unknown>) => {
      await runDemo(raw, deps);
    });
}
