// `cnext batch DIR --ref IMAGE --out OUTDIR`: every video of DIR (mp4, mov, webm, mkv; --recursive) through
// `cnext run`'s job, one after another. References: a photo named like the video (clip.mp4 + clip.jpg), else
// --ref; or a --manifest (CSV/JSON rows video,ref,preset[,out]). Outputs mirror DIR's names under OUTDIR
// (clip.mov → OUTDIR/clip.mp4), written atomically; a file at an output path that this batch did not write is
// never overwritten (that item fails with OUTPUT_EXISTS). Items done with the same inputs and options are skipped;
// a failing item is reported and the batch goes on; Ctrl-C/q stops, and the same command resumes (done items
// skipped, the interrupted one resumed through its job folder). Ends with a summary and OUTDIR/report.json.
import path from 'node:path';
import type { Command } from 'commander';
import { z } from 'zod';
import { invalidParameterError } from '../core/is.ts';
import { CancelledError } from '../core/errors.ts';
import { frameSize } from '../job/options.ts';
import type { JobRunOptions } from '../job/run.ts';
import { pickReporter, type Reporter } from '../log/index.ts';
import type { PresetsContext } from '../presets/index.ts';
import { planBatch, type BatchItem, type BatchSelection } from '../batch/plan.ts';
import { formatSummary, type BatchReport } from '../batch/report.ts';
import { runBatch, type BatchDeps } from '../batch/runner.ts';
import { addQueueOptions, takeQueueOptions } from './queue.ts';
import { addKnobOptions, checkFlags, EXIT_INTERRUPTED, INTERRUPTED } from './run.ts';

const text = z.string().min(1);
/** `cnext batch`'s own flags (the knobs come from the knob table). */
const BATCH_FLAGS = {
  out: { schema: text, expected: 'output folder' },
  ref: { schema: text.optional(), expected: 'non-empty string' },
  recursive: { schema: z.boolean().optional(), expected: 'true or false' },
  manifest: { schema: text.optional(), expected: 'non-empty string' },
  prefetch: { schema: z.boolean().optional(), expected: 'true or false' },
  json: { schema: z.boolean().optional(), expected: 'true or false' },
} as const;

export interface BatchFlags extends BatchSelection {
  /** Extract the next item's poses while the current one generates (default true). */
  readonly prefetch: boolean;
}

/** commander's raw options → checked flags (the first problem → a parameter error naming the flag). */
export function parseBatchOptions(dir: string, raw: Record<string, unknown>): BatchFlags {
  const { own: f, knobs } = checkFlags(raw, BATCH_FLAGS, 'batch');
  if (path.extname(f.out).toLowerCase() === '.mp4') throw invalidParameterError('--out', 'output folder (not a .mp4 file)', f.out);
  const { preset, models, ...flags } = knobs;
  return {
    dir, out: f.out, ref: f.ref, recursive: f.recursive === true, manifest: f.manifest, preset, models, json: f.json ?? false,
    prefetch: f.prefetch !== false, flags,
  };
}

export interface BatchCliDeps {
  readonly stdout?: NodeJS.WriteStream;
  readonly stderr?: NodeJS.WriteStream;
  /** Forces the plain log on a TTY (false). */
  readonly tui?: boolean;
  readonly presets?: PresetsContext;
  /** Aborts the batch like Ctrl-C (tests). */
  readonly signal?: AbortSignal;
  /** Passed to every runJob (tests: components). */
  readonly run?: Omit<JobRunOptions, 'emit' | 'signal'>;
  /** Replaces runJob / the pose prefetch (tests). */
  readonly runItem?: BatchDeps['runItem'];
  readonly prefetch?: BatchDeps['prefetch'] | null;
  readonly modelsKey?: string;
}

