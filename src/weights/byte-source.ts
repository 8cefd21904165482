// Random access to the bytes of a weight file, or of a buffer (tests, fuzzing). Readers check bounds
// against `size` before every read, so a corrupt length can never make them allocate more than the file.
import fs from 'node:fs';
import { CnextError, isCnextError } from '../core/errors.ts';

export interface ByteSource {
  readonly size: number;
  /** Up to `len` bytes at `pos` (fewer only if the file shrank); callers check bounds first. */
  read(pos: number, len: number): Uint8Array;
}

export function bufferSource(buf: Uint8Array): ByteSource {
  return { size: buf.length, read: (pos, len) => buf.subarray(pos, pos + len) };
}

export function fdSource(fd: number): ByteSource {
  const size = fs.fstatSync(fd).size;
  return {
    size,
    read(pos, len) {
      const b = Buffer.alloc(len);
      let got = 0;
      while (got < len) {
        const n = fs.readSync(fd, b, got, len - got, pos + got);
        if (n === 0) break;
        got += n;
      }
      return b.subarray(0, got);
    },
  };
}

/**
 * Open `file` (resolving symlinks: weight entries record the canonical path), hand `parse` a byte source and
 * close it again. I/O failures (missing file, a directory, EIO) become CnextError WEIGHTS_UNREADABLE.
 */
export function withFileSource<T>(file: string, parse: (src: ByteSource, real: string) => T): T {
  let real: string;
  let fd: number;
  const unreadable = (e: unknown) =>
    new CnextError('WEIGHTS_UNREADABLE', `Cannot read weight file ${file}: ${(e as Error).message}`, { cause: e });
  try {
    real = fs.realpathSync(file);
    fd = fs.openSync(real, 'r');
  } catch (e) {
    throw unreadable(e);
  }
  try {
    return parse(fdSource(fd), real);
  } catch (e) {
    throw isCnextError(e) ? e : unreadable(e);
  } finally {
    fs.closeSync(fd);
  }
}
