// What is in the models folder: per-file state (installed / partial / missing), the manifest written at pull time,
// and verification (size, sha256, and that the content parses: safetensors header, JSON, zip directory).
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { writeJsonAtomic } from '../src/core/atomic-file.ts';
import { CancelledError, CnextError, isCnextError } from '../src/core/errors.ts';
import { openWeightFile } from '../src/weights/open.ts';
import { filePath, manifestPath, modelDir, partialPath } from './layout.ts';
import type { ModelEntry, ModelFile } from './registry.ts';

// ---------------------------------------------------------------------------------------------------------------
// Manifest: `<model>/.cnext-manifest.json`, one record per downloaded file.

export interface ManifestRecord {
  readonly bytes: number;
  readonly sha256: string;
  /** What the sha256 was checked against at download time ('computed' = nothing; recorded for later checks). */
  readonly sha256Source: 'registry' | 'hub' | 'computed';
  readonly url: string;
  readonly commit?: string;
  readonly downloadedAt: string;
}

export interface Manifest {
  readonly version: 1;
  readonly files: Record<string, ManifestRecord>;
  /**
   * Set by `cnext models synth` (models/synth.ts): the folder holds synthetic weights, not the hub's files. Its
   * records (sizes, sha256 computed when written) are then the file list and the reference, not the registry.
   */
  readonly synthetic?: { readonly preset: string; readonly seed: number; readonly dtype: string };
}

export function readManifest(root: string, entry: Pick<ModelEntry, 'name' | 'location'>): Manifest {
  const p = manifestPath(root, entry);
  let text: string;
  try {
    text = fs.readFileSync(p, 'utf8');
  } catch {
    return { version: 1, files: {} };
  }
  try {
    const json = JSON.parse(text) as Partial<Manifest>;
    if (json.version !== 1 || typeof json.files !== 'object' || json.files === null) throw new Error('unexpected shape');
    return { version: 1, files: json.files, ...(json.synthetic ? { synthetic: json.synthetic } : {}) };
  } catch (e) {
    throw new CnextError('MODEL_MANIFEST_INVALID', `${p} is not a valid manifest (${(e as Error).message})`, {
      category: 'system',
      solutions: [`Delete ${p}; \`cnext models verify\` then checks sizes and contents only.`],
    });
  }
}

export function recordDownload(root: string, entry: Pick<ModelEntry, 'name' | 'location'>, file: string, rec: ManifestRecord): void {
  const m = readManifest(root, entry);
  const next: Manifest = { ...m, files: { ...m.files, [file]: rec } };
  writeJsonAtomic(manifestPath(root, entry), next);
}

// ---------------------------------------------------------------------------------------------------------------
// Status.

export type FileState = 'installed' | 'partial' | 'missing';

export interface FileStatus {
  readonly file: ModelFile;
  readonly path: string;
  readonly state: FileState;
  /** Bytes on disk (of the final file, or of `file.partial`). */
  readonly bytes: number;
  /** Registry size, else the size recorded at pull time. */
  readonly expectedBytes?: number;
}

export interface ModelStatus {
  readonly entry: ModelEntry;
  readonly dir: string;
  /** Over the required files: all installed / none started / anything in between. */
  readonly state: FileState;
  readonly files: readonly FileStatus[];
  readonly bytesOnDisk: number;
  /** Sum of the known sizes of the required files; undefined when any is unknown. */
  readonly bytesExpected?: number;
  /** A synthetic model folder (random weights in the real layout): what made it. */
  readonly synthetic?: Manifest['synthetic'];
}

/** The files a model folder should hold: the registry's, or a synthetic folder's own manifest. */
export function expectedFiles(entry: ModelEntry, manifest: Manifest): readonly ModelFile[] {
  if (!manifest.synthetic) return entry.files;
  return Object.entries(manifest.files).map(([p, rec]) => ({ path: p, bytes: rec.bytes, ...(rec.sha256 ? { sha256: rec.sha256 } : {}) }));
}

export function fileStatus(root: string, entry: ModelEntry, file: ModelFile, manifest = readManifest(root, entry)): FileStatus {
  const p = filePath(root, entry, file);
  const expectedBytes = file.bytes ?? manifest.files[file.path]?.bytes;
  const final = statSize(p);
  if (final !== undefined) {
    const complete = expectedBytes === undefined || final === expectedBytes;
    return { file, path: p, state: complete ? 'installed' : 'partial', bytes: final, expectedBytes };
  }
  const part = statSize(partialPath(p));
  if (part !== undefined) return { file, path: p, state: 'partial', bytes: part, expectedBytes };
  return { file, path: p, state: 'missing', bytes: 0, expectedBytes };
}

