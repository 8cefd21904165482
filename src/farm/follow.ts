// The follower: the jobs of one batch, polled from the queue (each job's state, progress, worker, error) until
// all are finished, as FarmEvents for the TUI, the plain log or NDJSON. Polling job hashes (twice a second) rather
// than listening to QueueEvents keeps it exact after a Redis restart or a dropped connection: nothing can be
// missed, the next poll sees the current state. Polls that fail while Redis is away are simply retried.
import type { Job, Queue } from 'bullmq';
import type { FarmProgress, FarmResult } from './worker.ts';

export type FarmItemState = 'waiting' | 'active' | 'delayed' | 'completed' | 'failed' | 'skipped';

export interface FarmItemView {
  readonly index: number;
  readonly name: string;
  readonly state: FarmItemState;
  readonly jobId?: string;
  readonly worker?: string;
  readonly progress?: FarmProgress;
  /** Tries made so far (BullMQ attemptsMade). */
  readonly attempts?: number;
  readonly error?: string;
  readonly result?: FarmResult;
}

export type FarmEvent =
  | { type: 'farm-start'; queue: string; items: number; jobs: number; added: number; skipped: number; failed: number }
  | ({ type: 'farm-item' } & FarmItemView)
  | { type: 'farm-totals'; done: number; failed: number; skipped: number; active: number; waiting: number; etaSeconds?: number }
  | { type: 'farm-end'; done: number; skipped: number; failed: number; seconds: number; report?: string };

export interface FollowOptions {
  readonly emit: (e: FarmEvent) => void;
  readonly signal?: AbortSignal;
  readonly pollMs?: number;
}

const same = (a: FarmItemView, b: FarmItemView) => JSON.stringify(a) === JSON.stringify(b);

async function view(queue: Queue, base: FarmItemView): Promise<FarmItemView> {
  // State first, then the job: read the other way round, a job that fails for good between the two reads shows
  // its final state with the previous try's data (attemptsMade one short) — and a final view is never re-read.
  const s = await queue.getJobState(base.jobId!);
  const job: Job | undefined = await queue.getJob(base.jobId!);
  if (!job || s === 'unknown') return { ...base, state: 'failed', error: 'the job was removed from the queue' };
  const state: FarmItemState = s === 'completed' || s === 'failed' || s === 'active' || s === 'delayed' ? s : 'waiting';
  const progress = typeof job.progress === 'object' && job.progress && 'stage' in job.progress ? (job.progress as unknown as FarmProgress) : undefined;
  const result = state === 'completed' ? (job.returnvalue as FarmResult) : undefined;
  return {
    ...base, state, attempts: job.attemptsMade,
    ...(state === 'active' && progress ? { progress, worker: progress.worker } : {}),
    ...(state !== 'active' && job.processedBy ? { worker: result?.worker ?? job.processedBy } : {}),
    ...(job.failedReason && state !== 'completed' ? { error: job.failedReason } : {}),
    ...(result ? { result } : {}),
  };
}

/** Follows `items` (those with a jobId) until every job is completed or failed; returns the last views. */
export async function followJobs(queue: Queue, items: readonly FarmItemView[], o: FollowOptions): Promise<FarmItemView[]> {
  const views = [...items];
  for (const v of views) o.emit({ type: 'farm-item', ...v });
  const t0 = performance.now();
  let lastTotals = '';
  for (;;) {
    for (let i = 0; i < views.length; i++) {
      const v = views[i]!;
      if (!v.jobId || v.state === 'completed' || v.state === 'failed') continue;
      let next: FarmItemView;
      try {
        next = await view(queue, v);
      } catch {
        continue; // Redis away: the next poll tries again
      }
      if (!same(v, next)) o.emit({ type: 'farm-item', ...next });
      views[i] = next;
    }
    const count = (s: FarmItemState) => views.filter((v) => v.state === s).length;
    const done = count('completed');
    const active = count('active');
    const left = views.length - done - count('failed') - count('skipped');
    // ETA: the pace of this batch so far (finished jobs per second of following), over the jobs left
    const secs = (performance.now() - t0) / 1000;
    const totals = {
      type: 'farm-totals' as const, done, failed: count('failed'), skipped: count('skipped'), active, waiting: count('waiting') + count('delayed'),
      ...(done > 0 && left > 0 ? { etaSeconds: Math.round((secs / done) * left) } : {}),
    };
    const key = JSON.stringify({ ...totals, etaSeconds: undefined });
    if (key !== lastTotals) o.emit(totals);
    lastTotals = key;
    if (left === 0 || o.signal?.aborted) return views;
    await new Promise<void>((resolve) => {
      const wake = () => {
        clearTimeout(t);
        o.signal?.removeEventListener('abort', wake);
        resolve();
      };
      const t = setTimeout(wake, o.pollMs ?? 500);
      o.signal?.addEventListener('abort', wake, { once: true });
    });
  }
}

/** One line per event for logs (no TTY). */
export function farmLine(e: FarmEvent): string | undefined {
  switch (e.type) {
    case 'farm-start':
      return `queue ${e.queue}: ${e.items} items — ${e.added} added, ${e.jobs - e.added} already queued, ${e.skipped} skipped (done), ${e.failed} failed`;
    case 'farm-item': {
      const p = e.progress;
      const where = e.worker ? ` on ${e.worker}` : '';
      if (e.state === 'active' && p) {
        const step = p.step !== undefined ? ` step ${p.step}/${p.steps} window ${p.window}/${p.windows}` : ` ${p.done}/${p.total}`;
        return `${e.name}: ${p.stage}${step}${p.etaSeconds !== undefined ? ` (ETA ${p.etaSeconds}s)` : ''}${where}`;
      }
      if (e.state === 'completed') return `${e.name}: done${where}${e.result?.resumedAfterStep != null ? ` (resumed after step ${e.result.resumedAfterStep + 1})` : ''}`;
      if (e.state === 'failed') return `${e.name}: failed${e.attempts ? ` after ${e.attempts} tries` : ''}: ${e.error ?? ''}`;
      if (e.state === 'delayed') return `${e.name}: retrying later (try ${(e.attempts ?? 0) + 1})${e.error ? `: ${e.error}` : ''}`;
      return `${e.name}: ${e.state}${where}`;
    }
    case 'farm-totals':
      return undefined;
    case 'farm-end':
      return undefined;
  }
}
