// One process at a time on a resource: a lock file holding the owner's pid, created exclusively. A lock whose
// process is gone (killed, crashed) is taken over. Used by the job folder (job.lock) and the downloader
// (<file>.partial.lock).
import fs from 'node:fs';
import type { CnextError } from './errors.ts';

/**
 * Creates `file` with this process's pid and returns the release function (which removes the file only while
 * it still holds our pid). A live owner → `busy(pid)` is thrown.
 */
export function acquirePidLock(file: string, busy: (pid: number) => CnextError): () => void {
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      fs.writeFileSync(file, `${process.pid}\n`, { flag: 'wx' });
      return () => {
        try {
          if (fs.readFileSync(file, 'utf8').trim() === String(process.pid)) fs.rmSync(file, { force: true });
        } catch {
          // already gone
        }
      };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
    const pid = lockOwner(file);
    // our own pid counts as live: two jobs of one process (a farm worker) must not share a folder either
    if (pid !== undefined && processAlive(pid)) throw busy(pid);
    fs.rmSync(file, { force: true }); // stale: its process is gone
  }
  throw busy(lockOwner(file) ?? 0);
}

function lockOwner(file: string): number | undefined {
  try {
    const pid = Number.parseInt(fs.readFileSync(file, 'utf8'), 10);
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}
