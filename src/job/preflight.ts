// Preflight: everything that can be checked in seconds, before the first expensive stage (pose extraction,
// minutes at full size) — so a truncated weight file or an unwritable output folder fails now, not after the work.
//   1. models: every weight file the job will load is there, its header parses (safetensors header, PyTorch zip
//      directory and pickle), its size is the registry's or the download manifest's, and its sha256 too where one
//      is known (hashed once per file version; `.cnext-verified.json` in the model folder remembers it)
//   2. the output folders and the job folder: created if missing, and writable (a probe file created and removed)
//   3. free disk space on each of their filesystems against an estimate of what the job writes
//   4. the device: its execution provider is installed; on CUDA, every network also builds and runs once from tiny
//      synthetic weights in a child process (src/doctor), so a crashing native provider is one line naming the
//      network, before any work — not a dead process minutes in
// Every failure is one line; all of them are reported together, in one CnextError (exit 2 when all are the user's
// to fix, else 3), with "Possible solutions" where there are some. `cnext run`, `cnext batch` (once, up front) and
// the render-farm worker call `preflight`.
import fs from 'node:fs';
import path from 'node:path';
import { writeJsonAtomic } from '../core/atomic-file.ts';
import { resolvePrecision, type Device, type Precision } from '../core/device.ts';
import { CnextError, isCnextError, type ErrorCategory } from '../core/errors.ts';
import { probeWritable } from '../core/writable.ts';
import { checkContent, expectedFiles, readManifest, sha256File } from '../../models/cache.ts';
import { diskFree } from '../../models/download.ts';
import { modelDir } from '../../models/layout.ts';
import { REGISTRY, type ModelEntry } from '../../models/registry.ts';
import { assertProviderAvailable } from '../onnx/session.ts';

export interface PreflightInput {
  /** Weight files the job will load (loadModelComponents().files); absent: no model check (injected networks). */
  readonly weightFiles?: readonly string[];
  /** The models root they come from (to find registry sizes, manifests and hashes). */
  readonly modelsRoot?: string;
  /** Files the job will write (output, side-by-side, pose video): their folders must be writable. */
  readonly outputs: readonly string[];
  /** The job folder (created if missing). */
  readonly jobDir?: string;
  readonly device: Device;
  /** The precision the job runs in (default: the device's); on CUDA the device check runs in it. */
  readonly precision?: Precision;
  /** CUDA device number (--gpu). */
  readonly deviceId?: number;
  /** Bytes the job will write (estimateJobBytes); checked against each target filesystem's free space. */
  readonly bytes: number;
  /** Hash weight files whose sha256 is known and not yet verified for their size and mtime (default true). */
  readonly hash?: boolean;
  readonly signal?: AbortSignal;
  /** Progress lines ("Checking the sha256 of … (once per file; 3.0 GB)", for files that take a while). */
  readonly log?: (message: string) => void;
}

interface Failure {
  readonly message: string;
  readonly category: ErrorCategory;
  readonly solutions?: readonly string[];
}

/** Runs every check; throws one CnextError (code PREFLIGHT, or the single failure's own) listing all failures. */
export { probeWritable } from '../core/writable.ts';

export async function preflight(p: PreflightInput): Promise<void> {
  const failures: Failure[] = [];
  const fail = (e: unknown, fallback: ErrorCategory = 'system') => {
    if (isCnextError(e)) failures.push({ message: e.message, category: e.category, solutions: e.solutions });
    else failures.push({ message: e instanceof Error ? e.message : String(e), category: fallback });
  };
  let providerOk = true;
  try {
    assertProviderAvailable(p.device);
  } catch (e) {
    providerOk = false;
    fail(e);
  }
  if (providerOk && p.device === 'cuda') {
    // The CPU provider is part of the binding and runs in-process everywhere else; the CUDA provider is a separate
    // native library whose failures (a SIGSEGV included) only a child process survives.
    try {
      const { checkDevice } = await import('../doctor/check.ts');
      p.log?.(`checking every network once on ${p.device} (child processes)`);
      await checkDevice({ device: p.device, precision: resolvePrecision(p.device, p.precision), deviceId: p.deviceId });
    } catch (e) {
      fail(e);
    }
  }
  for (const f of p.weightFiles ?? []) {
    try {
      await checkWeightFile(f, p);
    } catch (e) {
      if (isCnextError(e) && e.code === 'CANCELLED') throw e;
      fail(e);
    }
  }
  const dirs = new Set([...p.outputs.map((f) => path.dirname(path.resolve(f))), ...(p.jobDir ? [path.resolve(p.jobDir)] : [])]);
  const writable: string[] = [];
  const unwritable: string[] = [];
  for (const d of dirs) {
    if (unwritable.some((u) => d.startsWith(u + path.sep))) continue; // the job folder inside an unwritable --out folder
    const problem = probeWritable(d);
    if (problem) unwritable.push(d);
    if (problem) {
      failures.push({
        message: `Cannot write to the folder ${d}: ${problem}`,
        category: 'system',
        solutions: [`Choose another ${p.jobDir && path.resolve(p.jobDir) === d ? '--job-dir' : '--out'} on a writable disk`, `Or make ${d} writable (permissions, read-only mount)`],
      });
    } else writable.push(d);
  }
  const filesystems = new Set<number>(); // one line per filesystem
  for (const d of writable) {
    const dev = fs.statSync(d).dev;
    if (filesystems.has(dev)) continue;
    filesystems.add(dev);
    const free = diskFree(d);
    if (free !== undefined && free < p.bytes) {
      failures.push({
        message: `Not enough free disk space for ${d}: ${gb(free)} free, the job needs about ${gb(p.bytes)}`,
        category: 'system',
        solutions: ['Free some disk space', 'Or write the output (--out) or the job folder (--job-dir) to another disk'],
      });
    }
  }
  if (!failures.length) return;
  const category: ErrorCategory = failures.every((f) => f.category === 'user') ? 'user' : 'system';
  if (failures.length === 1) {
    const [f] = failures;
    throw new CnextError('PREFLIGHT', f!.message, { category: f!.category, solutions: f!.solutions });
  }
  const solutions = [...new Set(failures.flatMap((f) => f.solutions ?? []))];
  throw new CnextError('PREFLIGHT', `${failures.length} problems before starting:\n${failures.map((f) => `- ${f.message}`).join('\n')}`, { category, solutions });
}

