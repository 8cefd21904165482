// runBatch: the items one after another, each through `runItem` (runJob), with
//   - skip-done: an item whose key and recorded output match report.json is skipped;
//   - ownership: an existing output is replaced only when it is ours (report.json or its job folder says so);
//     any other file at that path fails the item (OUTPUT_EXISTS) and is left alone;
//   - failures: reported, the batch goes on; cancellation (signal) stops it, the item is `cancelled`, the rest
//     `pending`; rerunning skips what is done and resumes the interrupted item through its job folder;
//   - prefetch: while item i generates, item i+1's poses are extracted (`prefetch`, into its job folder).
import fs from 'node:fs';
import { CancelledError, CnextError, isCnextError } from '../core/errors.ts';
import type { EmitFn, JobEvent } from '../core/events.ts';
import { defaultJobDir, readJobRecord } from '../job/folder.ts';
import type { JobOptions } from '../job/options.ts';
import type { BatchEvent, ItemStatus } from './events.ts';
import { itemKey } from './key.ts';
import type { BatchItem } from './plan.ts';
import { readReport, REPORT_FILE, summarize, writeReport, type BatchReport, type ReportItem } from './report.ts';
import path from 'node:path';

/** An item that can run: it has a reference photo and resolved options. */
export type RunnableItem = BatchItem & { readonly ref: string; readonly options: JobOptions };

export interface ItemContext {
  readonly emit: EmitFn;
  readonly signal: AbortSignal;
}

export interface BatchDeps {
  /** Generates one item into item.output (atomically), resuming from its job folder. */
  runItem(item: RunnableItem, ctx: ItemContext): Promise<unknown>;
  /** Extracts the item's poses ahead of its turn (while another item generates). */
  prefetch?(item: RunnableItem, ctx: ItemContext): Promise<unknown>;
  /** Identifies the model files (part of the skip key). */
  readonly modelsKey?: string;
}

export interface BatchRunOptions {
  readonly outDir: string;
  readonly emit?: (e: JobEvent | BatchEvent) => void;
  readonly signal?: AbortSignal;
}

const stat = (f: string) => {
  try {
    const s = fs.statSync(f);
    return s.isFile() ? { bytes: s.size, mtimeMs: s.mtimeMs } : null;
  } catch {
    return null;
  }
};

/** Whether `output` was written by us: recorded in the last report or in its job folder, size and mtime equal. */
export function ours(output: string, prev: ReportItem | undefined): boolean {
  const st = stat(output);
  if (!st) return false;
  if (prev?.bytes === st.bytes && prev.mtimeMs === st.mtimeMs) return true;
  const rec = readJobRecord(defaultJobDir(output))?.stages.output;
  return rec?.path === path.resolve(output) && rec.bytes === st.bytes && rec.mtimeMs === st.mtimeMs;
}

/** 'skip' when done with the same key (previous report); 'foreign' when another file sits at the output; else 'run'. */
export function itemVerdict(output: string, key: string, prev: ReportItem | undefined): 'skip' | 'run' | 'foreign' {
  const st = stat(output);
  if (!st) return fs.existsSync(output) ? 'foreign' : 'run';
  if (prev && prev.key === key && (prev.status === 'done' || prev.status === 'skipped') && prev.bytes === st.bytes && prev.mtimeMs === st.mtimeMs) return 'skip';
  return ours(output, prev) ? 'run' : 'foreign';
}

export function checkInputs(item: RunnableItem): void {
  for (const [what, f] of [['video', item.video], ['reference photo', item.ref]] as const) {
    if (!stat(f)) throw new CnextError('INPUT_NOT_FOUND', `The ${what} ${f} does not exist`);
  }
}

