// `cnext worker`: takes farm jobs from the queue one at a time (concurrency 1: one process per GPU) and runs each
// with the job pipeline (src/job/run.ts), in the job folder next to its output, so a job that another worker
// started resumes from its last denoising checkpoint.
//
// Per job: parse the message (schema) → map and confine its paths → compare its model identity with ours →
// ownership of an existing output → runJob with the networks this worker keeps loaded → progress (stage, step,
// window, ETA) through job.updateProgress → the result (output size/mtime, latents hash, resumed step).
// A message that fails a check is rejected for good (UnrecoverableError: no retry, the worker goes on); a model
// mismatch is retried (another worker may hold the right files); any other failure is retried with backoff.
//
// Locks and stalls. BullMQ holds a job by a lock that the worker renews every lockDuration/2 from a timer on the
// event loop. onnxruntime-node runs each network call synchronously on that loop (backend.js: setImmediate, then
// a blocking run), so during one UNet call no renewal can happen: the lock must outlast the longest single
// network call, not the job. Graph building and session creation block the loop too, so the worker does them
// once, before it takes its first job. A lock that expires while the job still runs would hand
// the job to a second worker. Hence the default lockDuration of 10 min (`--lock-duration`), far above one call
// at the reference size on a GPU; a killed worker's job returns after at most lockDuration + stalledInterval and
// resumes elsewhere from its checkpoint. maxStalledCount 3 lets a job survive a few preemptions before it fails.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import process from 'node:process';
import { UnrecoverableError, Worker, type Job } from 'bullmq';
import { CnextError, isCnextError } from '../core/errors.ts';
import type { JobEvent } from '../core/events.ts';
import { checkDevicePrecision, resolvePrecision, type Device, type Precision } from '../core/device.ts';
import { defaultJobDir } from '../job/folder.ts';
import { DEFAULT_OPTIONS, type JobOptions } from '../job/options.ts';
import { ours } from '../batch/runner.ts';
import { connect, probe, redactText, type QueueUrl } from './connection.ts';
import { compareIdentity, identityKey, modelIdentity } from './identity.ts';
import { keepLoaded, type KeptComponents } from './keep-loaded.ts';
import { parseFarmJob, QUEUE_NAME, type FarmJob, type ModelFileId } from './payload.ts';
import { confine, mapPath, resolveRoots, type PathMap } from './paths.ts';
import { sha256File } from '../../models/cache.ts';

export interface WorkerConfig {
  readonly queue: QueueUrl;
  /** Models root (`--models`); default models/layout.ts modelsRoot(). */
  readonly models?: string;
  readonly device: Device;
  readonly lowMemory: boolean;
  /** Folders jobs may read and write (`--allow-root`, realpath'd at start). */
  readonly roots: readonly string[];
  readonly pathMaps: readonly PathMap[];
  readonly concurrency?: number;
  readonly lockDurationMs?: number;
  readonly stalledIntervalMs?: number;
  readonly maxStalledCount?: number;
  /** Shown on jobs and by the follower (default host:pid, plus the GPU). */
  readonly name?: string;
  readonly log: (line: string) => void;
}

export const DEFAULT_LOCK_MS = 10 * 60_000;

/** What a job's progress holds (job.updateProgress), as the follower reads it. */
export interface FarmProgress {
  readonly worker: string;
  readonly stage: string;
  readonly done: number;
  readonly total: number;
  readonly unit?: string;
  readonly step?: number;
  readonly steps?: number;
  readonly window?: number;
  readonly windows?: number;
  /** Seconds left in the denoising stage (the bulk of a job), from its pace so far. */
  readonly etaSeconds?: number;
}

/** A job's return value. */
export interface FarmResult {
  readonly worker: string;
  readonly output: string;
  readonly bytes: number;
  readonly mtimeMs: number;
  readonly frames: number;
  readonly latentsSha256: string;
  /** The last denoising step found in the job folder's checkpoint when this worker started, else null. */
  readonly resumedAfterStep: number | null;
  readonly seconds: number;
}

export interface RunningWorker {
  readonly name: string;
  readonly worker: Worker;
  readonly nets: { readonly precision: Precision; readonly components: KeptComponents };
  /** Stops taking jobs; waits for the running one unless `force`. */
  close(force?: boolean): Promise<void>;
}

/** Test hook: stop this process (SIGSTOP) right after it wrote its N-th denoising checkpoint of a job. */
const FREEZE_AT = Number(process.env.CNEXT_FARM_TEST_FREEZE_AT_CHECKPOINT ?? 0);

