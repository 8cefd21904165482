// `cnext run --ref IMAGE --video VIDEO --out FILE.mp4 [knobs…]`: one generation job. Knobs resolve as
// reference defaults ← --preset ← the flags actually given (src/presets/); the job folder makes a rerun of the same
// command resume (src/job/). Ctrl-C stops cleanly (exit 130) and the same command resumes.
import type { Command } from 'commander';
import { z } from 'zod';
import { CancelledError } from '../core/errors.ts';
import { invalidParameterError } from '../core/is.ts';
import { DEFAULT_OPTIONS, type GenerateOptions } from '../job/options.ts';
import type { JobInput, JobResult, JobRunOptions } from '../job/run.ts';
import { pickReporter, type Reporter } from '../log/index.ts';
import { expectedFor } from '../presets/issues.ts';
import { presetValues, resolveValues, type PresetKey, type PresetsContext } from '../presets/index.ts';

const knob = presetValues.shape;
const file = z.string().min(1);

/** The flags of `cnext run`, keyed as commander names them (`--max-frames` ↔ maxFrames). Knob bounds = presets'. */
export const options = z
  .object({
    ref: file,
    video: file,
    out: z.string().regex(/\.mp4$/i),
    preset: z.string().min(1).optional(),
    models: file.optional(),
    size: z.string().regex(/^\d+x\d+$/).optional(),
    stride: knob.stride,
    maxFrames: knob.maxFrames,
    steps: knob.steps,
    seed: knob.seed,
    guidanceMin: knob.minGuidance,
    guidanceMax: knob.maxGuidance,
    framesPerBatch: knob.framesPerBatch,
    overlap: knob.overlap,
    controlStrength: knob.controlStrength,
    decodeChunk: knob.decodeChunk,
    fit: knob.fit,
    device: knob.device,
    lowMemory: knob.lowMemory,
    sideBySide: file.optional(),
    poseVideo: file.optional(),
    jobDir: file.optional(),
    json: z.boolean().optional(),
  })
  .strict();
export type RunFlags = z.infer<typeof options>;

/** Flag key → preset key where they differ. */
const PRESET_KEY: Partial<Record<keyof RunFlags, PresetKey>> = { guidanceMin: 'minGuidance', guidanceMax: 'maxGuidance' };
const NUMERIC = new Set(['stride', 'maxFrames', 'steps', 'seed', 'guidanceMin', 'guidanceMax', 'framesPerBatch', 'overlap', 'controlStrength', 'decodeChunk']);

