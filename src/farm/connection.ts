// The queue's Redis connection: `redis://[user:pass@]host:port[/db]` or `rediss://` (TLS), from --queue or
// CNEXT_QUEUE. The password is only ever shown redacted (`redis://user:***@host:6379/0`), in every message.
//   probe()    one connection that fails fast: a wrong password or an unreachable server is one clear line;
//   connect()  the long-lived connections (worker, follower): BullMQ needs maxRetriesPerRequest null, and the
//              retry strategy reconnects forever with a capped backoff, so a restarted Redis is picked up again.
import { Redis, type RedisOptions } from 'ioredis';
import { CnextError } from '../core/errors.ts';

export interface QueueUrl {
  /** The URL as given, password replaced by ***. */
  readonly redacted: string;
  readonly options: RedisOptions;
  readonly password?: string;
}

const badUrl = (shown: string) =>
  new CnextError('QUEUE_URL_INVALID', `Expected redis://[user:pass@]host:port[/db] or rediss://… for --queue but received '${shown}'`);

/** Replaces the password of a redis URL (and anything that does not parse) so it can be printed. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString().replace(/\/$/, '');
  } catch {
    return url.replace(/\/\/[^@/]*@/, '//***@');
  }
}

/** Removes a password from any text (error messages of the Redis client). */
export function redactText(text: string, q: Pick<QueueUrl, 'password'>): string {
  return q.password ? text.split(q.password).join('***') : text;
}

export function parseQueueUrl(url: string | undefined, env: NodeJS.ProcessEnv = process.env): QueueUrl {
  const raw = url ?? env.CNEXT_QUEUE;
  if (!raw) {
    throw new CnextError('QUEUE_URL_MISSING', 'No queue: give --queue redis://host:6379 or set CNEXT_QUEUE');
  }
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    throw badUrl(redactUrl(raw));
  }
  if (u.protocol !== 'redis:' && u.protocol !== 'rediss:') throw badUrl(redactUrl(raw));
  if (!u.hostname) throw badUrl(redactUrl(raw));
  const db = u.pathname && u.pathname !== '/' ? Number(u.pathname.slice(1)) : 0;
  if (!Number.isInteger(db) || db < 0 || db > 15) throw badUrl(redactUrl(raw));
  const port = u.port ? Number(u.port) : 6379;
  const password = u.password ? decodeURIComponent(u.password) : undefined;
  const host = u.hostname.replace(/^\[|\]$/g, '');
  return {
    redacted: redactUrl(raw),
    password,
    options: {
      host, port, db,
      ...(u.username ? { username: decodeURIComponent(u.username) } : {}),
      ...(password ? { password } : {}),
      // rediss: TLS with the system CAs (NODE_EXTRA_CA_CERTS adds a private CA), certificate checked against host
      ...(u.protocol === 'rediss:' ? { tls: { servername: host } } : {}),
    },
  };
}

/** What a failed connection or command means, in one line without the password. */
export function queueError(e: unknown, q: QueueUrl): CnextError {
  if (e instanceof CnextError) return e;
  const msg = redactText(e instanceof Error ? e.message : String(e), q);
  const code = (e as { code?: unknown })?.code;
  if (/WRONGPASS|NOAUTH|invalid password|invalid username-password|without any password configured/i.test(msg)) {
    const why = /NOAUTH/.test(msg) ? 'it needs a password and the URL has none' : 'it refused the user name or password';
    return new CnextError('QUEUE_AUTH', `Cannot use the queue at ${q.redacted}: ${why} (check redis://user:PASSWORD@host:port)`);
  }
  if (['ECONNREFUSED', 'ENOTFOUND', 'ETIMEDOUT', 'EHOSTUNREACH', 'ECONNRESET'].includes(String(code)) || /connect|timed? ?out|closed/i.test(msg)) {
    return new CnextError('QUEUE_UNREACHABLE', `Cannot reach the queue at ${q.redacted} (${String(code ?? msg)})`, {
      category: 'system',
      solutions: ['Start Redis there (README, "Many GPUs, many machines"), or check the host, port and firewall', 'For TLS use rediss://'],
    });
  }
  return new CnextError('QUEUE_ERROR', `The queue at ${q.redacted} failed: ${msg}`, { category: 'third-party' });
}

/** One connection that gives up at once: checks that the server answers and accepts the credentials. */
export async function probe(q: QueueUrl, timeoutMs = 5000): Promise<void> {
  const r = new Redis({ ...q.options, lazyConnect: true, connectTimeout: timeoutMs, maxRetriesPerRequest: 0, retryStrategy: () => null, enableOfflineQueue: false });
  // the client reports the cause (e.g. WRONGPASS) as an 'error' event, then rejects with "Connection is closed."
  let cause: unknown;
  r.on('error', (e: unknown) => (cause ??= e));
  try {
    await r.connect();
    await r.ping();
  } catch (e) {
    throw queueError(cause ?? e, q);
  } finally {
    r.disconnect();
  }
}

/**
 * A long-lived connection for BullMQ. `onError` hears connection problems (redacted), once per outage, so logs
 * say "lost … / back" instead of one line per retry.
 */
export function connect(q: QueueUrl, log?: (line: string) => void): Redis {
  const r = new Redis({
    ...q.options,
    maxRetriesPerRequest: null,
    enableReadyCheck: true,
    // reconnect forever: 0.2 s, 0.4 s, … capped at 3 s
    retryStrategy: (times) => Math.min(times * 200, 3000),
  });
  let down = false;
  r.on('error', (e: Error) => {
    if (!down) log?.(`queue connection lost (${redactText(e.message, q)}); reconnecting to ${q.redacted}`);
    down = true;
  });
  // a server that shuts down cleanly closes the connection without an error: the client then reconnects
  r.on('reconnecting', () => {
    if (!down) log?.(`queue connection lost; reconnecting to ${q.redacted}`);
    down = true;
  });
  r.on('ready', () => {
    if (down) log?.(`queue connection back (${q.redacted})`);
    down = false;
  });
  return r;
}
