// Where a job may read and write. Paths in a job are the enqueuing machine's; `--path-map FROM=TO` rewrites a
// prefix for mounts that differ, then every path must resolve (symlinks followed, as the kernel would) inside one
// of the worker's `--allow-root` folders. A job naming /etc/passwd, a `..` or a symlink that leads out is refused.
import fs from 'node:fs';
import path from 'node:path';
import { CnextError } from '../core/errors.ts';
import { invalidParameterError } from '../core/is.ts';

export interface PathMap {
  readonly from: string;
  readonly to: string;
}

/** `FROM=TO`, both absolute. */
export function parsePathMap(spec: string): PathMap {
  const i = spec.indexOf('=');
  const from = i > 0 ? spec.slice(0, i) : '';
  const to = i > 0 ? spec.slice(i + 1) : '';
  if (!path.isAbsolute(from) || !path.isAbsolute(to)) throw invalidParameterError('--path-map', 'FROM=TO with two absolute paths', spec);
  return { from: path.resolve(from), to: path.resolve(to) };
}

const within = (p: string, dir: string) => p === dir || p.startsWith(dir.endsWith(path.sep) ? dir : dir + path.sep);

/** The longest matching FROM prefix (whole path segments) replaced by its TO. */
export function mapPath(p: string, maps: readonly PathMap[]): string {
  const hit = [...maps].sort((a, b) => b.from.length - a.from.length).find((m) => within(p, m.from));
  return hit ? path.join(hit.to, path.relative(hit.from, p)) : p;
}

/** The allowed roots as real paths (each must exist and be a folder). */
export function resolveRoots(roots: readonly string[]): string[] {
  if (!roots.length) {
    throw new CnextError('WORKER_NO_ROOTS', 'A worker needs at least one --allow-root DIR: the folders jobs may read and write', {
      solutions: ['Give the shared storage, e.g. --allow-root /mnt/projects (repeatable)'],
    });
  }
  return roots.map((r) => {
    try {
      const real = fs.realpathSync(r);
      if (!fs.statSync(real).isDirectory()) throw new Error('not a folder');
      return real;
    } catch {
      throw invalidParameterError('--allow-root', 'an existing folder', r);
    }
  });
}

/** The real path of `p`: its deepest existing ancestor resolved through symlinks, plus the rest. */
function realish(p: string): string {
  const rest: string[] = [];
  let cur = p;
  for (;;) {
    try {
      return path.join(fs.realpathSync(cur), ...rest.reverse());
    } catch {
      const parent = path.dirname(cur);
      if (parent === cur) return p;
      rest.push(path.basename(cur));
      cur = parent;
    }
  }
}

/** `p` (absolute, already mapped) if it stays inside an allowed root; else a JOB_PATH_FORBIDDEN error. */
export function confine(p: string, roots: readonly string[], what: string): string {
  if (!path.isAbsolute(p) || p.includes('\0') || p.split(/[\\/]/).includes('..')) {
    throw new CnextError('JOB_PATH_FORBIDDEN', `Rejected job: its ${what} path is not a plain absolute path`);
  }
  const real = realish(path.resolve(p));
  if (!roots.some((r) => within(real, r))) {
    throw new CnextError('JOB_PATH_FORBIDDEN', `Rejected job: its ${what} ${p} is outside the worker's --allow-root folders`, {
      solutions: ['Start the worker with --allow-root for the shared storage, or map the path with --path-map FROM=TO'],
    });
  }
  return real;
}
