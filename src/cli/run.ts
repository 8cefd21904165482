// `cnext run --ref IMAGE --video VIDEO --out FILE.mp4 [knobs…]`: one generation job. Knobs resolve as
// reference defaults ← --preset ← the flags actually given (src/presets/); the job folder makes a rerun of the same
// command resume (src/job/). Ctrl-C stops cleanly (exit 130) and the same command resumes.
import type { Command } from 'commander';
import { z } from 'zod';
import { CancelledError } from '../core/errors.ts';
import { invalidParameterError } from '../core/is.ts';
import { flagName, keysIn, knobHelp, KNOBS, parseKnobFlags, type KnobValues, type Scope } from '../job/knobs.ts';
import type { JobInput, JobResult, JobRunOptions } from '../job/run.ts';
import { pickReporter, type Reporter } from '../log/index.ts';
import { resolveValues, type PresetsContext } from '../presets/index.ts';

const file = z.string().min(1);

/** `cnext run`'s own flags (the knobs come from the knob table), keyed as commander names them. */
const RUN_FLAGS = {
  ref: { schema: file, expected: 'non-empty string' },
  video: { schema: file, expected: 'non-empty string' },
  out: { schema: z.string().regex(/\.mp4$/i), expected: 'file name ending in .mp4' },
  sideBySide: { schema: file.optional(), expected: 'non-empty string' },
  poseVideo: { schema: file.optional(), expected: 'non-empty string' },
  jobDir: { schema: file.optional(), expected: 'non-empty string' },
  json: { schema: z.boolean().optional(), expected: 'true or false' },
} as const;

export interface ParsedRun {
  readonly job: JobInput;
  readonly json: boolean;
}

/**
 * Checks commander's raw values against a command's own flags and the knob table (first problem → a parameter
 * error naming the flag); unknown keys are refused.
 */
export function checkFlags<F extends Record<string, { schema: z.ZodType; expected: string }>>(
  raw: Readonly<Record<string, unknown>>, own: F, scope: Extract<Scope, 'run' | 'batch'>,
): { own: { [K in keyof F]: z.output<F[K]['schema']> }; knobs: KnobValues } {
  const known = new Set<string>([...Object.keys(own), ...keysIn(scope)]);
  const unknown = Object.keys(raw).find((k) => raw[k] !== undefined && !known.has(k));
  if (unknown) throw invalidParameterError(flagName(unknown), 'a known flag', true);
  const out: Record<string, unknown> = {};
  for (const [k, f] of Object.entries(own)) {
    const r = f.schema.safeParse(raw[k]);
    if (!r.success) throw invalidParameterError(flagName(k), f.expected, raw[k]);
    out[k] = r.data;
  }
  return { own: out as { [K in keyof F]: z.output<F[K]['schema']> }, knobs: parseKnobFlags(raw, scope) };
}

/**
 * commander's raw options → a job: each flag checked (the knobs by the knob table), then merged with the preset;
 * cross-field checks (overlap < frames per batch, precision for the device) come from the merge.
 */
export function parseRunOptions(raw: Record<string, unknown>, ctx: PresetsContext = {}): ParsedRun {
  const { own: f, knobs } = checkFlags(raw, RUN_FLAGS, 'run');
  const { preset: presetName, models, ...flags } = knobs;
  const { preset, values } = resolveValues(presetName, flags, new Set(Object.keys(flags)), ctx);
  return {
    job: {
      ref: f.ref, video: f.video, out: f.out, options: values, preset,
      models, jobDir: f.jobDir, sideBySide: f.sideBySide, poseVideo: f.poseVideo,
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

/** The knob table's flags of `scope` (`cnext run`, `cnext batch`), with their defaults in the help. */
export function addKnobOptions(command: Command, scope: Extract<Scope, 'run' | 'batch'>): Command {
  for (const k of keysIn(scope)) {
    const arg = (KNOBS[k] as { arg?: string }).arg;
    command.option(`${flagName(k)}${arg ? ` ${arg}` : ''}`, knobHelp(k));
  }
  return command;
}

export function register(program: Command, deps: RunCliDeps = {}): void {
  const command = program
    .command('run')
    .description('make the person in --ref perform the motion of --video (resumes when run again)')
    .requiredOption('--ref <image>', 'reference photo of the person')
    .requiredOption('--video <video>', 'driving video')
    .requiredOption('--out <file.mp4>', 'result video');
  addKnobOptions(command, 'run')
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
