// The render farm end to end, against a real redis-server (test/farm/redis.ts) and real `cnext worker` processes
// on the tiny synthetic model: four clips on two workers give the outputs of a local batch; a worker killed with
// -9 mid-job has its job resumed from the checkpoint by another; a Redis restart mid-batch loses nothing; hostile
// messages are rejected while the workers live on; a poison item fails after its tries; a wrong password is one
// line. "Identical" here means the same bytes: on one device with the same options, the worker's MP4 equals the
// local batch's byte for byte (the metadata names the options in the same order); the test also compares the
// decoded frames (ffmpeg framemd5), which is what stays equal if metadata ever differs (e.g. another --device).
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { synthesizeModels } from '../../models/synth.ts';
import { parseBatchOptions, runBatchCommand } from '../../src/cli/batch.ts';
import { cleanFinished, formatStatus, queueStatus, retryFailed } from '../../src/farm/admin.ts';
import { runFarmBatch } from '../../src/farm/batch.ts';
import { parseQueueUrl } from '../../src/farm/connection.ts';
import type { FarmEvent } from '../../src/farm/follow.ts';
import { QUEUE_NAME } from '../../src/farm/payload.ts';
import { binaryPath } from '../../video/ffmpeg.ts';
import { exited, startRedis, waitFor, type TestRedis } from './redis.ts';

const SAMPLES = path.resolve(import.meta.dirname, '..', '..', 'samples');
const CLI = path.resolve(import.meta.dirname, '..', '..', 'bin', 'cnext.js');
const PASSWORD = 's3cret-farm-pw';
const KNOBS = { preset: 'preview', size: '64x128', stride: '10', maxFrames: '2', steps: '2', framesPerBatch: '3', overlap: '1' };
const CLIPS = ['c0.mp4', 'c1.mp4', 'c2.mp4', 'c3.mp4'];

function stream() {
  const chunks: string[] = [];
  const w = new Writable({
    write(chunk, _enc, cb) {
      chunks.push(String(chunk));
      cb();
    },
  }) as unknown as NodeJS.WriteStream;
  return { w, text: () => chunks.join('') };
}

interface TestWorker {
  readonly name: string;
  readonly child: ChildProcess;
  log(): string;
}

let root: string;
let redis: TestRedis;
const workers: TestWorker[] = [];
const baseline = new Map<string, { bytes: Buffer; frames: string }>();

function framemd5(file: string): string {
  const r = spawnSync(binaryPath('ffmpeg'), ['-v', 'error', '-i', file, '-f', 'framemd5', '-'], { encoding: 'utf8', timeout: 30_000 });
  expect(r.status).toBe(0);
  return r.stdout.split('\n').filter((l) => l && !l.startsWith('#')).join('\n');
}

async function startWorker(name: string, env: Record<string, string> = {}): Promise<TestWorker> {
  const child = spawn(process.execPath, [
    CLI, 'worker', '--queue', redis.url, '--models', path.join(root, 'models'), '--allow-root', path.join(root, 'data'),
    '--name', name, '--lock-duration', '10', '--stalled-interval', '1',
  ], { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, ...env } });
  let log = '';
  child.stderr!.on('data', (d: Buffer) => (log += d.toString()));
  const w = { name, child, log: () => log };
  workers.push(w);
  await waitFor(() => log.includes('waiting for jobs') || child.exitCode !== null, 60_000, `worker ${name} to start`);
  expect(child.exitCode, log).toBeNull();
  return w;
}

async function stopWorker(w: TestWorker): Promise<void> {
  w.child.kill('SIGTERM');
  await exited(w.child, 60_000);
}

/** Copies some of the clips into a folder of their own (the same names, so the same outputs). */
function clipDir(name: string, clips: readonly string[]): string {
  const dir = path.join(root, 'data', name);
  fs.mkdirSync(dir, { recursive: true });
  for (const c of clips) fs.copyFileSync(path.join(root, 'data', 'clips', c), path.join(dir, c));
  return dir;
}

async function farmBatch(dir: string, out: string, o: { detach?: boolean; attempts?: number; signal?: AbortSignal } = {}) {
  const flags = parseBatchOptions(dir, { out, ref: path.join(root, 'data', 'me.jpg'), models: path.join(root, 'models'), json: true, ...KNOBS });
  const stdout = stream();
  const stderr = stream();
  const events: FarmEvent[] = [];
  const report = await runFarmBatch(flags, { queue: redis.url, detach: o.detach ?? false, attempts: o.attempts, backoffMs: 200 }, {
    stdout: stdout.w, stderr: stderr.w, presets: { user: [] }, pollMs: 100, signal: o.signal,
  });
  for (const l of stdout.text().split('\n')) if (l) events.push(JSON.parse(l) as FarmEvent);
  return { report, events, stdout: stdout.text(), stderr: stderr.text() };
}

