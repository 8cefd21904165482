// `cnext worker --queue URL --allow-root DIR [--models DIR] [--device cuda --gpu N]`: one farm worker (one per
// GPU), taking jobs from the queue until stopped (src/farm/worker.ts). First Ctrl-C/SIGTERM: finish the current
// job, take no more; second: quit at once (the job returns to the queue and resumes elsewhere from its checkpoint).
import type { Command } from 'commander';
import { invalidParameterError } from '../core/is.ts';

const collect = (v: string, prev: string[] = []) => [...prev, v];

function positive(flag: string, v: unknown, min: number, max: number): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isFinite(n) || n < min || n > max) throw invalidParameterError(flag, `number between ${min} and ${max}`, v);
  return n;
}

export function register(program: Command): void {
  program
    .command('worker')
    .description('take render-farm jobs from the queue and run them (one worker per GPU); see `cnext batch --queue`')
    .option('--queue <url>', 'redis://[user:pass@]host:port[/db] or rediss:// (default $CNEXT_QUEUE)')
    .option('--allow-root <dir>', 'a folder jobs may read and write (repeatable; the shared storage)', collect)
    .option('--path-map <from=to>', 'rewrite a path prefix of the jobs for this machine, e.g. /mnt/a=/Volumes/a (repeatable)', collect)
    .option('--models <dir>', "this machine's models folder (default: $CNEXT_CACHE/models or ~/.cache/controlnext-motion/models)")
    .option('--device <name>', 'cpu or cuda (default cpu)')
    .option('--gpu <n>', 'with --device cuda: the GPU to use (sets CUDA_VISIBLE_DEVICES for this process)')
    .option('--low-memory', 'keep fp16 weights fp16 and memory-mapped (about half the RAM, slower)')
    .option('--concurrency <n>', 'jobs at once (default 1: a job fills a GPU)')
    .option('--lock-duration <s>', 'seconds a job stays locked without renewal; above the longest single network call (default 600)')
    .option('--stalled-interval <s>', 'seconds between checks for jobs of dead workers (default 30)')
    .option('--name <name>', 'shown on jobs and by the follower (default host:pid)')
    .action(async (o: Record<string, string | string[] | boolean | undefined>) => {
      const device = o.device ?? 'cpu';
      if (device !== 'cpu' && device !== 'cuda') throw invalidParameterError('--device', 'cpu or cuda', device);
      const gpu = positive('--gpu', o.gpu, 0, 63);
      if (gpu !== undefined) {
        if (device !== 'cuda') throw invalidParameterError('--gpu', 'to come with --device cuda', gpu);
        process.env.CUDA_VISIBLE_DEVICES = String(gpu); // before onnxruntime loads (it loads with the first job's networks)
      }
      const concurrency = positive('--concurrency', o.concurrency, 1, 64);
      if (concurrency !== undefined && !Number.isInteger(concurrency)) throw invalidParameterError('--concurrency', 'integer between 1 and 64', o.concurrency);
      const lock = positive('--lock-duration', o.lockDuration, 1, 24 * 3600);
      const stalled = positive('--stalled-interval', o.stalledInterval, 0.1, 3600);
      const { parseQueueUrl } = await import('../farm/connection.ts');
      const { parsePathMap } = await import('../farm/paths.ts');
      const { startWorker } = await import('../farm/worker.ts');
      const log = (line: string) => void process.stderr.write(`${new Date().toISOString()} ${line}\n`);
      const w = await startWorker({
        queue: parseQueueUrl(o.queue as string | undefined), models: o.models as string | undefined, device, lowMemory: o.lowMemory === true,
        roots: (o.allowRoot as string[] | undefined) ?? [], pathMaps: ((o.pathMap as string[] | undefined) ?? []).map(parsePathMap),
        concurrency, lockDurationMs: lock === undefined ? undefined : lock * 1000, stalledIntervalMs: stalled === undefined ? undefined : stalled * 1000,
        name: typeof o.name === 'string' ? o.name : undefined, log,
      });
      log(`worker ${w.name} waiting for jobs`);
      await new Promise<void>((resolve) => {
        let stopping = false;
        const stop = () => {
          if (stopping) {
            log('quitting now; the running job returns to the queue and resumes from its checkpoint');
            process.exit(130);
          }
          stopping = true;
          log('finishing the current job, then stopping (Ctrl-C again to quit now)');
          void w.close().then(resolve);
        };
        process.on('SIGINT', stop);
        process.on('SIGTERM', stop);
      });
      log(`worker ${w.name} stopped`);
    });
}