/** Plans and runs the batch with a reporter; prints the summary and returns the report. */
export async function runBatchCommand(f: BatchFlags, deps: BatchCliDeps = {}, resumeCommand?: string): Promise<BatchReport> {
  const stdout = deps.stdout ?? process.stdout;
  const stderr = deps.stderr ?? process.stderr;
  const items: BatchItem[] = planBatch({
    dir: f.dir, outDir: f.out, ref: f.ref, recursive: f.recursive, manifest: f.manifest, preset: f.preset, flags: f.flags,
    given: new Set(Object.keys(f.flags)), presets: deps.presets,
  });
  const ac = new AbortController();
  const onSigint = () => ac.abort();
  deps.signal?.addEventListener('abort', onSigint, { once: true });
  if (deps.signal?.aborted) ac.abort();
  process.on('SIGINT', onSigint);
  let reporter: Reporter | undefined;
  try {
    let runItem = deps.runItem;
    let modelsKey = deps.modelsKey;
    if (!runItem) {
      const { runJob } = await import('../job/run.ts'); // onnxruntime and the networks load only for a run
      const { loadModelComponents } = await import('../job/components.ts');
      const { estimateJobBytes, preflight } = await import('../job/preflight.ts');
      const { modelsRoot } = await import('../../models/layout.ts');
      // Checked once, up front, before the reporter starts (a missing model or an unwritable --out would fail every
      // item): the models, the output folder, disk space for the largest item, the device. Their key joins the skip key.
      const root = modelsRoot({ models: f.models });
      const runnable = items.flatMap((it) => (it.options ? [it.options] : []));
      const device = runnable[0]?.device ?? 'cpu';
      const precision = runnable[0]?.precision;
      const loaded = deps.run?.components ? undefined : loadModelComponents(root, { device, precision });
      const components = deps.run?.components ?? loaded!;
      await preflight({
        weightFiles: loaded && [loaded.files.imageEncoder, loaded.files.vae, ...loaded.files.unet, loaded.files.controlnext],
        modelsRoot: root, device, precision, outputs: [path.join(f.out, 'report.json')], signal: ac.signal,
        bytes: Math.max(0, ...runnable.map((o) => estimateJobBytes({ ...frameSize(o), frames: Math.min(o.maxFrames, 1000), extraVideos: 0 }))),
      });
      modelsKey ??= components.key ?? '';
      runItem = (it, ctx) =>
        runJob({ ref: it.ref, video: it.video, out: it.output, options: it.options, preset: it.preset, models: f.models }, { ...deps.run, emit: ctx.emit, signal: ctx.signal });
    }
    reporter = await pickReporter({ json: f.json, tty: Boolean(stdout.isTTY), stdout, onCancel: onSigint, resumeCommand, tui: deps.tui });
    let prefetch: BatchDeps['prefetch'] | undefined;
    if (deps.prefetch !== null && f.prefetch) {
      const { prefetchPoses } = deps.prefetch ? { prefetchPoses: deps.prefetch } : await import('../batch/prefetch.ts');
      prefetch = (it, c) => prefetchPoses(it, c, { models: f.models }); // --models: where --pose-model finds DWPose
    }
    const report = await runBatch(items, { runItem, prefetch, modelsKey }, { outDir: f.out, emit: reporter.emit, signal: ac.signal });
    await reporter.close();
    reporter = undefined;
    (f.json ? stderr : stdout).write(`\n${formatSummary(report)}`);
    if (report.summary.cancelled) {
      stderr.write(`${INTERRUPTED}\n`);
      process.exitCode = EXIT_INTERRUPTED;
    } else if (report.summary.failed) {
      process.exitCode = 1;
    }
    return report;
  } catch (e) {
    if (e instanceof CancelledError) {
      stderr.write(`${INTERRUPTED}\n`);
      process.exitCode = EXIT_INTERRUPTED;
    }
    throw e;
  } finally {
    process.removeListener('SIGINT', onSigint);
    deps.signal?.removeEventListener('abort', onSigint);
    await reporter?.close();
  }
}

export function register(program: Command, deps: BatchCliDeps = {}): void {
  const command = program
    .command('batch')
    .description(
      'run every video of DIR (mp4, mov, webm, mkv) with a reference photo; skips what is done, resumes when run again, ' +
        'writes OUTDIR/report.json (exit status 1 when an item failed, 130 when interrupted)',
    )
    .argument('<dir>', 'folder of driving videos')
    .requiredOption('--out <dir>', 'output folder: OUTDIR/<name>.mp4 per video, mirroring DIR, and report.json')
    .option('--ref <image>', 'reference photo for every video without its own (clip.mp4 + clip.jpg pairs by name)')
    .option('--recursive', 'also the videos in subfolders')
    .option('--manifest <file>', 'CSV or JSON rows video,ref,preset[,out] instead of the folder listing');
  addKnobOptions(command, 'batch')
    .option('--no-prefetch', "don't extract the next video's poses while the current one generates (less memory)")
    .option('--json', 'NDJSON events on stdout, one per line (the summary goes to stderr)');
  addQueueOptions(command).action(async (dir: string, all: Record<string, unknown>) => {
      const { farm, rest: raw } = takeQueueOptions(all);
      if (farm) {
        const { runFarmBatch } = await import('../farm/batch.ts'); // the render farm: src/farm
        await runFarmBatch(parseBatchOptions(dir, raw), farm, { presets: deps.presets });
        return;
      }
      const f = parseBatchOptions(dir, raw);
      const resume = ['cnext', ...process.argv.slice(2)].join(' ');
      await runBatchCommand(f, deps, resume);
    });
}
