// Resumable HTTP downloads of single files, and `pullModel` which fetches a registry entry into the cache.
//
// One file: GET with `Range: bytes=<size of file.partial>-` → follow redirects (hub → CDN; the bearer token goes only
// to the hub's origin) → append to `file.partial` while hashing → check size and sha256 → rename onto the final name.
// Interrupted, cancelled or disk-full downloads keep `file.partial`; running the same command again resumes it.
// Node's http/https only: no dependency, and full control over redirects and headers.
import { createHash, type Hash } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import path from 'node:path';
import { CancelledError, CnextError } from '../src/core/errors.ts';
import { acquirePidLock, describeOwner } from '../src/core/pid-lock.ts';
import { noEmit, type EmitFn } from '../src/core/events.ts';
import { readManifest, recordDownload } from './cache.ts';
import { PARTIAL_SUFFIX, filePath, partialPath } from './layout.ts';
import { filesToPull, remotePath, type ModelEntry, type ModelFile } from './registry.ts';

export const DEFAULT_ENDPOINT = 'https://huggingface.co';
const REDIRECTS = new Set([301, 302, 303, 307, 308]);
const SHA256_HEX = /^[0-9a-f]{64}$/;

export interface DownloadOptions {
  readonly url: string;
  readonly dest: string;
  /** Size from the registry, when known. */
  readonly expectedBytes?: number;
  /** sha256 from the registry, when known; otherwise the hub's `X-Linked-Etag` is used when it is one. */
  readonly sha256?: string;
  readonly token?: string;
  /** The only origin (`scheme://host:port`) the token is sent to: the hub's. */
  readonly authOrigin?: string;
  /** Model page, named in the "gated" error. */
  readonly repoPage?: string;
  readonly signal?: AbortSignal;
  /** Bytes done (including resumed ones) and total when known. Called at most every `progressMs`, and at the end. */
  readonly onProgress?: (done: number, total: number | undefined) => void;
  readonly progressMs?: number;
  readonly maxRedirects?: number;
  /** A connection silent for this long counts as dropped. */
  readonly idleTimeoutMs?: number;
  /** Free-space probe (tests); default `fs.statfsSync`. */
  readonly diskFree?: (dir: string) => number | undefined;
}

export interface DownloadResult {
  readonly path: string;
  readonly bytes: number;
  readonly sha256: string;
  /** Where the sha256 it was checked against came from; 'computed' = nothing to check against, hash recorded. */
  readonly sha256Source: 'registry' | 'hub' | 'computed';
  /** `X-Repo-Commit` of the hub response, when given. */
  readonly commit?: string;
  /** Bytes that were already in `file.partial` and kept. */
  readonly resumedFrom: number;
}

interface HubHeaders {
  linkedSize?: number;
  linkedSha256?: string;
  commit?: string;
}

const resumeHint = 'Resume by running the same command again (the partial file is kept).';

export async function downloadFile(o: DownloadOptions): Promise<DownloadResult> {
  if (o.signal?.aborted) throw cancelled();
  await fs.promises.mkdir(path.dirname(o.dest), { recursive: true });
  const part = partialPath(o.dest);
  const unlock = lockPartial(part);
  try {
    return await download(o, part);
  } finally {
    unlock();
  }
}

/**
 * One writer per partial file: `file.partial.lock` holds the writer's pid (src/core/pid-lock.ts). A lock whose
 * process is gone (crash, kill -9) is taken over.
 */
function lockPartial(part: string): () => void {
  const lock = `${part}.lock`;
  return acquirePidLock(lock, (owner) =>
    new CnextError('DOWNLOAD_LOCKED', `${path.basename(part, PARTIAL_SUFFIX)} is being downloaded by another process (${describeOwner(owner)}).`, {
      category: 'user', solutions: [`Wait for it to finish, or stop it; if no such download runs, delete ${lock}.`],
    }),
  );
}