function expectSameAsLocal(out: string, clips: readonly string[]): void {
  for (const c of clips) {
    const file = path.join(out, c);
    const b = baseline.get(c)!;
    expect(framemd5(file), `${c}: decoded frames`).toBe(b.frames);
    expect(fs.readFileSync(file).equals(b.bytes), `${c}: bytes`).toBe(true);
  }
}

const lastItem = (events: FarmEvent[], name: string) =>
  events.filter((e): e is Extract<FarmEvent, { type: 'farm-item' }> => e.type === 'farm-item' && e.name === name).at(-1)!;

beforeAll(async () => {
  root = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'cnext-farm-')));
  synthesizeModels(path.join(root, 'models'), { preset: 'tiny', dtype: 'F32' }); // F32: the fp16 file names would meet the registry's real sizes in preflight
  const clips = path.join(root, 'data', 'clips');
  fs.mkdirSync(clips, { recursive: true });
  fs.copyFileSync(path.join(SAMPLES, 'ref.jpg'), path.join(root, 'data', 'me.jpg'));
  // four different one-second clips cut from the sample
  CLIPS.forEach((c, i) => {
    const r = spawnSync(binaryPath('ffmpeg'), ['-v', 'error', '-ss', String(i * 0.6), '-i', path.join(SAMPLES, 'dance.mp4'), '-t', '1', '-an', '-c:v', 'libx264', '-pix_fmt', 'yuv420p', path.join(clips, c)], { timeout: 30_000 });
    expect(r.status).toBe(0);
  });
  redis = await startRedis(PASSWORD);
  // the reference: the same four clips through a local batch
  const flags = parseBatchOptions(clips, { out: path.join(root, 'data', 'local'), ref: path.join(root, 'data', 'me.jpg'), models: path.join(root, 'models'), json: true, ...KNOBS });
  const r = await runBatchCommand(flags, { stdout: stream().w, stderr: stream().w, presets: { user: [] }, prefetch: null });
  expect(r.summary.done).toBe(4);
  for (const c of CLIPS) {
    const f = path.join(root, 'data', 'local', c);
    baseline.set(c, { bytes: fs.readFileSync(f), frames: framemd5(f) });
  }
}, 300_000);

afterAll(async () => {
  if (process.env.CNEXT_FARM_TEST_LOGS) fs.writeFileSync(process.env.CNEXT_FARM_TEST_LOGS, workers.map((w) => `== ${w.name}\n${w.log()}`).join('\n'));
  for (const w of workers) if (w.child.exitCode === null && w.child.signalCode === null) w.child.kill('SIGKILL');
  await redis?.stop();
  if (root) fs.rmSync(root, { recursive: true, force: true });
});