export function modelStatus(root: string, entry: ModelEntry): ModelStatus {
  const manifest = readManifest(root, entry);
  const files = expectedFiles(entry, manifest).map((f) => fileStatus(root, entry, f, manifest));
  const required = files.filter((f) => !f.file.optional);
  const state: FileState = required.every((f) => f.state === 'installed')
    ? 'installed'
    : required.every((f) => f.state === 'missing')
      ? 'missing'
      : 'partial';
  const known = required.map((f) => f.expectedBytes);
  return {
    entry,
    dir: modelDir(root, entry),
    state,
    files,
    bytesOnDisk: files.reduce((a, f) => a + f.bytes, 0),
    bytesExpected: known.every((b) => b !== undefined) ? known.reduce((a, b) => a + (b ?? 0), 0) : undefined,
    ...(manifest.synthetic ? { synthetic: manifest.synthetic } : {}),
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Verify.

export interface FileVerdict {
  readonly file: ModelFile;
  readonly path: string;
  /** 'skipped': an optional file that is not there. */
  readonly status: 'ok' | 'failed' | 'skipped';
  /** What was checked, e.g. `size 123`, `sha256 (hub)`, `safetensors header: 14 tensors`. */
  readonly checks: readonly string[];
  readonly problem?: string;
}

export interface VerifyOptions {
  /** Hash the files (slow for GB files); default true. */
  readonly hash?: boolean;
  readonly signal?: AbortSignal;
  readonly onFile?: (v: FileVerdict) => void;
}

export async function verifyModel(root: string, entry: ModelEntry, o: VerifyOptions = {}): Promise<FileVerdict[]> {
  const manifest = readManifest(root, entry);
  const out: FileVerdict[] = [];
  for (const file of expectedFiles(entry, manifest)) {
    if (o.signal?.aborted) throw new CancelledError();
    const v = await verifyFile(root, entry, file, manifest, o);
    o.onFile?.(v);
    out.push(v);
  }
  return out;
}

async function verifyFile(root: string, entry: ModelEntry, file: ModelFile, manifest: Manifest, o: VerifyOptions): Promise<FileVerdict> {
  const p = filePath(root, entry, file);
  const checks: string[] = [];
  const fail = (problem: string): FileVerdict => ({ file, path: p, status: 'failed', checks, problem });
  const size = statSize(p);
  if (size === undefined) {
    if (file.optional) return { file, path: p, status: 'skipped', checks, problem: 'optional, not downloaded' };
    const part = statSize(partialPath(p));
    return fail(part === undefined ? 'missing' : `incomplete download (${part} bytes in ${path.basename(partialPath(p))})`);
  }
  const rec = manifest.files[file.path];
  const expectedBytes = file.bytes ?? rec?.bytes;
  if (expectedBytes !== undefined) {
    if (size !== expectedBytes) return fail(`size ${size} bytes, expected ${expectedBytes}`);
    checks.push(`size ${size}`);
  } else {
    checks.push(`size ${size} (no reference)`);
  }
  if (o.hash ?? true) {
    const expected = file.sha256 ?? (rec?.sha256 || undefined);
    if (expected !== undefined) {
      const got = await sha256File(p, o.signal);
      if (got !== expected.toLowerCase()) return fail(`sha256 ${got}, expected ${expected}`);
      const source = manifest.synthetic ? 'recorded when synthesized' : file.sha256 ? 'registry' : rec?.sha256Source === 'computed' ? 'recorded at download' : rec?.sha256Source;
      checks.push(`sha256 (${source})`);
    } else {
      checks.push('sha256 not known');
    }
  }
  const content = checkContent(p);
  if (content.problem) return fail(content.problem);
  checks.push(content.check);
  return { file, path: p, status: 'ok', checks };
}

/** Cheap structural check by file kind: the header parses, the JSON parses, the zip has its central directory. */
export function checkContent(p: string): { check: string; problem?: string } {
  const ext = path.extname(p).toLowerCase();
  if (ext === '.json') {
    try {
      JSON.parse(fs.readFileSync(p, 'utf8'));
      return { check: 'JSON parses' };
    } catch (e) {
      return { check: '', problem: `not valid JSON (${(e as Error).message})` };
    }
  }
  if (ext === '.safetensors' || ext === '.bin') {
    try {
      const src = openWeightFile(p);
      return { check: `weights readable: ${src.names().length} tensors` };
    } catch (e) {
      // torch .bin files are zips; until the torch-zip reader lands in src/weights, check the zip structure.
      if (ext === '.bin' && isCnextError(e) && e.code === 'WEIGHTS_UNSUPPORTED') return zipCheck(p);
      return { check: '', problem: isCnextError(e) ? e.message : (e as Error).message };
    }
  }
  if (ext === '.task') return zipCheck(p);
  if (ext === '.onnx') return onnxCheck(p);
  return { check: 'no content check for this kind of file' };
}

/**
 * An ONNX ModelProto starts with field 1 (ir_version, varint: byte 0x08) followed by a small version number.
 * Cheap: catches HTML error pages, truncated-to-zero and other-format files; the session open checks the rest.
 */
function onnxCheck(p: string): { check: string; problem?: string } {
  const fd = fs.openSync(p, 'r');
  try {
    const head = Buffer.alloc(2);
    const n = fs.readSync(fd, head, 0, 2, 0);
    if (n < 2 || head[0] !== 0x08 || head[1] < 3 || head[1] > 20) return { check: '', problem: 'not an ONNX model (no ir_version field at byte 0)' };
    return { check: `ONNX header: ir_version ${head[1]}` };
  } finally {
    fs.closeSync(fd);
  }
}

/** A zip starts with a local header and ends with an end-of-central-directory record (within the last 64 KiB + 22). */
function zipCheck(p: string): { check: string; problem?: string } {
  const fd = fs.openSync(p, 'r');
  try {
    const size = fs.fstatSync(fd).size;
    const head = Buffer.alloc(4);
    fs.readSync(fd, head, 0, 4, 0);
    if (size < 22 || head.readUInt32LE(0) !== 0x04034b50) return { check: '', problem: 'not a zip file (no local header at byte 0)' };
    const n = Math.min(size, 65_557);
    const tail = Buffer.alloc(n);
    fs.readSync(fd, tail, 0, n, size - n);
    for (let i = n - 22; i >= 0; i--) {
      if (tail.readUInt32LE(i) === 0x06054b50) {
        const entries = tail.readUInt16LE(i + 10);
        return { check: `zip directory: ${entries === 0xffff ? 'zip64' : entries} entries` };
      }
    }
    return { check: '', problem: 'zip has no end-of-central-directory record (truncated?)' };
  } finally {
    fs.closeSync(fd);
  }
}

export async function sha256File(p: string, signal?: AbortSignal): Promise<string> {
  const h = createHash('sha256');
  const stream = fs.createReadStream(p, { highWaterMark: 1 << 20 });
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    if (signal?.aborted) {
      stream.destroy();
      throw new CancelledError();
    }
    h.update(chunk);
  }
  return h.digest('hex');
}

function statSize(p: string): number | undefined {
  try {
    const st = fs.statSync(p);
    return st.isFile() ? st.size : undefined;
  } catch {
    return undefined;
  }
}

// ---------------------------------------------------------------------------------------------------------------
// For the loaders.

export interface InstalledModel {
  readonly entry: ModelEntry;
  /** The model folder: a diffusers folder for SVD, the weight files for ControlNeXt. */
  readonly dir: string;
}

/**
 * The installed model `name`, or an installed alternative to it (e.g. the fp16 safetensors conversion of
 * ControlNeXt); otherwise a CnextError that says which command fetches it.
 */
export function requireModel(root: string, name: string, registry: readonly ModelEntry[]): InstalledModel {
  const entry = registry.find((m) => m.name === name);
  if (!entry) throw new CnextError('MODEL_UNKNOWN', `Unknown model '${name}'. Known: ${registry.map((m) => m.name).join(', ')}`);
  for (const candidate of [entry, ...registry.filter((m) => m.alternativeTo === name)]) {
    if (modelStatus(root, candidate).state === 'installed') return { entry: candidate, dir: modelDir(root, candidate) };
  }
  const status = modelStatus(root, entry);
  const fix =
    entry.source.kind === 'hf'
      ? [
          `Run: cnext models pull ${name}${status.state === 'partial' ? ' (it resumes the partial download)' : ''}`,
          ...(entry.source.gated ? ['The model is gated: accept its licence on the hub and set HF_TOKEN first.'] : []),
        ]
      : [`It is built locally by ${entry.source.builder} from ${entry.source.from}.`];
  throw new CnextError(
    'MODEL_MISSING',
    `Model ${name} is ${status.state === 'partial' ? 'incomplete' : 'not installed'} in ${root}` +
      (status.state === 'partial'
        ? ` (missing or partial: ${status.files.filter((f) => !f.file.optional && f.state !== 'installed').map((f) => f.file.path).join(', ')})`
        : ''),
    { category: 'user', solutions: [...fix, 'Or point to another models folder with --models DIR or CNEXT_CACHE.'] },
  );
}
