// `cnext queue status|retry|clean`: the small management tasks, on the farm's BullMQ queue.
import { Queue } from 'bullmq';
import { connect, probe, queueError, type QueueUrl } from './connection.ts';
import { QUEUE_NAME } from './payload.ts';
import type { FarmProgress } from './worker.ts';

export interface QueueStatus {
  readonly queue: string;
  readonly counts: Record<string, number>;
  /** Connected workers (client names). */
  readonly workers: number;
  readonly active: ReadonlyArray<{ id: string; name: string; worker?: string; stage?: string; done?: number; total?: number }>;
  readonly failed: ReadonlyArray<{ id: string; name: string; attempts: number; error: string }>;
}

async function withQueue<T>(q: QueueUrl, body: (queue: Queue) => Promise<T>): Promise<T> {
  await probe(q);
  const redis = connect(q);
  const queue = new Queue(QUEUE_NAME, { connection: redis });
  queue.on('error', () => {});
  try {
    return await body(queue);
  } catch (e) {
    throw queueError(e, q);
  } finally {
    await queue.close().catch(() => {});
    redis.disconnect();
  }
}

export function queueStatus(q: QueueUrl): Promise<QueueStatus> {
  return withQueue(q, async (queue) => {
    const counts = await queue.getJobCounts('waiting', 'active', 'delayed', 'completed', 'failed');
    const workers = (await queue.getWorkers()).length;
    const active = (await queue.getActive(0, 99)).map((j) => {
      const p = (typeof j.progress === 'object' ? j.progress : {}) as Partial<FarmProgress>;
      return { id: j.id!, name: j.name, worker: p.worker ?? j.processedBy, stage: p.stage, done: p.done, total: p.total };
    });
    const failed = (await queue.getFailed(0, 99)).map((j) => ({ id: j.id!, name: j.name, attempts: j.attemptsMade, error: j.failedReason ?? '' }));
    return { queue: q.redacted, counts, workers, active, failed };
  });
}

export function formatStatus(s: QueueStatus): string {
  const c = s.counts;
  const lines = [`queue ${s.queue}: ${c.waiting ?? 0} waiting, ${c.active ?? 0} active, ${c.delayed ?? 0} delayed (retry), ${c.completed ?? 0} completed, ${c.failed ?? 0} failed; ${s.workers} connections`];
  for (const a of s.active) lines.push(`  active  ${a.name}  ${a.worker ?? ''}  ${a.stage ?? ''} ${a.total ? `${a.done}/${a.total}` : ''}`.trimEnd());
  for (const f of s.failed) lines.push(`  failed  ${f.name}  (${f.attempts} tries)  ${f.error.split('\n')[0]}`);
  return `${lines.join('\n')}\n`;
}

/** Failed jobs back to waiting (their tries start again). Returns how many. */
export function retryFailed(q: QueueUrl): Promise<number> {
  return withQueue(q, async (queue) => {
    const n = await queue.getJobCountByTypes('failed');
    await queue.retryJobs({ state: 'failed' });
    return n;
  });
}

/** Removes finished jobs (completed and/or failed). Returns how many. */
export function cleanFinished(q: QueueUrl, states: ReadonlyArray<'completed' | 'failed'>): Promise<number> {
  return withQueue(q, async (queue) => {
    let n = 0;
    for (const s of states) n += (await queue.clean(0, 100_000, s)).length;
    return n;
  });
}