/** Free bytes for an unprivileged writer on the filesystem holding `dir`; undefined when unknown. */
export function diskFree(dir: string): number | undefined {
  try {
    const st = fs.statfsSync(dir);
    return st.bavail * st.bsize;
  } catch {
    return undefined;
  }
}

async function download(o: DownloadOptions, part: string): Promise<DownloadResult> {
  let offset = sizeOf(part) ?? 0;
  if (o.expectedBytes !== undefined && offset > o.expectedBytes) {
    await fs.promises.rm(part, { force: true });
    offset = 0;
  }
  let restarts = 0;
  for (;;) {
    const hasher = createHash('sha256');
    if (offset > 0) await hashPrefix(part, offset, hasher, o.signal);
    const { res, url, hub } = await openResponse(o, offset);
    const status = res.statusCode ?? 0;
    let total: number | undefined;
    let start = offset;
    if (status === 206) {
      const range = parseContentRange(res.headers['content-range']);
      if (!range || range.start !== offset) {
        // A range we did not ask for: start over from byte 0.
        res.destroy();
        if (++restarts > 2) throw httpError(o, url, status, 'answers byte ranges inconsistently');
        await fs.promises.rm(part, { force: true });
        offset = 0;
        continue;
      }
      total = range.total;
    } else if (status === 200) {
      // The server ignored our Range header: it sends the whole file, so restart the partial file from byte 0.
      start = 0;
      total = contentLength(res);
    } else if (status === 416) {
      res.resume();
      const range = parseContentRange(res.headers['content-range']);
      const size = range?.total ?? hub.linkedSize;
      if (offset > 0 && size === offset) {
        return finish(o, part, offset, offset, hasher, hub, url, offset);
      }
      if (++restarts > 2 || offset === 0) throw httpError(o, url, status, 'refuses the byte range');
      await fs.promises.rm(part, { force: true });
      offset = 0;
      continue;
    } else {
      res.resume();
      throw httpError(o, url, status);
    }
    const expected = o.expectedBytes ?? hub.linkedSize;
    if (expected !== undefined && total !== undefined && total !== expected) {
      res.destroy();
      throw new CnextError(
        'DOWNLOAD_SIZE_MISMATCH',
        `${url.href} serves ${total} bytes but ${o.expectedBytes !== undefined ? 'the registry' : 'the hub'} lists ${expected} for ${o.dest}`,
        { category: 'third-party', solutions: ['Try again later; if it persists the registry entry is out of date.'] },
      );
    }
    if (total !== undefined) {
      const free = (o.diskFree ?? diskFree)(path.dirname(part));
      if (free !== undefined && total - start > free) {
        res.destroy();
        throw new CnextError(
          'DISK_FULL',
          `Not enough disk space for ${path.basename(o.dest)}: ${total - start} more bytes are needed, ${free} are free in ` +
            `${path.dirname(part)}.${start > 0 ? ' The partial file is kept.' : ''}`,
          {
            category: 'system',
            solutions: [
              'Free some space, then run the same command again.',
              'Or keep models elsewhere: --models DIR or CNEXT_CACHE=DIR.',
            ],
          },
        );
      }
    }
    const h = start === offset ? hasher : createHash('sha256');
    const written = await writeBody(o, res, part, start, total, h, url);
    return finish(o, part, written, total, h, hub, url, start);
  }
}