describe('cnext worker + cnext batch --queue (real Redis, tiny model)', () => {
  it('two workers, four clips: the outputs of a local batch; enqueueing again adds nothing', async () => {
    const [w1, w2] = [await startWorker('w1'), await startWorker('w2')];
    try {
      await twoWorkersFourClips();
    } finally {
      await Promise.all([stopWorker(w1), stopWorker(w2)]);
    }
    for (const w of [w1, w2]) expect(w.log()).not.toContain(PASSWORD);
  }, 300_000);

  async function twoWorkersFourClips() {
    const out = path.join(root, 'data', 'farm');
    const r = await farmBatch(path.join(root, 'data', 'clips'), out);
    expect(r.report!.summary).toMatchObject({ done: 4, failed: 0 });
    expect(r.events[0]).toMatchObject({ type: 'farm-start', items: 4, jobs: 4, added: 4 });
    expectSameAsLocal(out, CLIPS);
    // progress went through the queue (its event stream keeps every update): stage, step, window, worker
    const events = new Redis(redis.url, { maxRetriesPerRequest: null });
    const stream = await events.xrange(`bull:${QUEUE_NAME}:events`, '-', '+');
    events.disconnect();
    const progress = stream
      .map(([, f]) => Object.fromEntries(Array.from({ length: f.length / 2 }, (_, i) => [f[2 * i], f[2 * i + 1]])) as Record<string, string>)
      .filter((e) => e.event === 'progress')
      .map((e) => JSON.parse(e.data!) as Record<string, unknown>);
    expect(progress).toContainEqual(expect.objectContaining({ stage: 'denoise', step: 2, steps: 2, window: 1, windows: 1, worker: expect.stringMatching(/^w[12]$/) }));
    expect(JSON.parse(fs.readFileSync(path.join(out, 'report.json'), 'utf8')).summary).toMatchObject({ done: 4 });

    const again = await farmBatch(path.join(root, 'data', 'clips'), out);
    expect(again.events[0]).toMatchObject({ type: 'farm-start', items: 4, jobs: 0, added: 0, skipped: 4 });
    // …and with report.json gone, the same job ids are found in the queue: still nothing new
    fs.rmSync(path.join(out, 'report.json'));
    const third = await farmBatch(path.join(root, 'data', 'clips'), out, { detach: true });
    expect(JSON.parse(third.stdout)).toMatchObject({ type: 'farm-start', jobs: 4, added: 0 });
    const conn = new Redis(redis.url, { maxRetriesPerRequest: null });
    const counts = new Queue(QUEUE_NAME, { connection: conn });
    try {
      expect(await counts.getJobCounts('waiting', 'active', 'completed')).toEqual({ waiting: 0, active: 0, completed: 4 });
    } finally {
      await counts.close();
      conn.disconnect();
    }
  }

  it('a worker killed with -9 mid-job: its job returns and another worker resumes it from the checkpoint', async () => {
    const dir = clipDir('kill', ['c0.mp4']);
    const out = path.join(root, 'data', 'kill-out');
    // w3 stops itself (SIGSTOP) right after its first denoising checkpoint: a deterministic "mid-job"
    const w3 = await startWorker('w3', { CNEXT_FARM_TEST_FREEZE_AT_CHECKPOINT: '1' });
    const d = await farmBatch(dir, out, { detach: true });
    expect(d.events[0]).toMatchObject({ added: 1 });
    const stat = () => fs.readFileSync(`/proc/${w3.child.pid}/stat`, 'utf8').split(') ')[1]![0];
    await waitFor(() => stat() === 'T', 120_000, 'w3 to stop after its first checkpoint');
    const frozen = 'c0.mp4';
    expect(w3.log()).toMatch(/job \S+ \(c0\.mp4\) on w3/);
    expect(fs.existsSync(path.join(out, `.${frozen}.cnext-job`, 'denoise.safetensors'))).toBe(true);
    w3.child.kill('SIGKILL');
    await exited(w3.child, 10_000);
    const w4 = await startWorker('w4');
    const r = await farmBatch(dir, out);
    expect(r.report!.summary).toMatchObject({ done: 1, failed: 0 });
    expect(lastItem(r.events, frozen)).toMatchObject({ state: 'completed', result: { worker: 'w4', resumedAfterStep: 0 } });
    expect(w4.log()).toMatch(/stalled|on w4/);
    expectSameAsLocal(out, ['c0.mp4']);
  }, 300_000);

  it('hostile messages are rejected, reported, and the workers live on', async () => {
    const conn = new Redis(redis.url, { maxRetriesPerRequest: null });
    const queue = new Queue(QUEUE_NAME, { connection: conn });
    try {
      const good = JSON.parse(JSON.stringify((await queue.getCompleted(0, 0))[0]!.data)) as Record<string, unknown>;
      const a = await queue.add('garbage', { hello: 'world' }, { attempts: 3 });
      const b = await queue.add('escape', { ...good, output: '/tmp/cnext-farm-escape.mp4' }, { attempts: 3 });
      const c = await queue.add('escape2', { ...good, video: '/etc/passwd' }, { attempts: 3 });
      // planned with other model files: refused (and retried elsewhere, up to its tries), never rendered
      const models = good.models as Array<{ name: string; bytes: number }>;
      const other = { ...good, output: path.join(root, 'data', 'other-models.mp4'), models: [{ ...models[0]!, bytes: models[0]!.bytes + 1 }, ...models.slice(1)] };
      const m = await queue.add('other-models', other, { attempts: 1 });
      await waitFor(async () => (await m.getState()) === 'failed', 60_000, 'the job with other models to be refused');
      expect((await queue.getJob(m.id!))!.failedReason).toBe(
        `Refused job: this worker's model files differ from the job's (${models[0]!.name} is ${models[0]!.bytes} bytes here, ${models[0]!.bytes + 1} in the job)`,
      );
      expect(fs.existsSync(other.output)).toBe(false);
      for (const job of [a, b, c]) await waitFor(async () => (await job.getState()) === 'failed', 60_000, `job ${job.name} to fail`);
      const reasons = await Promise.all([a, b, c].map(async (j) => (await queue.getJob(j.id!))!));
      expect(reasons.map((j) => j.failedReason)).toEqual([
        'Rejected job: not a valid cnext-farm-job message (format: Invalid input: expected "cnext-farm-job")',
        "Rejected job: its output /tmp/cnext-farm-escape.mp4 is outside the worker's --allow-root folders",
        "Rejected job: its video /etc/passwd is outside the worker's --allow-root folders",
      ]);
      expect(reasons.map((j) => j.attemptsMade)).toEqual([1, 1, 1]); // no retries for a rejected message
      expect(fs.existsSync('/tmp/cnext-farm-escape.mp4')).toBe(false);
      const w4 = workers.find((w) => w.name === 'w4')!;
      expect([w4.child.exitCode, w4.child.signalCode]).toEqual([null, null]);
      expect(w4.log()).toContain("Rejected job: its video /etc/passwd is outside the worker's --allow-root folders");
      await queue.clean(0, 100, 'failed');
    } finally {
      await queue.close();
      conn.disconnect();
    }
  }, 120_000);

  it('Redis restarted mid-batch: workers and follower reconnect, every output arrives', async () => {
    await startWorker('w5');
    const dir = clipDir('restart', ['c2.mp4', 'c3.mp4']);
    const out = path.join(root, 'data', 'restart-out');
    const flags = parseBatchOptions(dir, { out, ref: path.join(root, 'data', 'me.jpg'), models: path.join(root, 'models'), json: true, ...KNOBS });
    const stdout = stream();
    const run = runFarmBatch(flags, { queue: redis.url, detach: false }, { stdout: stdout.w, stderr: stream().w, presets: { user: [] }, pollMs: 100 });
    await waitFor(() => stdout.text().includes('"state":"active"'), 120_000, 'a job to start');
    await redis.restart();
    const report = await Promise.race([run, new Promise<never>((_, rej) => setTimeout(() => rej(new Error('batch did not finish within 180 s')), 180_000))]);
    expect(report!.summary).toMatchObject({ done: 2, failed: 0 });
    expectSameAsLocal(out, ['c2.mp4', 'c3.mp4']);
    for (const w of workers) expect(w.log()).not.toContain(PASSWORD);
  }, 300_000);

  it('a poison item is retried with backoff, then reported failed with its error', async () => {
    const dir = path.join(root, 'data', 'poison');
    fs.mkdirSync(dir);
    fs.writeFileSync(path.join(dir, 'broken.mp4'), 'not a video');
    const r = await farmBatch(dir, path.join(root, 'data', 'poison-out'), { attempts: 2 });
    expect(process.exitCode).toBe(1);
    process.exitCode = undefined;
    expect(r.report!.items[0]).toMatchObject({ status: 'failed', error: expect.stringMatching(/broken\.mp4/) });
    expect(lastItem(r.events, 'broken.mp4')).toMatchObject({ state: 'failed', attempts: 2 });

    // cnext queue status | retry | clean
    const q = parseQueueUrl(redis.url);
    const st = await queueStatus(q);
    expect(st.queue).toBe(`redis://:***@127.0.0.1:${redis.port}`);
    expect(st.failed).toEqual([{ id: expect.any(String), name: 'broken.mp4', attempts: 2, error: expect.stringMatching(/broken\.mp4/) }]);
    expect(formatStatus(st)).toMatch(/failed  broken\.mp4  \(2 tries\)  Cannot read video/);
    expect(await retryFailed(q)).toBe(1);
    await waitFor(async () => (await queueStatus(q)).failed.length === 1, 60_000, 'the retried job to fail again');
    expect(await cleanFinished(q, ['failed'])).toBe(1);
    expect((await queueStatus(q)).counts).toMatchObject({ failed: 0, waiting: 0, active: 0 });
  }, 120_000);

  it('a wrong password is one clear line, without the password', () => {
    const url = redis.url.replace(PASSWORD, 'wrong-pw');
    for (const args of [['queue', 'status', '--queue', url], ['worker', '--queue', url, '--allow-root', root]]) {
      const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: 60_000 });
      expect(r.status).toBe(2);
      expect(r.stderr).toBe(`cnext: Cannot use the queue at redis://:***@127.0.0.1:${redis.port}: it refused the user name or password (check redis://user:PASSWORD@host:port)\n`);
    }
  }, 120_000);
});