export async function runBatch(items: readonly BatchItem[], deps: BatchDeps, o: BatchRunOptions): Promise<BatchReport> {
  const emit = o.emit ?? (() => {});
  const signal = o.signal ?? new AbortController().signal;
  const reportFile = path.join(path.resolve(o.outDir), REPORT_FILE);
  const previous = readReport(reportFile);
  const prevByOutput = new Map((previous?.items ?? []).map((it) => [path.resolve(it.output), it]));
  const t0 = performance.now();
  const startedAt = new Date().toISOString();
  const n = items.length;
  const report: ReportItem[] = items.map((it) => ({
    name: it.name, video: it.video, ref: it.ref, preset: it.preset, output: it.output, status: 'pending', seconds: 0,
  }));
  const save = (finished: boolean) =>
    writeReport(reportFile, {
      format: 'cnext-batch-report', version: 1, outDir: path.resolve(o.outDir), startedAt,
      ...(finished ? { finishedAt: new Date().toISOString() } : {}),
      seconds: (performance.now() - t0) / 1000, summary: summarize(report), items: report,
    });

  // Keys are computed once per item, on first need (hashing reads the files).
  const keys = new Map<number, Promise<string>>();
  const keyOf = (it: RunnableItem) => {
    let k = keys.get(it.index);
    if (!k) {
      k = Promise.resolve().then(() => {
        checkInputs(it);
        return itemKey(it, deps.modelsKey ?? '', signal);
      });
      k.catch(() => {}); // awaited (and reported) when the item's turn comes
      keys.set(it.index, k);
    }
    return k;
  };
  const runnable = (it: BatchItem): it is RunnableItem => !it.problem && it.ref !== undefined && it.options !== undefined;
  const verdict = async (it: RunnableItem) => itemVerdict(it.output, await keyOf(it), prevByOutput.get(path.resolve(it.output)));

  // Prefetch: started for item i+1 when item i starts generating; awaited before item i+1 runs.
  const prefetches = new Map<number, Promise<void>>();
  const startPrefetch = (from: number) => {
    if (!deps.prefetch) return;
    const next = items[from];
    if (!next || !runnable(next) || prefetches.has(next.index)) return;
    const p = verdict(next).then(async (v) => {
      if (v !== 'run' || signal.aborted) return;
      emit({ type: 'log', level: 'info', message: `extracting the poses of ${next.name} in the background` });
      // its stage events would mix with the running item's: only its warnings are passed on, named
      const warn: EmitFn = (e) => {
        if (e.type === 'log' && e.level === 'warn') emit({ ...e, message: `${next.name}: ${e.message}` });
      };
      await deps.prefetch!(next, { emit: warn, signal });
    });
    prefetches.set(next.index, p.catch(() => {})); // a failed prefetch is redone (and reported) by the item itself
  };

  emit({ type: 'batch-start', items: n, outDir: path.resolve(o.outDir) });
  save(false);
  let stopped = false;
  for (const it of items) {
    if (stopped) break;
    const t1 = performance.now();
    const secs = () => (performance.now() - t1) / 1000;
    emit({ type: 'item-start', index: it.index, items: n, name: it.name, video: it.video, ref: it.ref ?? '', preset: it.preset, output: it.output });
    let status: Exclude<ItemStatus, 'pending'>;
    let error: string | undefined;
    let key: string | undefined;
    try {
      if (signal.aborted) throw new CancelledError();
      if (!runnable(it)) throw it.problem ?? new CnextError('BATCH_NO_REF', `No reference photo for ${it.name}`);
      key = await keyOf(it);
      const v = await verdict(it);
      if (v === 'foreign') {
        throw new CnextError('OUTPUT_EXISTS', `${it.output} exists and was not written by cnext batch for this item; it is left alone`, {
          solutions: ['move or delete that file, or choose another --out folder', 'or give this item another output name in a --manifest (column out)'],
        });
      }
      if (v === 'skip') {
        status = 'skipped';
      } else {
        await prefetches.get(it.index);
        startPrefetch(it.index + 1);
        await deps.runItem(it, { emit: emit as EmitFn, signal });
        if (!stat(it.output)) throw new CnextError('INTERNAL', `${it.output} was not written`, { category: 'system' });
        status = 'done';
      }
    } catch (e) {
      if (e instanceof CancelledError || signal.aborted) {
        status = 'cancelled';
        stopped = true;
      } else {
        status = 'failed';
        error = isCnextError(e) ? e.message : e instanceof Error ? e.message : String(e);
      }
    }
    const st = status === 'done' || status === 'skipped' ? stat(it.output) : null;
    report[it.index] = {
      ...report[it.index]!, status, seconds: secs(),
      ...(error ? { error } : {}), ...(key ? { key } : {}), ...(st ? { bytes: st.bytes, mtimeMs: st.mtimeMs } : {}),
    };
    emit({ type: 'item-end', index: it.index, items: n, name: it.name, status, seconds: secs(), output: it.output, ...(error ? { error } : {}) });
    save(false);
  }
  await Promise.all(prefetches.values());
  const summary = summarize(report);
  save(true);
  const final = readReport(reportFile)!;
  emit({
    type: 'batch-end', done: summary.done, skipped: summary.skipped, failed: summary.failed, cancelled: summary.cancelled,
    report: reportFile, seconds: (performance.now() - t0) / 1000,
  });
  return final;
}