const gb = (n: number) => (n >= 1e9 ? `${(n / 1e9).toFixed(1)} GB` : `${Math.ceil(n / 1e6)} MB`);

/**
 * What a job writes, roughly: the output MP4 (and side-by-side, pose video) at a generous 0.3 bits per pixel,
 * the pose maps video, the latent checkpoint twice over (written atomically: old and new briefly side by side),
 * plus 64 MB of slack.
 */
export function estimateJobBytes(o: { width: number; height: number; frames: number; extraVideos: number }): number {
  const video = (o.width * o.height * o.frames * 0.3) / 8;
  const latents = (o.frames + 1) * 4 * (o.width / 8) * (o.height / 8) * 4;
  return Math.ceil(video * (2 + 3 * o.extraVideos) + 2 * latents + 64e6);
}

// ---------------------------------------------------------------------------------------------------------------
// Weight files.

interface Expected {
  readonly entry: ModelEntry;
  readonly rel: string;
  readonly bytes?: number;
  readonly sha256?: string;
}

/** The registry entry and manifest record of a file under the models root, when it has one. */
function expectedFor(file: string, root: string | undefined): Expected | undefined {
  if (!root) return undefined;
  for (const entry of REGISTRY) {
    const dir = modelDir(root, entry);
    const rel = path.relative(dir, file);
    if (rel.startsWith('..') || path.isAbsolute(rel)) continue;
    const key = rel.split(path.sep).join('/');
    const manifest = readManifest(root, entry);
    const reg = expectedFiles(entry, manifest).find((f) => f.path === key); // a synthetic folder: its own manifest
    const rec = manifest.files[key];
    return { entry, rel, bytes: reg?.bytes ?? rec?.bytes, sha256: reg?.sha256 ?? (rec?.sha256 || undefined) };
  }
  return undefined;
}

export const VERIFIED_NAME = '.cnext-verified.json';
type Verified = Record<string, { bytes: number; mtimeMs: number; sha256: string }>;

function readVerified(dir: string): Verified {
  try {
    return JSON.parse(fs.readFileSync(path.join(dir, VERIFIED_NAME), 'utf8')) as Verified;
  } catch {
    return {};
  }
}

async function checkWeightFile(file: string, p: PreflightInput): Promise<void> {
  let st: fs.Stats;
  try {
    st = fs.statSync(file);
  } catch {
    throw new CnextError('MODEL_FILE_MISSING', `Weight file ${file} does not exist`, {
      solutions: ['`cnext models list` shows what is installed; `cnext models pull` fetches what is missing'],
    });
  }
  const exp = expectedFor(file, p.modelsRoot);
  const repull = exp ? [`Download it again: cnext models pull ${exp.entry.name} (a damaged file is replaced)`] : [];
  if (exp?.bytes !== undefined && st.size !== exp.bytes) {
    throw new CnextError('MODEL_FILE_DAMAGED', `Weight file ${file} is ${st.size} bytes, expected ${exp.bytes} (truncated download?)`, {
      category: 'system', solutions: repull,
    });
  }
  const content = checkContent(file);
  if (content.problem) {
    // the readers' messages start with the file's path: `<file> is not a valid safetensors file: …`
    const what = content.problem.startsWith(file) ? content.problem.slice(file.length).replace(/^:? */, '') : `is damaged: ${content.problem}`;
    throw new CnextError('MODEL_FILE_DAMAGED', `Weight file ${file} ${what}`, { category: 'system', solutions: repull });
  }
  if (!exp?.sha256 || p.hash === false) return;
  const dir = modelDir(p.modelsRoot!, exp.entry);
  const verified = readVerified(dir);
  const seen = verified[exp.rel];
  if (seen && seen.bytes === st.size && seen.mtimeMs === st.mtimeMs && seen.sha256 === exp.sha256.toLowerCase()) return;
  if (st.size >= 256e6) p.log?.(`Checking the sha256 of ${file} (once per file; ${gb(st.size)})`); // seconds, not instant
  const got = await sha256File(file, p.signal);
  if (got !== exp.sha256.toLowerCase()) {
    throw new CnextError('MODEL_FILE_DAMAGED', `Weight file ${file} has sha256 ${got}, expected ${exp.sha256}`, { category: 'system', solutions: repull });
  }
  try {
    writeJsonAtomic(path.join(dir, VERIFIED_NAME), { ...verified, [exp.rel]: { bytes: st.size, mtimeMs: st.mtimeMs, sha256: got } });
  } catch {
    // a read-only models folder: hashed again next time
  }
}