export async function startWorker(c: WorkerConfig): Promise<RunningWorker> {
  const name = c.name ?? `${os.hostname()}:${process.pid}`;
  const roots = resolveRoots(c.roots);
  await probe(c.queue);

  const { loadModelComponents } = await import('../job/components.ts');
  const { modelsRoot } = await import('../../models/layout.ts');
  const root = modelsRoot({ models: c.models });
  const precision = resolvePrecision(c.device);
  const loaded = loadModelComponents(root, { device: c.device, precision, lowMemory: c.lowMemory });
  // the checks `cnext run` makes before expensive work (weight files parse, sizes and sha256 where known, the
  // device), once, before any job; each job's runJob then checks its own output folders and disk space
  const { preflight } = await import('../job/preflight.ts');
  await preflight({
    weightFiles: [loaded.files.imageEncoder, loaded.files.vae, ...loaded.files.unet, loaded.files.controlnext],
    modelsRoot: root, device: c.device, outputs: [], bytes: 0, log: (m) => c.log(`worker ${name}: ${m}`),
  });
  const identity = await modelIdentity(root, loaded);
  const key = identityKey(identity);
  // Networks are kept while jobs use the same settings (device and memory mode are the worker's; the precision
  // is the job's): a job with another precision rebuilds them, and they stay for the jobs after it.
  const nets = {
    precision,
    components: keepLoaded(loaded, key),
    async for(p: Precision): Promise<KeptComponents> {
      if (p !== this.precision) {
        checkDevicePrecision(c.device, p);
        await this.components.dispose();
        c.log(`worker ${name}: rebuilding the networks for precision ${p}`);
        this.components = keepLoaded(loadModelComponents(root, { device: c.device, precision: p, lowMemory: c.lowMemory }), key);
        this.precision = p;
        await warm(this.components);
      }
      return this.components;
    },
  };
  // Build every network before taking a job: graph building and session creation block the event loop (they are
  // synchronous), and doing them inside a job would hold up lock renewal for that long.
  const tLoad = performance.now();
  await warm(nets.components);
  c.log(`worker ${name}: networks loaded in ${((performance.now() - tLoad) / 1000).toFixed(1)} s (kept for every job)`);
  const hashed = new Map<string, Promise<string>>();
  const hashLocal = (n: string) => {
    let h = hashed.get(n);
    if (!h) hashed.set(n, (h = sha256File(path.join(root, n))));
    return h;
  };
  c.log(`worker ${name}: models ${root} (${identity.length} files), ${c.device}${c.lowMemory ? ', low memory' : ''}; jobs may use ${roots.join(', ')}`);

  const processor = (job: Job) => processJob(job, { c, name, roots, identity, nets, hashLocal });
  const redis = connect(c.queue, c.log);
  const worker = new Worker(QUEUE_NAME, processor, {
    connection: redis,
    name,
    concurrency: c.concurrency ?? 1,
    lockDuration: c.lockDurationMs ?? DEFAULT_LOCK_MS,
    stalledInterval: c.stalledIntervalMs ?? 30_000,
    maxStalledCount: c.maxStalledCount ?? 3,
    autorun: true,
  });
  // Without a listener an 'error' event would throw; connection errors are already reported once per outage.
  worker.on('error', (e) => {
    if (!/ECONNREFUSED|Connection is closed|ECONNRESET|LOADING/.test(e.message)) c.log(`worker: ${redactText(e.message, c.queue)}`);
  });
  worker.on('failed', (job, e) => job && c.log(`job ${printable(job.id)} (${nameOf(job)}) failed: ${redactText(e.message, c.queue)}`));
  worker.on('completed', (job) => c.log(`job ${printable(job.id)} (${nameOf(job)}) done`));
  worker.on('stalled', (id) => c.log(`job ${printable(id)} stalled (its worker stopped renewing the lock); back in the queue`));
  return {
    name, worker, nets,
    async close(force = false) {
      await worker.close(force);
      redis.disconnect();
      await nets.components.dispose();
    },
  };
}

async function warm(k: KeptComponents): Promise<void> {
  for (const net of [k.imageEncoder, k.vae, k.unet, k.controlnext]) await net();
}

/** Text from a message, safe for a log line (no control characters, bounded). */
const printable = (v: unknown) => String(v).slice(0, 200).replace(/[\u0000-\u001f\u007f]/g, '?');
const nameOf = (job: Job) => {
  const n = (job.data as { name?: unknown } | undefined)?.name;
  return typeof n === 'string' ? printable(n) : '?';
};

interface JobContext {
  readonly c: WorkerConfig;
  readonly name: string;
  readonly roots: readonly string[];
  readonly identity: readonly ModelFileId[];
  readonly nets: { for(p: Precision): Promise<KeptComponents> };
  readonly hashLocal: (name: string) => Promise<string>;
}

/** Checks rejecting a job for good become UnrecoverableError (BullMQ then fails it without retrying). */
function reject(e: unknown): never {
  throw new UnrecoverableError(isCnextError(e) ? e.message : e instanceof Error ? e.message : String(e));
}

