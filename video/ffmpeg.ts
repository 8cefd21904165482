// The ffmpeg and ffprobe binaries and the fluent-ffmpeg setup. The only file that knows where the binaries are;
// video/ is the only folder that imports fluent-ffmpeg. Everyone else uses probe.ts / decode.ts / encode.ts.
// Which binary, per name, first match wins (resolveFfmpeg() says which, for `cnext doctor` and job metadata):
//   1. CNEXT_FFMPEG / CNEXT_FFPROBE: the file named (any version: the user chose it)
//   2. the system's, on PATH, when its version is 5 or newer (maintained, patched decoders for untrusted videos)
//   3. the bundled one (@ffmpeg-installer/ffmpeg 1.1.0, @ffprobe-installer/ffprobe: static builds from 2018)
import { execFile, spawnSync, type ChildProcess } from 'node:child_process';
import { accessSync, chmodSync, constants, copyFileSync, mkdirSync, renameSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { homedir } from 'node:os';
import { delimiter, isAbsolute, join } from 'node:path';
import ffmpeg from 'fluent-ffmpeg';
import { CnextError } from '../src/core/errors.ts';

export type FfmpegCommand = ffmpeg.FfmpegCommand;
export type BinaryName = 'ffmpeg' | 'ffprobe';

const PACKAGES: Record<BinaryName, string> = {
  ffmpeg: '@ffmpeg-installer/ffmpeg',
  ffprobe: '@ffprobe-installer/ffprobe',
};
/** Environment variables that name the binary to use. */
export const ENV_OVERRIDE: Record<BinaryName, string> = {
  ffmpeg: 'CNEXT_FFMPEG',
  ffprobe: 'CNEXT_FFPROBE',
};

/** The oldest system ffmpeg/ffprobe major version preferred over the bundled one. */
export const MIN_SYSTEM_MAJOR = 5;

export interface ResolvedBinary {
  readonly path: string;
  /** From `-version`: `5.1.9-0+deb12u1`, `N-109421-g…` (a git build). */
  readonly version: string;
  readonly source: 'env' | 'system' | 'bundled';
}

const resolved = new Map<BinaryName, ResolvedBinary>();

function solutionsFor(name: BinaryName): string[] {
  return [
    `Reinstall the bundled binary: npm rebuild ${PACKAGES[name]} (or npm ci)`,
    `Make it executable: chmod +x "$(node -p "require('${PACKAGES[name]}').path")"`,
    `Point ${ENV_OVERRIDE[name]} at a working ${name} (e.g. ${ENV_OVERRIDE[name]}=$(which ${name}))`,
  ];
}

function unavailable(name: BinaryName, why: string, cause?: unknown): CnextError {
  return new CnextError('FFMPEG_UNAVAILABLE', `${name} cannot run: ${why}`, {
    category: 'system',
    solutions: solutionsFor(name),
    cause,
  });
}

function isExecutable(file: string): boolean {
  try {
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** Where binaries are copied when the packaged file cannot be made executable in place. */
export function binaryCacheDir(): string {
  const base = process.env.XDG_CACHE_HOME || join(homedir(), '.cache');
  return join(base, 'controlnext-motion', 'bin');
}

/**
 * npm 11 may skip the installers' postinstall chmod: if `file` is not executable, chmod it, or, when that is not
 * allowed (read-only install), copy it to `cacheDir` with +x. Returns the path to run.
 */
export function ensureExecutable(name: BinaryName, file: string, cacheDir = binaryCacheDir()): string {
  if (isExecutable(file)) return file;
  try {
    chmodSync(file, statSync(file).mode | 0o755);
    if (isExecutable(file)) return file;
  } catch {
    // fall through to the copy
  }
  try {
    const size = statSync(file).size;
    const copy = join(cacheDir, `${name}-${size}`);
    if (!(isExecutable(copy) && statSync(copy).size === size)) {
      mkdirSync(cacheDir, { recursive: true });
      const tmp = `${copy}.partial-${process.pid}`;
      copyFileSync(file, tmp);
      chmodSync(tmp, 0o755);
      renameSync(tmp, copy);
    }
    return copy;
  } catch (e) {
    throw unavailable(name, `${file} is not executable and could not be made executable (${(e as Error).message})`, e);
  }
}

/** Runs `file -version` once and returns the version; throws FFMPEG_UNAVAILABLE when it does not start or fails. */
export function verifyBinary(name: BinaryName, file: string): string {
  const r = spawnSync(file, ['-version'], { encoding: 'utf8', timeout: 20_000, windowsHide: true });
  if (r.error) throw unavailable(name, `${file}: ${r.error.message}`, r.error);
  if (r.status !== 0 || !/version/i.test(r.stdout)) {
    const tail = `${r.stderr ?? ''}`.trim().split('\n').slice(-3).join(' | ');
    throw unavailable(name, `${file} -version exited with ${r.status ?? r.signal}${tail ? `: ${tail}` : ''}`);
  }
  return /version (\S+)/i.exec(r.stdout)?.[1] ?? 'unknown';
}

/** Whether a `-version` string is MIN_SYSTEM_MAJOR or newer; git builds (`N-…`, `git-…`) count as new. */
export function isRecentVersion(version: string): boolean {
  const m = /^n?(\d+)\./i.exec(version);
  if (m) return Number(m[1]) >= MIN_SYSTEM_MAJOR;
  return /^(N-|git)/.test(version);
}

/** `name` on the PATH of `env`, or undefined. */
export function onPath(name: BinaryName, env: NodeJS.ProcessEnv = process.env): string | undefined {
  for (const dir of (env.PATH ?? '').split(delimiter)) {
    if (!dir || !isAbsolute(dir)) continue;
    const file = join(dir, process.platform === 'win32' ? `${name}.exe` : name);
    if (isExecutable(file)) return file;
  }
  return undefined;
}

function packagedPath(name: BinaryName): string {
  const require = createRequire(import.meta.url);
  try {
    return (require(PACKAGES[name]) as { path: string }).path;
  } catch (e) {
    // the installers throw plain strings when the platform package is missing
    const why = e instanceof Error ? e.message : String(e);
    throw unavailable(name, `${PACKAGES[name]} found no binary (${why})`, e);
  }
}

/** Finds the binary to use (see the top of this file) in `env`, verified; no caching. */
export function resolveBinary(name: BinaryName, env: NodeJS.ProcessEnv = process.env): ResolvedBinary {
  const override = env[ENV_OVERRIDE[name]];
  if (override) {
    if (!isExecutable(override)) throw unavailable(name, `${ENV_OVERRIDE[name]}=${override} is not an executable file`);
    return { path: override, version: verifyBinary(name, override), source: 'env' };
  }
  const system = onPath(name, env);
  if (system) {
    try {
      const version = verifyBinary(name, system);
      if (isRecentVersion(version)) return { path: system, version, source: 'system' };
    } catch {
      // a broken system binary: the bundled one
    }
  }
  const file = ensureExecutable(name, packagedPath(name));
  return { path: file, version: verifyBinary(name, file), source: 'bundled' };
}

/** The ffmpeg and ffprobe this process uses (resolved once): for `cnext doctor`, logs and job metadata. */
export function resolveFfmpeg(): { readonly ffmpeg: ResolvedBinary; readonly ffprobe: ResolvedBinary } {
  return { ffmpeg: resolvedBinary('ffmpeg'), ffprobe: resolvedBinary('ffprobe') };
}

/** `5.1.9-0+deb12u1 (system, /usr/bin/ffmpeg)`; without the path for metadata: `5.1.9-0+deb12u1 (system)`. */
export const describeBinary = (b: ResolvedBinary, withPath = true): string => `${b.version} (${b.source}${withPath ? `, ${b.path}` : ''})`;

function resolvedBinary(name: BinaryName): ResolvedBinary {
  let r = resolved.get(name);
  if (!r) {
    r = resolveBinary(name);
    resolved.set(name, r);
  }
  return r;
}

/** Absolute path of a runnable ffmpeg / ffprobe; resolved, made executable and verified once per process. */
export function binaryPath(name: BinaryName): string {
  return resolvedBinary(name).path;
}

/** A fluent-ffmpeg command bound to our binaries. */
export function ffmpegCommand(): FfmpegCommand {
  const cmd = ffmpeg({ stdoutLines: 0 });
  cmd.setFfmpegPath(binaryPath('ffmpeg'));
  cmd.setFfprobePath(binaryPath('ffprobe'));
  return cmd;
}

/** Last `n` non-empty lines of ffmpeg's stderr, for error messages. */
export function stderrTail(stderr: string, n = 6): string {
  return stderr
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter(Boolean)
    .slice(-n)
    .join('\n');
}

export function ffmpegFailed(what: string, stderr: string, cause?: unknown): CnextError {
  const tail = stderrTail(stderr);
  return new CnextError('FFMPEG_FAILED', `ffmpeg failed while ${what}${tail ? `:\n${tail}` : ''}`, {
    category: 'third-party',
    cause,
  });
}

/** Runs ffprobe with `args`; resolves stdout, rejects with `{stderr, code}` attached to the Error. */
export function runFfprobe(args: readonly string[]): Promise<{ stdout: string; stderr: string; code: number }> {
  const bin = binaryPath('ffprobe');
  return new Promise((resolve) => {
    execFile(bin, [...args], { maxBuffer: 64 << 20, windowsHide: true }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : -1) : 0;
      resolve({ stdout, stderr, code });
    });
  });
}

/**
 * A started fluent-ffmpeg command: its child process, stderr as it arrives, and a promise for the end.
 * `done` resolves when the process has exited and its pipes are closed; it rejects with the fluent-ffmpeg error
 * (the caller turns it into a CnextError with the stderr tail). `kill()` SIGKILLs and waits for the exit.
 */
export interface FfmpegRun {
  readonly proc: ChildProcess;
  readonly done: Promise<void>;
  stderr(): string;
  kill(): Promise<void>;
}

export function startFfmpeg(cmd: FfmpegCommand, run: () => void): Promise<FfmpegRun> {
  return new Promise<FfmpegRun>((resolveStart, rejectStart) => {
    let stderr = '';
    let started = false;
    let exited = false;
    let resolveExit!: () => void;
    const exit = new Promise<void>((r) => (resolveExit = r));
    let settle!: (err?: Error) => void;
    const done = new Promise<void>((resolve, reject) => {
      settle = (err) => (err ? reject(err) : resolve());
    });
    // done = ffmpeg's verdict, then the process gone; callers await it when they need it, so never unhandled
    const finished = done.then(() => exit);
    finished.catch(() => {});
    cmd.on('stderr', (line: string) => {
      stderr += `${line}\n`;
      if (stderr.length > 64_000) stderr = stderr.slice(-32_000);
    });
    cmd.on('start', () => {
      const proc = (cmd as unknown as { ffmpegProc: ChildProcess }).ffmpegProc;
      started = true;
      proc.once('close', () => {
        exited = true;
        resolveExit();
      });
      resolveStart({
        proc,
        done: finished,
        stderr: () => stderr,
        kill: async () => {
          if (!exited) proc.kill('SIGKILL');
          await exit;
        },
      });
    });
    cmd.on('error', (err: Error, _stdout: string | null, ffStderr: string | null) => {
      if (ffStderr && !stderr) stderr = ffStderr;
      if (!started) rejectStart(ffmpegFailed('starting', stderr || err.message, err));
      settle(err);
    });
    cmd.on('end', () => settle());
    run();
  });
}
