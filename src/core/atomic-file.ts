// Write a file so that readers see either the old file or the complete new one: write `<file>.tmp-<pid>`,
// fsync, rename. On any error the temporary file is removed and the target is untouched.
import fs from 'node:fs';
import path from 'node:path';

/** Run `write` on a temporary file's descriptor, then move it into place. */
export function withAtomicFile(file: string, write: (fd: number) => void): void {
  const tmp = `${file}.tmp-${process.pid}`;
  const fd = fs.openSync(tmp, 'w');
  try {
    write(fd);
    fs.fsyncSync(fd);
  } catch (e) {
    fs.closeSync(fd);
    fs.rmSync(tmp, { force: true });
    throw e;
  }
  fs.closeSync(fd);
  fs.renameSync(tmp, file);
}

/** writeFileSync, atomically. */
export function writeFileAtomic(file: string, data: string | Uint8Array): void {
  withAtomicFile(file, (fd) => {
    fs.writeSync(fd, typeof data === 'string' ? Buffer.from(data, 'utf8') : data);
  });
}

/** Pretty JSON plus a newline, atomically; creates the folder. */
export function writeJsonAtomic(file: string, value: unknown): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  writeFileAtomic(file, `${JSON.stringify(value, null, 2)}\n`);
}
