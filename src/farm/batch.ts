// `cnext batch … --queue URL [--detach]`: plan (src/batch/plan.ts), enqueue (enqueue.ts), follow (follow.ts) in
// the TUI, plain lines or NDJSON, then OUTDIR/report.json in the local batch's format (so a local rerun or another
// farm run skips what is done). Ctrl-C stops following only: the jobs go on in the farm.
import fs from 'node:fs';
import path from 'node:path';
import { Queue } from 'bullmq';
import { planBatch, type BatchSelection } from '../batch/plan.ts';
import { formatSummary, REPORT_FILE, summarize, writeReport, type BatchReport, type ReportItem } from '../batch/report.ts';
import type { PresetsContext } from '../presets/index.ts';
import { connect, parseQueueUrl, probe, queueError, redactText } from './connection.ts';
import { enqueueItems, isJob } from './enqueue.ts';
import { farmLine, followJobs, type FarmEvent, type FarmItemView } from './follow.ts';
import { QUEUE_NAME } from './payload.ts';

/** The batch's own flags, as a local batch takes them. */
export type FarmBatchFlags = BatchSelection;

export interface FarmFlags {
  readonly queue?: string;
  readonly detach: boolean;
  readonly attempts?: number;
  readonly backoffMs?: number;
}

export interface FarmBatchDeps {
  readonly stdout?: NodeJS.WriteStream;
  readonly stderr?: NodeJS.WriteStream;
  readonly presets?: PresetsContext;
  readonly signal?: AbortSignal;
  readonly tui?: boolean;
  readonly pollMs?: number;
}

export const STOPPED_FOLLOWING = 'Stopped following; the jobs go on in the farm. Run the same command again to follow them.';

export async function runFarmBatch(f: FarmBatchFlags, farm: FarmFlags, deps: FarmBatchDeps = {}): Promise<BatchReport | null> {
  const stdout = deps.stdout ?? process.stdout;
  const stderr = deps.stderr ?? process.stderr;
  const q = parseQueueUrl(farm.queue);
  const items = planBatch({
    dir: f.dir, outDir: f.out, ref: f.ref, recursive: f.recursive, manifest: f.manifest, preset: f.preset, flags: f.flags,
    given: new Set(Object.keys(f.flags)), presets: deps.presets,
  });
  await probe(q);
  const log = (line: string) => void stderr.write(`${line}\n`);
  const redis = connect(q, log);
  const queue = new Queue(QUEUE_NAME, { connection: redis });
  queue.on('error', () => {}); // connection trouble is logged once per outage by connect()
  const t0 = performance.now();
  const startedAt = new Date().toISOString();
  const ac = new AbortController();
  const stop = () => ac.abort();
  process.on('SIGINT', stop);
  deps.signal?.addEventListener('abort', stop, { once: true });
  let close = async () => {};
  try {
    const enq = await enqueueItems(queue, items, { outDir: f.out, models: f.models, attempts: farm.attempts, backoffMs: farm.backoffMs }).catch((e) => {
      throw queueError(e, q);
    });
    const jobs = enq.filter(isJob);
    const start: FarmEvent = {
      type: 'farm-start', queue: q.redacted, items: items.length, jobs: jobs.length, added: jobs.filter((j) => j.how === 'added').length,
      skipped: enq.filter((e) => !isJob(e) && e.status === 'skipped').length, failed: enq.filter((e) => !isJob(e) && e.status === 'failed').length,
    };
    if (farm.detach) {
      if (f.json) stdout.write(`${JSON.stringify(start)}\n`);
      else stdout.write(`${farmLine(start)}\nDetached: workers run the jobs; run the same command without --detach to follow them and write ${path.join(f.out, REPORT_FILE)}.\n`);
      return null;
    }
    let emit: (e: FarmEvent) => void;
    if (f.json) emit = (e) => void stdout.write(`${JSON.stringify(e)}\n`);
    else if (stdout.isTTY && deps.tui !== false && !process.env.CI) {
      const { startFarmTui } = await import('./FarmView.tsx');
      const tui = startFarmTui(stdout);
      emit = tui.emit;
      close = tui.stop;
    } else {
      emit = (e) => {
        const line = farmLine(e);
        if (line) stdout.write(`${line}\n`);
      };
    }
    emit(start);
    const initial: FarmItemView[] = enq.map((e) =>
      isJob(e)
        ? { index: e.item.index, name: e.item.name, state: 'waiting', jobId: e.jobId }
        : { index: e.item.index, name: e.item.name, state: e.status, ...(e.error ? { error: e.error } : {}) },
    );
    const views = await followJobs(queue, initial, { emit, signal: ac.signal, pollMs: deps.pollMs });
    const report = writeFarmReport(f.out, startedAt, (performance.now() - t0) / 1000, enq.map((e, i) => ({ e, v: views[i]! })));
    const s = report.summary;
    emit({ type: 'farm-end', done: s.done, skipped: s.skipped, failed: s.failed, seconds: report.seconds, report: path.join(report.outDir, REPORT_FILE) });
    await close();
    close = async () => {};
    (f.json ? stderr : stdout).write(`\n${formatSummary(report)}`);
    if (ac.signal.aborted) {
      stderr.write(`${STOPPED_FOLLOWING}\n`);
      process.exitCode = 130;
    } else if (s.failed) {
      process.exitCode = 1;
    }
    return report;
  } finally {
    process.removeListener('SIGINT', stop);
    deps.signal?.removeEventListener('abort', stop);
    await close();
    await queue.close().catch((e: unknown) => log(redactText(String(e), q)));
    redis.disconnect(); // BullMQ leaves a connection it was given open
  }
}

/** report.json as a local batch writes it: done items carry their key and the output's size and mtime. */
function writeFarmReport(outDir: string, startedAt: string, seconds: number, rows: ReadonlyArray<{ e: Awaited<ReturnType<typeof enqueueItems>>[number]; v: FarmItemView }>): BatchReport {
  const items: ReportItem[] = rows.map(({ e, v }) => {
    const it = e.item;
    const base = { name: it.name, video: it.video, ref: it.ref, preset: it.preset, output: it.output, ...(e.key ? { key: e.key } : {}) };
    const st = v.state === 'completed' || v.state === 'skipped' ? statOf(it.output) : null;
    const status = v.state === 'completed' ? (st ? 'done' : 'failed') : v.state === 'skipped' ? 'skipped' : v.state === 'failed' ? 'failed' : 'pending';
    const error = v.state === 'completed' && !st ? `${it.output} is missing after the job finished (is the storage shared?)` : v.error;
    return {
      ...base, status, seconds: v.result?.seconds ?? 0, ...(status === 'failed' && error ? { error } : {}),
      ...(st ? { bytes: st.size, mtimeMs: st.mtimeMs } : {}),
    };
  });
  const report: BatchReport = {
    format: 'cnext-batch-report', version: 1, outDir: path.resolve(outDir), startedAt, finishedAt: new Date().toISOString(),
    seconds, summary: summarize(items), items,
  };
  writeReport(path.join(path.resolve(outDir), REPORT_FILE), report);
  return report;
}

function statOf(f: string): fs.Stats | null {
  try {
    const s = fs.statSync(f);
    return s.isFile() ? s : null;
  } catch {
    return null;
  }
}
