// `cnext queue status|retry|clean [--queue URL]`: the farm's queue (README "Many GPUs, many machines"). Also the
// batch's farm flags (`--queue`, `--detach`, `--attempts`), so src/cli/batch.ts only adds and branches on them.
import type { Command } from 'commander';
import { invalidParameterError } from '../core/is.ts';

/** `cnext batch`'s farm flags. */
export function addQueueOptions(command: Command): Command {
  return command
    .option('--queue <url>', 'run the items on `cnext worker`s through this Redis queue: redis://[user:pass@]host:port[/db] or rediss://')
    .option('--detach', 'with --queue: enqueue and return at once (run the same command again to follow)')
    .option('--attempts <n>', 'with --queue: tries per item before it is reported failed (default 3)');
}

/** The farm flags of a batch's raw options, or null when --queue is absent; the rest go to the batch parser. */
export function takeQueueOptions(raw: Record<string, unknown>): { farm: { queue: string; detach: boolean; attempts?: number } | null; rest: Record<string, unknown> } {
  const { queue, detach, attempts, ...rest } = raw;
  if (queue === undefined) {
    if (detach) throw invalidParameterError('--detach', 'to come with --queue URL', true);
    return { farm: null, rest };
  }
  const n = attempts === undefined ? undefined : Number(attempts);
  if (n !== undefined && (!Number.isInteger(n) || n < 1 || n > 100)) throw invalidParameterError('--attempts', 'integer between 1 and 100', attempts);
  return { farm: { queue: String(queue), detach: detach === true, ...(n ? { attempts: n } : {}) }, rest };
}

export function register(program: Command): void {
  const queue = program.command('queue').description("the render farm's queue: status, retry failed jobs, clean finished ones");
  const url = '--queue <url>';
  const urlHelp = 'redis://[user:pass@]host:port[/db] or rediss:// (default $CNEXT_QUEUE)';
  queue
    .command('status')
    .description('jobs per state, the running ones (worker, stage) and the failed ones (error)')
    .option(url, urlHelp)
    .option('--json', 'one JSON object')
    .action(async (o: { queue?: string; json?: boolean }) => {
      const { parseQueueUrl } = await import('../farm/connection.ts');
      const { queueStatus, formatStatus } = await import('../farm/admin.ts');
      const s = await queueStatus(parseQueueUrl(o.queue));
      process.stdout.write(o.json ? `${JSON.stringify(s)}\n` : formatStatus(s));
    });
  queue
    .command('retry')
    .description('put every failed job back in the queue')
    .option(url, urlHelp)
    .action(async (o: { queue?: string }) => {
      const { parseQueueUrl } = await import('../farm/connection.ts');
      const { retryFailed } = await import('../farm/admin.ts');
      process.stdout.write(`${await retryFailed(parseQueueUrl(o.queue))} failed jobs back in the queue\n`);
    });
  queue
    .command('clean')
    .description('remove finished jobs (completed and failed; outputs and job folders stay)')
    .option(url, urlHelp)
    .option('--completed', 'only completed jobs')
    .option('--failed', 'only failed jobs')
    .action(async (o: { queue?: string; completed?: boolean; failed?: boolean }) => {
      const { parseQueueUrl } = await import('../farm/connection.ts');
      const { cleanFinished } = await import('../farm/admin.ts');
      const states = o.completed && !o.failed ? ['completed' as const] : o.failed && !o.completed ? ['failed' as const] : ['completed' as const, 'failed' as const];
      process.stdout.write(`${await cleanFinished(parseQueueUrl(o.queue), states)} jobs removed\n`);
    });
}
