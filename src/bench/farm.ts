// `cnext bench farm`: farm throughput on this machine — items per hour with 1 and 2 `cnext worker` processes,
// on the tiny synthetic model, through a real redis-server (started here on a free loopback port, temporary
// folder, stopped afterwards). Each worker loads its networks before the clock starts; the clock runs from
// enqueueing to the last job done. On a 2-core machine two CPU workers share the cores (and ONNX Runtime's
// intra-op threads already use both), so the second worker mostly overlaps one job's serial parts (pose, ffmpeg,
// Redis) with the other's network calls: expect far from 2×. On GPUs each worker has its own device.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Writable } from 'node:stream';
import { synthesizeModels } from '../../models/synth.ts';
import { binaryPath } from '../../video/ffmpeg.ts';
import { CnextError } from '../core/errors.ts';
import type { BenchResult } from './isolate.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const CLI = path.join(ROOT, 'bin', 'cnext.js');
const ITEMS = 4;
const KNOBS = { preset: 'preview', size: '64x128', stride: '10', maxFrames: '2', steps: '2', framesPerBatch: '3', overlap: '1' };

const freePort = () =>
  new Promise<number>((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });

function waitForText(child: ChildProcess, stream: 'stdout' | 'stderr', text: string, ms: number): Promise<void> {
  return new Promise((resolve, reject) => {
    let seen = '';
    const t = setTimeout(() => reject(new CnextError('BENCH_FAILED', `timed out waiting for "${text}": ${seen.slice(-300)}`, { category: 'system' })), ms);
    child[stream]!.on('data', (d: Buffer) => {
      seen += d.toString();
      if (seen.includes(text)) {
        clearTimeout(t);
        resolve();
      }
    });
    child.once('exit', (code) => {
      clearTimeout(t);
      reject(new CnextError('BENCH_FAILED', `process exited (${code}) before "${text}": ${seen.slice(-300)}`, { category: 'system' }));
    });
  });
}

const stop = async (c: ChildProcess) => {
  if (c.exitCode !== null || c.signalCode !== null) return;
  const done = new Promise((r) => c.once('exit', r));
  c.kill('SIGTERM');
  await Promise.race([done, new Promise((r) => setTimeout(r, 30_000))]);
  if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
};

export async function benchFarm(): Promise<BenchResult> {
  const tmp = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'cnext-bench-farm-')));
  const port = await freePort();
  const url = `redis://127.0.0.1:${port}`;
  const redis = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--dir', tmp, '--save', '', '--appendonly', 'no'], { stdio: ['ignore', 'pipe', 'pipe'] });
  redis.on('error', () => {});
  const children: ChildProcess[] = [];
  try {
    await waitForText(redis, 'stdout', 'Ready to accept connections', 10_000).catch((e: unknown) => {
      throw new CnextError('BENCH_FAILED', `redis-server did not start (${(e as Error).message})`, { category: 'system', solutions: ['Install it: apt-get install redis-server'] });
    });
    synthesizeModels(path.join(tmp, 'models'), { preset: 'tiny', dtype: 'F32' }); // fp32 names: no registry sizes to meet
    fs.copyFileSync(path.join(ROOT, 'samples', 'ref.jpg'), path.join(tmp, 'me.jpg'));
    const { parseBatchOptions } = await import('../cli/batch.ts');
    const { runFarmBatch } = await import('../farm/batch.ts');
    // the load average says whether other processes shared the cores (then a second worker also wins a larger
    // share of the machine, which is not capacity)
    const out: BenchResult = {
      model: 'tiny (synthetic)', items: ITEMS, clip: `${KNOBS.maxFrames} frames ${KNOBS.size}, ${KNOBS.steps} steps`, cores: os.cpus().length,
      loadAvgBefore: Number(os.loadavg()[0]!.toFixed(1)),
    };
    for (const n of [1, 2]) {
      const clips = path.join(tmp, `clips${n}`);
      fs.mkdirSync(clips);
      for (let i = 0; i < ITEMS; i++) {
        const r = spawnSync(binaryPath('ffmpeg'), ['-v', 'error', '-ss', String(i * 0.5), '-i', path.join(ROOT, 'samples', 'dance.mp4'), '-t', '1', '-an', '-c:v', 'libx264', '-pix_fmt', 'yuv420p', path.join(clips, `c${i}.mp4`)]);
        if (r.status !== 0) throw new CnextError('BENCH_FAILED', `ffmpeg could not cut clip ${i}`, { category: 'third-party' });
      }
      const workers = Array.from({ length: n }, (_, k) =>
        spawn(process.execPath, [CLI, 'worker', '--queue', url, '--models', path.join(tmp, 'models'), '--allow-root', tmp, '--name', `bench${k + 1}`], { stdio: ['ignore', 'ignore', 'pipe'] }),
      );
      children.push(...workers);
      await Promise.all(workers.map((w) => waitForText(w, 'stderr', 'waiting for jobs', 180_000)));
      const flags = parseBatchOptions(clips, { out: path.join(tmp, `out${n}`), ref: path.join(tmp, 'me.jpg'), models: path.join(tmp, 'models'), json: true, ...KNOBS });
      const sink = new Writable({ write: (_c, _e, cb) => cb() }) as unknown as NodeJS.WriteStream;
      const t0 = performance.now();
      const report = await runFarmBatch(flags, { queue: url, detach: false }, { stdout: sink, stderr: sink, presets: { user: [] }, pollMs: 100 });
      const wall = (performance.now() - t0) / 1000;
      if (report?.summary.done !== ITEMS) throw new CnextError('BENCH_FAILED', `only ${report?.summary.done ?? 0} of ${ITEMS} items done`, { category: 'system' });
      out[`workers${n}_wallSec`] = Number(wall.toFixed(1));
      out[`workers${n}_itemsPerHour`] = Math.round((ITEMS / wall) * 3600);
      out[`workers${n}_meanJobSec`] = Number((report.items.reduce((s, it) => s + it.seconds, 0) / ITEMS).toFixed(1));
      await Promise.all(workers.map(stop));
    }
    out.loadAvgAfter = Number(os.loadavg()[0]!.toFixed(1));
    out.speedup2 = Number(((out.workers2_itemsPerHour as number) / (out.workers1_itemsPerHour as number)).toFixed(2));
    return out;
  } finally {
    await Promise.all(children.map(stop));
    await stop(redis);
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}
