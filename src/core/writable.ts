// Is a folder writable? Created if missing, then a probe file created and removed; the answer in words. Used by
// the preflight (src/job/preflight.ts) and by commands that write a folder (`cnext pose`, `models synth`).
import fs from 'node:fs';
import path from 'node:path';
import { CnextError } from './errors.ts';

/**
 * Creates `dir` if needed and a probe file in it; returns the problem in words, or null. When the folder cannot
 * be created, the nearest existing folder above it is probed, so the words are the real cause (a read-only
 * mount says EROFS there, while a recursive mkdir only says ENOENT).
 */
export function probeWritable(dir: string): string | null {
  try {
    fs.mkdirSync(dir, { recursive: true });
  } catch (e) {
    let above = path.dirname(dir);
    while (!fs.existsSync(above) && path.dirname(above) !== above) above = path.dirname(above);
    const cause = fs.existsSync(above) && !fs.statSync(above).isDirectory() ? 'ENOTDIR' : probe(above) ?? (e as NodeJS.ErrnoException).code;
    return `${words(cause, e as Error)}${above !== path.dirname(dir) || cause !== (e as NodeJS.ErrnoException).code ? ` (at ${above})` : ''}`;
  }
  const code = probe(dir);
  return code === null ? null : words(code);
}

/** probeWritable as an error (one line, system) for commands that write a folder: `cnext pose`, `models synth`. */
export function assertWritable(dir: string, flag: string): void {
  const problem = probeWritable(path.resolve(dir));
  if (problem) {
    throw new CnextError('OUTPUT_NOT_WRITABLE', `Cannot write to the folder ${path.resolve(dir)}: ${problem}`, {
      category: 'system',
      solutions: [`Choose another ${flag} on a writable disk`],
    });
  }
}

/** Writes and removes a probe file in `dir`: null, or the error code. */
function probe(dir: string): string | null {
  const file = path.join(dir, `.cnext-probe-${process.pid}`);
  try {
    fs.writeFileSync(file, '');
    fs.rmSync(file, { force: true });
    return null;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code ?? 'EIO';
  }
}

function words(code: string | undefined, e?: Error): string {
  const w: Record<string, string> = {
    EACCES: 'permission denied', EPERM: 'permission denied', EROFS: 'read-only file system',
    ENOTDIR: 'a part of the path is a file, not a folder', EEXIST: 'a file of that name is in the way', ENOSPC: 'the disk is full',
  };
  return w[code ?? ''] ?? e?.message ?? code ?? 'unknown error';
}

