// One process at a time on a resource: a lock file holding the owner's pid and host, created exclusively. A lock
// whose process is gone (killed, crashed) is taken over. Used by the job folder (job.lock) and the downloader
// (<file>.partial.lock).
//
// Job folders may sit on storage that several machines share (the render farm). A pid means nothing on another
// host — a dead worker's pid can be a live process here — so a lock from another host is never judged by its pid:
// it is busy, unless the caller holds a stronger claim (a farm worker given the job by the queue, whose own lock
// says the previous holder is gone) and asks to take foreign locks over.
import fs from 'node:fs';
import os from 'node:os';
import type { CnextError } from './errors.ts';

export interface LockOwner {
  readonly pid: number;
  /** The owner's host name; absent in locks written before hosts were recorded (read as this host). */
  readonly host?: string;
}

export interface PidLockOptions {
  /** Take over a lock written on another host (default false: such a lock is busy). */
  readonly takeOverForeign?: boolean;
}

const HOST = os.hostname();

/**
 * Creates `file` with this process's pid and host and returns the release function (which removes the file only
 * while it still names us). A live owner on this host, or any owner on another host → `busy(owner)` is thrown.
 */
export function acquirePidLock(file: string, busy: (owner: LockOwner) => CnextError, options: PidLockOptions = {}): () => void {
  const mine = `${process.pid} ${HOST}\n`;
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      fs.writeFileSync(file, mine, { flag: 'wx' });
      return () => {
        try {
          if (fs.readFileSync(file, 'utf8') === mine) fs.rmSync(file, { force: true });
        } catch {
          // already gone
        }
      };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
    const owner = lockOwner(file);
    if (owner) {
      const foreign = owner.host !== undefined && owner.host !== HOST;
      if (foreign && !options.takeOverForeign) throw busy(owner);
      // our own pid counts as live: two jobs of one process (a farm worker) must not share a folder either
      if (!foreign && processAlive(owner.pid)) throw busy(owner);
    }
    fs.rmSync(file, { force: true }); // stale: its process is gone (or its host gave it up)
  }
  throw busy(lockOwner(file) ?? { pid: 0 });
}

/** The lock file's owner: `<pid> <host>` (or a bare pid, from older versions); undefined when unreadable. */
export function lockOwner(file: string): LockOwner | undefined {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
  const [pidText, host] = text.trim().split(/\s+/, 2);
  const pid = Number.parseInt(pidText ?? '', 10);
  if (!Number.isInteger(pid) || pid <= 0) return undefined;
  return host ? { pid, host } : { pid };
}

/** "pid 123" on this host, "pid 123 on host gpu-7" elsewhere. */
export function describeOwner(owner: LockOwner): string {
  return owner.host && owner.host !== HOST ? `pid ${owner.pid} on host ${owner.host}` : `pid ${owner.pid}`;
}

export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}
