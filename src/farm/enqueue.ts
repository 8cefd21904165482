// `cnext batch DIR --out OUTDIR --queue URL`: the batch's items as farm jobs. Planning is the local batch's own
// (src/batch/plan.ts: discovery, pairing, manifest, presets, output names), and so are the item key
// (src/batch/key.ts, with the models' identity key), skip-done and ownership (src/batch/runner.ts itemVerdict
// against OUTDIR/report.json). Job ids come from the item key and the output, so enqueueing the same batch again
// adds nothing: a job still in the queue is followed, a failed one is retried, a finished one whose output is
// gone is run again. Then the follower (follow.ts) shows the jobs until all are done, and writes report.json.
import fs from 'node:fs';
import path from 'node:path';
import type { Queue } from 'bullmq';
import { CnextError, isCnextError } from '../core/errors.ts';
import { RunHasher } from '../diffusion/checkpoint.ts';
import { itemKey } from '../batch/key.ts';
import type { BatchItem } from '../batch/plan.ts';
import { readReport, REPORT_FILE } from '../batch/report.ts';
import { checkInputs, itemVerdict, type RunnableItem } from '../batch/runner.ts';
import { identityKey, modelIdentity } from './identity.ts';
import { jobIdFor, type FarmJob, type ModelFileId } from './payload.ts';

export interface EnqueueOptions {
  readonly outDir: string;
  /** Models root of this machine (the identity every job carries). */
  readonly models?: string;
  /** Tries per job (default 3), and the first retry's delay (doubling after). */
  readonly attempts?: number;
  readonly backoffMs?: number;
}

/** One item after enqueueing: a job to follow, or a verdict reached here. */
export type Enqueued =
  | { readonly item: BatchItem; readonly key: string; readonly jobId: string; readonly how: 'added' | 'in-queue' | 'retried' | 'rerun' }
  | { readonly item: BatchItem; readonly key?: string; readonly status: 'skipped' | 'failed'; readonly error?: string };

export const isJob = (e: Enqueued): e is Extract<Enqueued, { jobId: string }> => 'jobId' in e;

/** This machine's model identity (names, sizes, sha256 where known), as jobs carry it. */
export async function localIdentity(models?: string): Promise<ModelFileId[]> {
  const { loadModelComponents } = await import('../job/components.ts');
  const { modelsRoot } = await import('../../models/layout.ts');
  const root = modelsRoot({ models });
  return modelIdentity(root, loadModelComponents(root));
}

/** Job id: the item key plus the output (two items with the same inputs and options but other outputs are two jobs). */
export const farmJobId = (key: string, output: string) => jobIdFor(new RunHasher().text('key', key).text('output', path.resolve(output)).digest());

export async function enqueueItems(queue: Queue, items: readonly BatchItem[], o: EnqueueOptions): Promise<Enqueued[]> {
  const identity = await localIdentity(o.models);
  const modelsKey = identityKey(identity);
  const previous = readReport(path.join(path.resolve(o.outDir), REPORT_FILE));
  const prevByOutput = new Map((previous?.items ?? []).map((it) => [path.resolve(it.output), it]));
  const out: Enqueued[] = [];
  for (const it of items) {
    if (it.problem || !it.ref || !it.options) {
      out.push({ item: it, status: 'failed', error: (it.problem ?? new CnextError('BATCH_NO_REF', `No reference photo for ${it.name}`)).message });
      continue;
    }
    const r = it as RunnableItem;
    let key: string | undefined;
    try {
      checkInputs(r);
      key = await itemKey(r, modelsKey);
      const v = itemVerdict(r.output, key, prevByOutput.get(path.resolve(r.output)));
      if (v === 'skip') {
        out.push({ item: it, key, status: 'skipped' });
        continue;
      }
      if (v === 'foreign') throw new CnextError('OUTPUT_EXISTS', `${r.output} exists and was not written by cnext batch for this item; it is left alone`);
      const jobId = farmJobId(key, r.output);
      const data: FarmJob = {
        format: 'cnext-farm-job', version: 1, name: r.name, video: path.resolve(r.video), ref: path.resolve(r.ref), output: path.resolve(r.output),
        preset: r.preset, options: r.options, models: identity, key,
      };
      const existing = await queue.getJob(jobId);
      const state = existing ? await existing.getState() : undefined;
      let how: 'added' | 'in-queue' | 'retried' | 'rerun' = 'in-queue';
      if (existing && state === 'failed') {
        await existing.retry('failed');
        how = 'retried';
      } else if (existing && state === 'completed' && !fs.existsSync(r.output)) {
        // finished, but its output has gone since: run it again (the job folder makes that quick if it is intact)
        await existing.remove();
        how = 'rerun';
      }
      if (!existing || how === 'rerun') {
        await queue.add(r.name, data, {
          jobId, attempts: o.attempts ?? 3, backoff: { type: 'exponential', delay: o.backoffMs ?? 30_000 },
          removeOnComplete: false, removeOnFail: false,
        });
        if (!existing) how = 'added';
      }
      out.push({ item: it, key, jobId, how });
    } catch (e) {
      if (isCnextError(e) && /^QUEUE_/.test(e.code)) throw e;
      out.push({ item: it, ...(key ? { key } : {}), status: 'failed', error: e instanceof Error ? e.message : String(e) });
    }
  }
  return out;
}