async function finish(
  o: DownloadOptions,
  part: string,
  bytes: number,
  total: number | undefined,
  hasher: Hash,
  hub: HubHeaders,
  url: URL,
  resumedFrom: number,
): Promise<DownloadResult> {
  if (total !== undefined && bytes < total) {
    throw new CnextError(
      'DOWNLOAD_INTERRUPTED',
      `The connection to ${url.host} closed after ${bytes} of ${total} bytes of ${path.basename(o.dest)}. ${resumeHint}`,
      { category: 'third-party', solutions: ['Run the same command again to resume.'] },
    );
  }
  const expectedBytes = o.expectedBytes ?? hub.linkedSize;
  if (expectedBytes !== undefined && bytes !== expectedBytes) {
    await fs.promises.rm(part, { force: true });
    throw new CnextError(
      'DOWNLOAD_SIZE_MISMATCH',
      `Downloaded ${bytes} bytes for ${o.dest} but expected ${expectedBytes}; the file was deleted.`,
      { category: 'third-party', solutions: ['Run the same command again to download it afresh.'] },
    );
  }
  const sha256 = hasher.digest('hex');
  const expectedSha = o.sha256 ?? hub.linkedSha256;
  if (expectedSha !== undefined && sha256 !== expectedSha.toLowerCase()) {
    await fs.promises.rm(part, { force: true });
    throw new CnextError(
      'DOWNLOAD_CHECKSUM_MISMATCH',
      `Checksum mismatch for ${o.dest}: expected sha256 ${expectedSha} (from the ${o.sha256 ? 'registry' : 'hub'}) ` +
        `but the downloaded file has ${sha256}; the corrupt file was deleted.`,
      { category: 'third-party', solutions: ['Run the same command again to download it afresh.'] },
    );
  }
  o.onProgress?.(bytes, bytes);
  await fs.promises.rename(part, o.dest);
  return {
    path: o.dest,
    bytes,
    sha256,
    sha256Source: o.sha256 ? 'registry' : hub.linkedSha256 ? 'hub' : 'computed',
    commit: hub.commit,
    resumedFrom,
  };
}

/** GET `o.url`, following redirects; the token is only sent while the request goes to `o.authOrigin`. */
async function openResponse(
  o: DownloadOptions,
  offset: number,
): Promise<{ res: http.IncomingMessage; url: URL; hub: HubHeaders }> {
  let url = parseUrl(o.url);
  const hub: HubHeaders = {};
  const maxRedirects = o.maxRedirects ?? 10;
  for (let hops = 0; ; hops++) {
    const headers: Record<string, string> = {
      'user-agent': 'controlnext-motion (cnext models)',
      'accept-encoding': 'identity',
    };
    if (offset > 0) headers.range = `bytes=${offset}-`;
    if (o.token && o.authOrigin && url.origin === o.authOrigin) headers.authorization = `Bearer ${o.token}`;
    const res = await request(url, headers, o);
    collectHubHeaders(res, hub);
    if (!REDIRECTS.has(res.statusCode ?? 0)) return { res, url, hub };
    res.resume();
    const location = res.headers.location;
    if (!location) throw httpError(o, url, res.statusCode ?? 0, 'redirects without a Location header');
    if (hops + 1 > maxRedirects) {
      throw new CnextError('DOWNLOAD_TOO_MANY_REDIRECTS', `More than ${maxRedirects} redirects while fetching ${o.url}`, {
        category: 'third-party',
      });
    }
    url = parseUrl(location, url);
  }
}

function parseUrl(s: string, base?: URL): URL {
  let u: URL;
  try {
    u = new URL(s, base);
  } catch {
    throw new CnextError('DOWNLOAD_BAD_URL', `Not a valid URL: ${s}`, { category: base ? 'third-party' : 'user' });
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') {
    throw new CnextError('DOWNLOAD_BAD_URL', `Only http and https URLs can be downloaded, not ${u.href}`, {
      category: base ? 'third-party' : 'user',
    });
  }
  return u;
}

function request(url: URL, headers: Record<string, string>, o: DownloadOptions): Promise<http.IncomingMessage> {
  const mod = url.protocol === 'https:' ? https : http;
  return new Promise((resolve, reject) => {
    const req = mod.request(url, { method: 'GET', headers });
    const onAbort = (): void => {
      req.destroy(cancelled());
    };
    o.signal?.addEventListener('abort', onAbort, { once: true });
    let response: http.IncomingMessage | undefined;
    req.setTimeout(o.idleTimeoutMs ?? 60_000, () => {
      const err = Object.assign(new Error(`no data for ${o.idleTimeoutMs ?? 60_000} ms`), { code: 'ETIMEDOUT' });
      response?.destroy(err); // the body reader sees this error rather than a bare 'aborted'
      req.destroy(err);
    });
    req.on('response', (res) => {
      response = res;
      res.on('close', () => o.signal?.removeEventListener('abort', onAbort));
      resolve(res);
    });
    req.on('error', (e) => {
      o.signal?.removeEventListener('abort', onAbort);
      if (e instanceof CancelledError) return reject(e);
      reject(
        new CnextError('DOWNLOAD_NETWORK', `Cannot download ${url.href}: ${(e as Error).message}`, {
          category: 'third-party',
          cause: e,
          solutions: [
            'Check the network connection (and HF_ENDPOINT, if set).',
            'Run the same command again: finished files and partial files are kept.',
          ],
        }),
      );
    });
    req.end();
  });
}