const flagOf = (key: string): string => `--${key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;

function expected(key: string): string {
  if (key === 'out') return 'file name ending in .mp4';
  if (key === 'size') return 'WxH, e.g. 576x1024';
  const pk = PRESET_KEY[key as keyof RunFlags] ?? key;
  if (pk in knob) return expectedFor(pk);
  return 'non-empty string';
}

/** A numeric flag's text as a number when it is one (so messages say `0 of type number`); otherwise unchanged. */
function coerce(key: string, v: unknown): unknown {
  if (!NUMERIC.has(key) || typeof v !== 'string') return v;
  const t = v.trim();
  return t !== '' && Number.isFinite(Number(t)) ? Number(t) : v;
}

export interface ParsedRun {
  readonly job: JobInput;
  readonly json: boolean;
}

/**
 * commander's raw options → a job: each flag checked by the schema (first problem → a parameter error naming the
 * flag), then merged with the preset; cross-field checks (overlap < frames per batch) come from the merge.
 */
export function parseRunOptions(raw: Record<string, unknown>, ctx: PresetsContext = {}): ParsedRun {
  const input: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(raw)) if (v !== undefined) input[k] = coerce(k, v);
  const r = options.safeParse(input);
  if (!r.success) {
    const issue = r.error.issues[0]!;
    if (issue.code === 'unrecognized_keys') throw invalidParameterError(flagOf(issue.keys[0]!), 'a known flag', true);
    const key = String(issue.path[0] ?? '');
    throw invalidParameterError(flagOf(key), expected(key), input[key]);
  }
  const f = r.data;
  const flags: Partial<Record<PresetKey, unknown>> = {};
  for (const [k, v] of Object.entries(f)) {
    const pk = PRESET_KEY[k as keyof RunFlags] ?? k;
    if (pk in knob && v !== undefined) flags[pk as PresetKey] = v;
  }
  if (f.size) {
    const [w, h] = f.size.split('x').map(Number) as [number, number];
    flags.width = w;
    flags.height = h;
  }
  const { preset, values } = resolveValues(f.preset, flags, new Set(Object.keys(flags)), ctx);
  const o: GenerateOptions = values;
  return {
    job: {
      ref: f.ref, video: f.video, out: f.out, options: o, preset,
      models: f.models, jobDir: f.jobDir, sideBySide: f.sideBySide, poseVideo: f.poseVideo,
    },
    json: f.json ?? false,
  };
}

export const INTERRUPTED = 'Interrupted. Run the same command again to resume.';
export const EXIT_INTERRUPTED = 130;

export interface RunCliDeps {
  readonly stdout?: NodeJS.WriteStream;
  readonly stderr?: NodeJS.WriteStream;
  /** Overrides for tests and the demo (components, metadata). */
  readonly run?: Omit<JobRunOptions, 'emit' | 'signal'>;
  /** Forces the plain log on a TTY. */
  readonly tui?: boolean;
}

/**
 * Runs a parsed job with a reporter, SIGINT wired to an AbortSignal. Returns the result, or null when interrupted
 * (message printed, process.exitCode = 130). Other errors propagate to main.ts, which formats them.
 */
export async function runWithReporter(p: ParsedRun, deps: RunCliDeps = {}, resumeCommand?: string): Promise<JobResult | null> {
  const stdout = deps.stdout ?? process.stdout;
  const stderr = deps.stderr ?? process.stderr;
  const ac = new AbortController();
  let reporter: Reporter | undefined;
  // First Ctrl-C: stop at the next safe point (a network call can take a while at full size). Second: quit now —
  // every file in the job folder is written atomically, so nothing finished is lost.
  const onSigint = () => {
    if (ac.signal.aborted) {
      stderr.write(`\n${INTERRUPTED}\n`);
      process.exit(EXIT_INTERRUPTED);
    }
    ac.abort();
    if (reporter?.kind !== 'tui') stderr.write('Stopping at the next safe point… (Ctrl-C again to quit at once)\n');
  };
  process.on('SIGINT', onSigint);
  try {
    // CI logs and CNEXT_NO_TUI=1 get plain lines even on a pseudo-terminal.
    const tty = Boolean(stdout.isTTY) && !process.env.CI;
    reporter = await pickReporter({ json: p.json, tty, stdout, onCancel: () => ac.abort(), resumeCommand, tui: deps.tui ?? !process.env.CNEXT_NO_TUI });
    const { runJob } = await import('../job/run.ts'); // onnxruntime and the networks load only for a run
    const result = await runJob(p.job, { ...deps.run, emit: reporter.emit, signal: ac.signal });
    return result;
  } catch (e) {
    if (e instanceof CancelledError || ac.signal.aborted) {
      await reporter?.close();
      reporter = undefined;
      stderr.write(`${INTERRUPTED}\n`);
      process.exitCode = EXIT_INTERRUPTED;
      return null;
    }
    throw e;
  } finally {
    process.removeListener('SIGINT', onSigint);
    await reporter?.close();
  }
}

/** The generation flags shared by `cnext run` and `cnext batch` (values are checked by the `options` schema). */
export function addGenerationOptions(command: Command): Command {
  const D = DEFAULT_OPTIONS; // the dance-portrait preset's values, shown in --help
  return command
    .option('--preset <name>', 'named settings (`cnext presets`); flags given override them (default dance-portrait)')
    .option('--models <dir>', 'models folder (default: $CNEXT_CACHE/models or ~/.cache/controlnext-motion/models)')
    .option('--size <WxH>', `output size, multiples of 64 (default ${D.width}x${D.height})`)
    .option('--stride <n>', `use every n-th driving frame (default ${D.stride})`)
    .option('--max-frames <n>', `at most n driving frames (default ${D.maxFrames})`)
    .option('--steps <n>', `denoising steps (default ${D.steps})`)
    .option('--seed <n>', `random seed (default ${D.seed})`)
    .option('--guidance-min <x>', `guidance at the first frame of a window (default ${D.minGuidance})`)
    .option('--guidance-max <x>', `guidance at the last frame of a window (default ${D.maxGuidance})`)
    .option('--frames-per-batch <n>', `frames per sliding window (default ${D.framesPerBatch})`)
    .option('--overlap <n>', `frames shared by neighbouring windows (default ${D.overlap})`)
    .option('--control-strength <x>', `pose control strength (default ${D.controlStrength})`)
    .option('--decode-chunk <n>', `frames per VAE decode chunk (default ${D.decodeChunk})`)
    .option('--fit <mode>', `fit the photo to the size: cover (crop) or pad (default ${D.fit})`)
    .option('--device <name>', `cpu or cuda (default ${D.device})`)
    .option('--low-memory', 'keep fp16 weights fp16 and memory-mapped (about half the RAM, slower)');
}

export function register(program: Command, deps: RunCliDeps = {}): void {
  const command = program
    .command('run')
    .description('make the person in --ref perform the motion of --video (resumes when run again)')
    .requiredOption('--ref <image>', 'reference photo of the person')
    .requiredOption('--video <video>', 'driving video')
    .requiredOption('--out <file.mp4>', 'result video');
  addGenerationOptions(command)
    .option('--side-by-side <file.mp4>', 'also write driving | pose | result side by side')
    .option('--pose-video <file.mp4>', 'also write the aligned pose maps as a video')
    .option('--job-dir <dir>', 'job folder (default: .<out name>.cnext-job next to --out)')
    .option('--json', 'NDJSON events on stdout, one per line')
    .action(async (raw: Record<string, unknown>) => {
      const parsed = parseRunOptions(raw);
      const resume = ['cnext', ...process.argv.slice(2)].join(' ');
      await runWithReporter(parsed, deps, resume);
    });
}