async function processJob(job: Job, x: JobContext): Promise<FarmResult> {
  const { c } = x;
  let j: FarmJob;
  let files: { video: string; ref: string; output: string };
  try {
    j = parseFarmJob(job.data);
    const at = (p: string) => mapPath(p, c.pathMaps);
    files = { video: confine(at(j.video), x.roots, 'video'), ref: confine(at(j.ref), x.roots, 'reference photo'), output: confine(at(j.output), x.roots, 'output') };
    confine(defaultJobDir(files.output), x.roots, 'job folder');
    if (!ours(files.output, undefined) && pathExists(files.output)) {
      throw new CnextError('OUTPUT_EXISTS', `Rejected job: ${files.output} exists and was not written by cnext for this item; it is left alone`);
    }
  } catch (e) {
    reject(e); // logged by the 'failed' handler
  }
  const diffs = await compareIdentity(j.models, x.identity, x.hashLocal);
  if (diffs.length) {
    throw new CnextError('MODELS_DIFFER', `Refused job: this worker's model files differ from the job's (${diffs.slice(0, 3).join('; ')}${diffs.length > 3 ? '; …' : ''})`);
  }

  const { runJob } = await import('../job/run.ts');
  const t0 = performance.now();
  const progress = progressReporter(job, x.name);
  let checkpoints = 0;
  let resumedAfterStep: number | null = null;
  const emit = (e: JobEvent) => {
    progress.event(e);
    if (e.type === 'log' && e.message.startsWith('Resuming from')) resumedAfterStep = Number(/steps 1–(\d+)/.exec(e.message)?.[1] ?? 0) - 1;
    if (e.type === 'artifact' && e.kind === 'checkpoint' && ++checkpoints === FREEZE_AT) process.kill(process.pid, 'SIGSTOP');
  };
  c.log(`job ${printable(job.id)} (${printable(j.name)}) on ${x.name}: ${printable(files.output)}`);
  const r = await runJob(
    { ref: files.ref, video: files.video, out: files.output, options: canonical({ ...j.options, device: c.device, lowMemory: c.lowMemory }), preset: j.preset },
    // the queue's lock is the authority on who runs this job: a job.lock left by a worker on another host that
    // stalled or died (its pid means nothing here) is taken over
    { components: await x.nets.for(j.options.precision), emit, takeOverForeignLock: true },
  );
  await progress.flush();
  const st = statOf(r.output);
  return {
    worker: x.name, output: r.output, bytes: st.size, mtimeMs: st.mtimeMs, frames: r.frames, latentsSha256: r.latentsSha256,
    resumedAfterStep: r.reused.upToDate ? (r.reused.afterStep ?? null) : resumedAfterStep, seconds: (performance.now() - t0) / 1000,
  };
}

/** Options in the order a local run has them (the MP4's metadata lists them: same order, same bytes). */
const canonical = (o: JobOptions): JobOptions => Object.fromEntries(Object.keys(DEFAULT_OPTIONS).map((k) => [k, o[k as keyof JobOptions]])) as unknown as JobOptions;

const pathExists = (p: string) => fs.existsSync(p);
const statOf = (p: string) => fs.statSync(p);

/**
 * JobEvents → job.updateProgress, at most twice a second; a stage's start and its last progress are always sent.
 * Redis errors are ignored (progress is best effort; the job's result is not).
 */
function progressReporter(job: Job, worker: string) {
  let last = 0;
  let latest: FarmProgress | undefined;
  let inFlight: Promise<void> = Promise.resolve();
  let denoiseStart = 0;
  const send = () => {
    if (!latest) return;
    const p = latest;
    latest = undefined;
    last = performance.now();
    inFlight = inFlight.then(() => job.updateProgress(p as unknown as object).catch(() => {}));
  };
  return {
    event(e: JobEvent) {
      if (e.type === 'stage-start') {
        if (e.stage === 'denoise') denoiseStart = performance.now();
        latest = { worker, stage: e.stage, done: 0, total: e.total ?? 0 };
        send();
      } else if (e.type === 'stage-end') {
        send(); // a stage's last progress is always reported, however short the stage was
      } else if (e.type === 'progress') {
        const elapsed = (performance.now() - denoiseStart) / 1000;
        const eta = e.stage === 'denoise' && e.done > 0 ? (elapsed / e.done) * (e.total - e.done) : undefined;
        latest = {
          worker, stage: e.stage, done: e.done, total: e.total, ...(e.unit ? { unit: e.unit } : {}),
          ...(e.step !== undefined ? { step: e.step, steps: e.steps, window: e.window, windows: e.windows } : {}),
          ...(eta !== undefined ? { etaSeconds: Math.round(eta) } : {}),
        };
        if (performance.now() - last > 500) send();
      }
    },
    async flush() {
      send();
      await inFlight;
    },
  };
}