function collectHubHeaders(res: http.IncomingMessage, hub: HubHeaders): void {
  const h = res.headers;
  const size = Number(h['x-linked-size']);
  if (hub.linkedSize === undefined && h['x-linked-size'] !== undefined && Number.isSafeInteger(size) && size >= 0) {
    hub.linkedSize = size;
  }
  const etag = String(h['x-linked-etag'] ?? '').replace(/^W\//, '').replace(/"/g, '').toLowerCase();
  // For Git LFS files the hub's linked ETag is the file's sha256 (64 hex); git blob ETags are 40-hex sha1s.
  if (hub.linkedSha256 === undefined && SHA256_HEX.test(etag)) hub.linkedSha256 = etag;
  const commit = h['x-repo-commit'];
  if (hub.commit === undefined && typeof commit === 'string' && commit) hub.commit = commit;
}

async function writeBody(
  o: DownloadOptions,
  res: http.IncomingMessage,
  part: string,
  start: number,
  total: number | undefined,
  hasher: Hash,
  url: URL,
): Promise<number> {
  let fh: fs.promises.FileHandle;
  try {
    fh = await fs.promises.open(part, start === 0 ? 'w' : 'r+');
    if (start > 0 && (await fh.stat()).size !== start) await fh.truncate(start);
  } catch (e) {
    res.destroy();
    throw writeError(e, part, start, total);
  }
  let pos = start;
  let last = 0;
  const every = o.progressMs ?? 200;
  try {
    for await (const chunk of res as AsyncIterable<Buffer>) {
      try {
        await fh.write(chunk, 0, chunk.length, pos);
      } catch (e) {
        res.destroy();
        throw writeError(e, part, pos, total);
      }
      hasher.update(chunk);
      pos += chunk.length;
      const now = performance.now();
      if (o.onProgress && now - last >= every) {
        last = now;
        o.onProgress(pos, total);
      }
    }
  } catch (e) {
    if (e instanceof CnextError) throw e;
    if (o.signal?.aborted) throw cancelled();
    throw new CnextError(
      'DOWNLOAD_INTERRUPTED',
      `The connection to ${url.host} dropped after ${pos}${total !== undefined ? ` of ${total}` : ''} bytes of ` +
        `${path.basename(o.dest)} (${(e as Error).message}). ${resumeHint}`,
      { category: 'third-party', cause: e, solutions: ['Run the same command again to resume.'] },
    );
  } finally {
    await fh.close();
  }
  if (o.signal?.aborted) throw cancelled();
  return pos;
}

function writeError(e: unknown, part: string, pos: number, total: number | undefined): CnextError {
  const code = (e as NodeJS.ErrnoException).code;
  if (code === 'ENOSPC' || code === 'EDQUOT') {
    const need = total !== undefined ? `at least ${total - pos} more bytes` : 'more space';
    return new CnextError(
      'DISK_FULL',
      `No space left on the device while writing ${part} (${pos}${total !== undefined ? ` of ${total}` : ''} bytes written). ` +
        `The partial file is kept.`,
      {
        category: 'system',
        cause: e,
        solutions: [
          `Free ${need} on the disk holding ${path.dirname(part)}, then run the same command again to resume.`,
          'Or keep models elsewhere: --models DIR or CNEXT_CACHE=DIR.',
        ],
      },
    );
  }
  return new CnextError('DOWNLOAD_WRITE_FAILED', `Cannot write ${part}: ${(e as Error).message}`, {
    category: 'system',
    cause: e,
  });
}

function httpError(o: DownloadOptions, url: URL, status: number, why?: string): CnextError {
  const where = url.href === o.url ? o.url : `${o.url} (redirected to ${url.href})`;
  const page = o.repoPage ?? 'the model page';
  if (status === 401 || status === 403) {
    if (!o.token) {
      return new CnextError('DOWNLOAD_GATED', `${where} needs a Hugging Face access token (HTTP ${status}): the repository is gated (or private).`, {
        category: 'user',
        solutions: [
          `Open ${page}, log in and accept the licence.`,
          'Create a read token at https://huggingface.co/settings/tokens and set it: export HF_TOKEN=hf_...',
          'Run the same command again (files already downloaded are kept).',
        ],
      });
    }
    return new CnextError(
      'DOWNLOAD_FORBIDDEN',
      status === 401
        ? `${where} rejected the token in HF_TOKEN (HTTP 401): it is invalid or expired.`
        : `${where} refused access with the token in HF_TOKEN (HTTP 403): the licence of this gated model is not accepted for that account yet.`,
      {
        category: 'user',
        solutions: [
          `Open ${page} logged in as the token's owner and accept the licence (access may need approval).`,
          'Check that HF_TOKEN holds a valid read token (https://huggingface.co/settings/tokens).',
        ],
      },
    );
  }
  if (status === 404) {
    return new CnextError('DOWNLOAD_NOT_FOUND', `Not found (HTTP 404): ${where}`, {
      category: 'third-party',
      solutions: ['The file may have moved in the repository; check the registry entry (models/registry.ts) and HF_ENDPOINT.'],
    });
  }
  return new CnextError('DOWNLOAD_HTTP_ERROR', `HTTP ${status} from ${where}${why ? `: the server ${why}` : ''}`, {
    category: 'third-party',
    solutions: ['Try again later; partial files are kept and resumed.'],
  });
}

function cancelled(): CancelledError {
  return new CancelledError(`Download cancelled. ${resumeHint}`);
}

function sizeOf(p: string): number | undefined {
  try {
    return fs.statSync(p).size;
  } catch {
    return undefined;
  }
}

function contentLength(res: http.IncomingMessage): number | undefined {
  const n = Number(res.headers['content-length']);
  return res.headers['content-length'] !== undefined && Number.isSafeInteger(n) && n >= 0 ? n : undefined;
}

export function parseContentRange(v: string | undefined): { start: number; end: number; total?: number } | undefined {
  if (!v) return undefined;
  const m = /^bytes\s+(?:(\d+)-(\d+)|\*)\/(\d+|\*)$/.exec(v.trim());
  if (!m) return undefined;
  const total = m[3] === '*' ? undefined : Number(m[3]);
  if (m[1] === undefined) return total === undefined ? undefined : { start: -1, end: -1, total };
  return { start: Number(m[1]), end: Number(m[2]), total };
}

async function hashPrefix(file: string, bytes: number, hasher: Hash, signal?: AbortSignal): Promise<void> {
  const stream = fs.createReadStream(file, { start: 0, end: bytes - 1, highWaterMark: 1 << 20 });
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    if (signal?.aborted) {
      stream.destroy();
      throw cancelled();
    }
    hasher.update(chunk);
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Pulling a registry entry.

export interface PullOptions {
  readonly root: string;
  /** Hub base URL; default `HF_ENDPOINT` or https://huggingface.co. */
  readonly endpoint?: string;
  /** Default `HF_TOKEN` (or the older `HUGGING_FACE_HUB_TOKEN`). */
  readonly token?: string;
  readonly allFiles?: boolean;
  readonly signal?: AbortSignal;
  readonly emit?: EmitFn;
  /** Automatic resumes after a dropped connection, per file. */
  readonly retries?: number;
  readonly progressMs?: number;
}

export interface PulledFile {
  readonly file: ModelFile;
  readonly path: string;
  readonly status: 'downloaded' | 'present';
  readonly bytes: number;
  readonly result?: DownloadResult;
}

export function hubEndpoint(env: NodeJS.ProcessEnv = process.env): string {
  return (env.HF_ENDPOINT || DEFAULT_ENDPOINT).replace(/\/+$/, '');
}

export function hubToken(env: NodeJS.ProcessEnv = process.env): string | undefined {
  return env.HF_TOKEN || env.HUGGING_FACE_HUB_TOKEN || undefined;
}

export function resolveUrl(endpoint: string, repo: string, revision: string, file: ModelFile): string {
  const p = remotePath(file).split('/').map(encodeURIComponent).join('/');
  return `${endpoint.replace(/\/+$/, '')}/${repo}/resolve/${encodeURIComponent(revision)}/${p}`;
}

export async function pullModel(entry: ModelEntry, o: PullOptions): Promise<PulledFile[]> {
  const source = entry.source;
  if (source.kind !== 'hf') {
    throw new CnextError(
      'MODEL_NOT_DOWNLOADABLE',
      `${entry.name} is built locally from ${source.from} by ${source.builder}; it is not downloaded.`,
      { category: 'user' },
    );
  }
  const endpoint = (o.endpoint ?? hubEndpoint()).replace(/\/+$/, '');
  const token = o.token ?? hubToken();
  const emit = o.emit ?? noEmit;
  const authOrigin = parseUrl(endpoint).origin;
  const out: PulledFile[] = [];
  for (const file of filesToPull(entry, o.allFiles ?? false)) {
    if (o.signal?.aborted) throw cancelled();
    const dest = filePath(o.root, entry, file);
    const label = `${entry.name}/${file.path}`;
    const present = presentSize(o.root, entry, file, dest);
    if (present !== undefined) {
      emit({ type: 'log', level: 'info', message: `${label}: already present (${present} bytes)` });
      out.push({ file, path: dest, status: 'present', bytes: present });
      continue;
    }
    const url = resolveUrl(endpoint, source.repo, source.revision, file);
    const t0 = performance.now();
    emit({ type: 'stage-start', stage: 'download', total: file.bytes, label });
    let result: DownloadResult | undefined;
    for (let attempt = 0; ; attempt++) {
      try {
        result = await downloadFile({
          url,
          dest,
          expectedBytes: file.bytes,
          sha256: file.sha256,
          token,
          authOrigin,
          repoPage: `${endpoint}/${source.repo}`,
          signal: o.signal,
          progressMs: o.progressMs,
          onProgress: (done, total) =>
            emit({ type: 'progress', stage: 'download', done, total: total ?? file.bytes ?? 0, unit: 'bytes' }),
        });
        break;
      } catch (e) {
        const retryable = e instanceof CnextError && e.code === 'DOWNLOAD_INTERRUPTED';
        if (!retryable || attempt >= (o.retries ?? 0)) throw e;
        emit({ type: 'log', level: 'warn', message: `${label}: ${e.message} Resuming (attempt ${attempt + 2}).` });
      }
    }
    recordDownload(o.root, entry, file.path, {
      bytes: result.bytes,
      sha256: result.sha256,
      sha256Source: result.sha256Source,
      url,
      commit: result.commit,
      downloadedAt: new Date().toISOString(),
    });
    emit({ type: 'artifact', kind: 'model-file', path: dest });
    emit({ type: 'stage-end', stage: 'download', seconds: (performance.now() - t0) / 1000 });
    out.push({ file, path: dest, status: 'downloaded', bytes: result.bytes, result });
  }
  return out;
}

/** Size of an already complete file, or undefined when it must be (re)downloaded. */
function presentSize(root: string, entry: ModelEntry, file: ModelFile, dest: string): number | undefined {
  const size = sizeOf(dest);
  if (size === undefined) return undefined;
  const known = file.bytes ?? readManifest(root, entry).files[file.path]?.bytes;
  return known === undefined || known === size ? size : undefined;
}
