// A real redis-server for the farm tests: on a free loopback port, with its files in a temporary folder
// (append-only file, fsync always, so a restart keeps the queue), stopped afterwards. Every wait is bounded.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

export interface TestRedis {
  readonly port: number;
  readonly dir: string;
  /** redis://:<password>@127.0.0.1:<port> */
  readonly url: string;
  stop(): Promise<void>;
  /** Stops the server and starts it again on the same port and files. */
  restart(): Promise<void>;
}

export function redisServerPath(): string {
  const r = spawnSync('sh', ['-c', 'command -v redis-server'], { encoding: 'utf8' });
  const p = r.stdout.trim();
  if (!p) throw new Error('redis-server is not installed (Debian: apt-get install redis-server; .ci/run installs it)');
  return p;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

/** Resolves when `pred` is true, polling every `everyMs`; rejects after `ms` naming `what`. */
export async function waitFor<T>(pred: () => T | Promise<T>, ms: number, what: string, everyMs = 100): Promise<NonNullable<T>> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await pred();
    if (v) return v as NonNullable<T>;
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** Waits (bounded) for a child process to exit. */
export function exited(child: ChildProcess, ms: number): Promise<number | null> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(child.exitCode);
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`process ${child.pid} did not exit within ${ms} ms`)), ms);
    child.once('exit', (code) => {
      clearTimeout(t);
      resolve(code);
    });
  });
}

export async function startRedis(password: string): Promise<TestRedis> {
  const bin = redisServerPath();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cnext-redis-'));
  const port = await freePort();
  let child: ChildProcess | undefined;
  const launch = async () => {
    const c = spawn(bin, [
      '--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', 'yes', '--appendfsync', 'always',
      '--requirepass', password, '--maxmemory-policy', 'noeviction', '--daemonize', 'no', '--protected-mode', 'yes',
    ], { stdio: ['ignore', 'pipe', 'pipe'] });
    child = c;
    let out = '';
    await new Promise<void>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`redis-server did not start within 10 s:\n${out}`)), 10_000);
      c.stdout!.on('data', (d: Buffer) => {
        out += d.toString();
        if (out.includes('Ready to accept connections')) {
          clearTimeout(t);
          resolve();
        }
      });
      c.once('exit', (code) => {
        clearTimeout(t);
        reject(new Error(`redis-server exited (${code}):\n${out}`));
      });
    });
  };
  const stop = async () => {
    const c = child;
    child = undefined;
    if (!c || c.exitCode !== null) return;
    c.kill('SIGTERM');
    try {
      await exited(c, 10_000);
    } catch {
      c.kill('SIGKILL');
      await exited(c, 5_000);
    }
  };
  await launch();
  return {
    port, dir, url: `redis://:${password}@127.0.0.1:${port}`,
    stop: async () => {
      await stop();
      fs.rmSync(dir, { recursive: true, force: true });
    },
    restart: async () => {
      await stop();
      await launch();
    },
  };
}
