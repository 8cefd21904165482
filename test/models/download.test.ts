import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { CnextError } from '../../src/core/errors.ts';
import type { JobEvent } from '../../src/core/events.ts';
import { readManifest } from '../../models/cache.ts';
import { downloadFile, parseContentRange, pullModel, resolveUrl } from '../../models/download.ts';
import type { ModelEntry } from '../../models/registry.ts';
import { startHubServer, type HubServer } from '../helpers/hub-server.ts';

const BIG = randomBytes(300_000);
const SMALL = Buffer.from(JSON.stringify({ _class_name: 'UNetSpatioTemporalConditionModel', in_channels: 8 }));
const WEIGHTS = randomBytes(50_000);

let hub: HubServer;
let dir: string;

beforeAll(async () => {
  hub = await startHubServer({
    'acme/open': { files: { 'big.bin': BIG, 'unet/config.json': SMALL, 'sub/dir/w.bin': WEIGHTS } },
    'acme/gated': { gated: true, files: { 'big.bin': BIG, 'config.json': SMALL } },
  });
});
afterAll(async () => hub.close());
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cnext-dl-'));
  hub.requests.length = 0;
  hub.faults.dropAfter.clear();
  hub.faults.stallAfter.clear();
  hub.faults.corrupt.clear();
  hub.faults.ignoreRange = false;
  hub.faults.relativeRedirect = false;
  hub.faults.redirectLoop = false;
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

const url = (repo: string, p: string): string => `${hub.endpoint}/${repo}/resolve/main/${p}`;

async function rejection(p: Promise<unknown>): Promise<CnextError> {
  const e = await p.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(CnextError);
  return e as CnextError;
}

describe('downloadFile', () => {
  it('follows the hub redirect to the CDN and checks the sha256 the hub reports', async () => {
    const dest = path.join(dir, 'big.bin');
    const progress: Array<[number, number | undefined]> = [];
    const r = await downloadFile({ url: url('acme/open', 'big.bin'), dest, progressMs: 0, onProgress: (d, t) => progress.push([d, t]) });
    expect(fs.readFileSync(dest).equals(BIG)).toBe(true);
    expect(r).toMatchObject({ bytes: BIG.length, sha256: hub.sha256(BIG), sha256Source: 'hub', commit: hub.commit, resumedFrom: 0 });
    expect(fs.existsSync(dest + '.partial')).toBe(false);
    expect(hub.requests.map((q) => [q.server, q.status])).toEqual([['hub', 302], ['cdn', 200]]);
    expect(progress.at(-1)).toEqual([BIG.length, BIG.length]);
    for (let i = 1; i < progress.length; i++) expect(progress[i]![0]).toBeGreaterThanOrEqual(progress[i - 1]![0]);
  });

  it('downloads a small file served directly by the hub (git ETag is not taken for a sha256)', async () => {
    const dest = path.join(dir, 'unet', 'config.json');
    const r = await downloadFile({ url: url('acme/open', 'unet/config.json'), dest });
    expect(fs.readFileSync(dest, 'utf8')).toBe(SMALL.toString());
    expect(r.sha256Source).toBe('computed');
    expect(r.sha256).toBe(hub.sha256(SMALL));
  });

  it('sends the token to the hub only, never to the CDN', async () => {
    await downloadFile({
      url: url('acme/gated', 'big.bin'),
      dest: path.join(dir, 'g.bin'),
      token: hub.token,
      authOrigin: new URL(hub.endpoint).origin,
    });
    const [h, c] = hub.requests;
    expect(h).toMatchObject({ server: 'hub', status: 302, authorization: `Bearer ${hub.token}` });
    expect(c).toMatchObject({ server: 'cdn', status: 200 });
    expect(c!.authorization).toBeUndefined();
  });

  it('keeps the token across a relative redirect on the hub, drops it at the CDN', async () => {
    hub.faults.relativeRedirect = true;
    const dest = path.join(dir, 'g.bin');
    await downloadFile({ url: url('acme/gated', 'big.bin'), dest, token: hub.token, authOrigin: hub.endpoint });
    expect(fs.readFileSync(dest).equals(BIG)).toBe(true);
    expect(hub.requests.map((q) => [q.server, q.status, q.authorization !== undefined])).toEqual([
      ['hub', 302, true],
      ['hub', 302, true],
      ['cdn', 200, false],
    ]);
  });

  it('resumes after a dropped connection and the sha256 matches', async () => {
    hub.faults.dropAfter.set('big.bin', 120_000);
    const dest = path.join(dir, 'big.bin');
    const e = await rejection(downloadFile({ url: url('acme/open', 'big.bin'), dest }));
    expect(e.code).toBe('DOWNLOAD_INTERRUPTED');
    expect(e.message).toMatch(/Resume by running the same command again/);
    const kept = fs.statSync(dest + '.partial').size;
    expect(kept).toBeGreaterThan(0);
    expect(kept).toBeLessThan(BIG.length);
    expect(fs.existsSync(dest)).toBe(false);

    const r = await downloadFile({ url: url('acme/open', 'big.bin'), dest });
    expect(r.resumedFrom).toBe(kept);
    expect(r.sha256).toBe(hub.sha256(BIG));
    expect(fs.readFileSync(dest).equals(BIG)).toBe(true);
    const cdn = hub.requests.filter((q) => q.server === 'cdn');
    expect(cdn.at(-1)).toMatchObject({ range: `bytes=${kept}-`, status: 206 });
  });

  it('restarts from byte 0 when the server answers 200 to a Range request', async () => {
    const dest = path.join(dir, 'big.bin');
    fs.writeFileSync(dest + '.partial', Buffer.alloc(1000, 7)); // garbage that must not survive
    hub.faults.ignoreRange = true;
    const r = await downloadFile({ url: url('acme/open', 'big.bin'), dest });
    expect(fs.readFileSync(dest).equals(BIG)).toBe(true);
    expect(r.resumedFrom).toBe(0);
    expect(r.sha256).toBe(hub.sha256(BIG));
    expect(hub.requests.at(-1)).toMatchObject({ server: 'cdn', range: 'bytes=1000-', status: 200 });
  });

  it('finishes a complete partial file on 416 without downloading it again', async () => {
    const dest = path.join(dir, 'big.bin');
    fs.writeFileSync(dest + '.partial', BIG);
    const r = await downloadFile({ url: url('acme/open', 'big.bin'), dest });
    expect(hub.requests.at(-1)).toMatchObject({ server: 'cdn', status: 416 });
    expect(r).toMatchObject({ bytes: BIG.length, sha256: hub.sha256(BIG), sha256Source: 'hub' });
    expect(fs.readFileSync(dest).equals(BIG)).toBe(true);
  });

  it('a partial file longer than the registry size is discarded', async () => {
    const dest = path.join(dir, 'big.bin');
    fs.writeFileSync(dest + '.partial', Buffer.alloc(BIG.length + 5));
    const r = await downloadFile({ url: url('acme/open', 'big.bin'), dest, expectedBytes: BIG.length });
    expect(r.resumedFrom).toBe(0);
    expect(fs.readFileSync(dest).equals(BIG)).toBe(true);
  });

  it('a connection that goes silent counts as dropped; the next run resumes', async () => {
    hub.faults.stallAfter.set('big.bin', 70_000);
    const dest = path.join(dir, 'big.bin');
    const e = await rejection(downloadFile({ url: url('acme/open', 'big.bin'), dest, idleTimeoutMs: 300 }));
    expect(e.code).toBe('DOWNLOAD_INTERRUPTED');
    expect(e.message).toMatch(/dropped after 70000 of 300000 bytes of big\.bin \(no data for 300 ms\)\. Resume by running/);
    const r = await downloadFile({ url: url('acme/open', 'big.bin'), dest });
    expect(r).toMatchObject({ resumedFrom: 70_000, sha256: hub.sha256(BIG) });
  });

  it('wrong checksum: deletes the file and says so', async () => {
    hub.faults.corrupt.add('big.bin');
    const dest = path.join(dir, 'big.bin');
    const e = await rejection(downloadFile({ url: url('acme/open', 'big.bin'), dest }));
    expect(e.code).toBe('DOWNLOAD_CHECKSUM_MISMATCH');
    expect(e.message).toContain(`expected sha256 ${hub.sha256(BIG)} (from the hub)`);
    expect(e.message).toContain('the corrupt file was deleted');
    expect(fs.existsSync(dest)).toBe(false);
    expect(fs.existsSync(dest + '.partial')).toBe(false);
  });

  it('registry sha256 wins over the hub and is checked', async () => {
    const dest = path.join(dir, 'big.bin');
    const e = await rejection(downloadFile({ url: url('acme/open', 'big.bin'), dest, sha256: '0'.repeat(64) }));
    expect(e.code).toBe('DOWNLOAD_CHECKSUM_MISMATCH');
    expect(e.message).toContain('(from the registry)');
    const r = await downloadFile({ url: url('acme/open', 'big.bin'), dest, sha256: hub.sha256(BIG) });
    expect(r.sha256Source).toBe('registry');
  });

  it('registry size that disagrees with the server is an error naming both', async () => {
    const e = await rejection(
      downloadFile({ url: url('acme/open', 'big.bin'), dest: path.join(dir, 'b'), expectedBytes: 123 }),
    );
    expect(e.code).toBe('DOWNLOAD_SIZE_MISMATCH');
    expect(e.message).toContain(`serves ${BIG.length} bytes but the registry lists 123`);
  });

  it('gated repo without a token: explains the licence and HF_TOKEN', async () => {
    const u = url('acme/gated', 'big.bin');
    const e = await rejection(
      downloadFile({ url: u, dest: path.join(dir, 'g'), authOrigin: hub.endpoint, repoPage: `${hub.endpoint}/acme/gated` }),
    );
    expect(e.code).toBe('DOWNLOAD_GATED');
    expect(e.message).toBe(`${u} needs a Hugging Face access token (HTTP 401): the repository is gated (or private).`);
    expect(e.describe()).toContain(`Open ${hub.endpoint}/acme/gated, log in and accept the licence.`);
    expect(e.describe()).toContain('export HF_TOKEN=');
  });

  it('gated repo with a token that has no access: 403 explained', async () => {
    const e = await rejection(
      downloadFile({ url: url('acme/gated', 'big.bin'), dest: path.join(dir, 'g'), token: 'hf_wrong', authOrigin: hub.endpoint }),
    );
    expect(e.code).toBe('DOWNLOAD_FORBIDDEN');
    expect(e.message).toMatch(/HTTP 403.*licence of this gated model is not accepted/);
  });

  it('404 names the URL', async () => {
    const u = url('acme/open', 'nope.bin');
    const e = await rejection(downloadFile({ url: u, dest: path.join(dir, 'n') }));
    expect(e.code).toBe('DOWNLOAD_NOT_FOUND');
    expect(e.message).toBe(`Not found (HTTP 404): ${u}`);
  });

  it('stops after the redirect limit', async () => {
    hub.faults.redirectLoop = true;
    const e = await rejection(downloadFile({ url: url('acme/open', 'big.bin'), dest: path.join(dir, 'n'), maxRedirects: 4 }));
    expect(e.code).toBe('DOWNLOAD_TOO_MANY_REDIRECTS');
    expect(hub.requests).toHaveLength(5);
  });

  it('an unreachable host is a clear network error', async () => {
    const closed = await startHubServer({});
    const endpoint = closed.endpoint;
    await closed.close();
    const e = await rejection(downloadFile({ url: `${endpoint}/a/b/resolve/main/x`, dest: path.join(dir, 'x') }));
    expect(e.code).toBe('DOWNLOAD_NETWORK');
    expect(e.message).toMatch(/^Cannot download http:\/\/127\.0\.0\.1:\d+\/a\/b\/resolve\/main\/x: .*ECONNREFUSED/);
  });

  it('abort keeps the partial file for resume', async () => {
    hub.faults.dropAfter.set('big.bin', 100_000); // stalls the body after 100 kB, then drops
    const ac = new AbortController();
    const dest = path.join(dir, 'big.bin');
    const p = downloadFile({
      url: url('acme/open', 'big.bin'),
      dest,
      signal: ac.signal,
      progressMs: 0,
      onProgress: (d) => {
        if (d >= 50_000) ac.abort();
      },
    });
    const e = await rejection(p);
    expect(e.code).toBe('CANCELLED');
    expect(e.message).toMatch(/Download cancelled\. Resume by running the same command again/);
    expect(fs.statSync(dest + '.partial').size).toBeGreaterThan(0);
    const r = await downloadFile({ url: url('acme/open', 'big.bin'), dest });
    expect(r.sha256).toBe(hub.sha256(BIG));
  });

  it.runIf(fs.existsSync('/dev/full'))('disk full (ENOSPC) is a clear error and keeps the partial file', async () => {
    const dest = path.join(dir, 'big.bin');
    fs.symlinkSync('/dev/full', dest + '.partial');
    const e = await rejection(downloadFile({ url: url('acme/open', 'big.bin'), dest }));
    expect(e.code).toBe('DISK_FULL');
    expect(e.category).toBe('system');
    expect(e.message).toMatch(/^No space left on the device while writing .*big\.bin\.partial \(0 of 300000 bytes written\)\. The partial file is kept\.$/);
    expect(e.describe()).toContain('run the same command again to resume');
    expect(fs.lstatSync(dest + '.partial').isSymbolicLink()).toBe(true);
  });
});

describe('downloadFile guards', () => {
  it('refuses to write a partial file another live process is writing, takes over a stale lock', async () => {
    const dest = path.join(dir, 'big.bin');
    fs.writeFileSync(dest + '.partial.lock', `${process.pid}\n`);
    const e = await rejection(downloadFile({ url: url('acme/open', 'big.bin'), dest }));
    expect(e.code).toBe('DOWNLOAD_LOCKED');
    expect(e.message).toBe(`big.bin is being downloaded by another process (pid ${process.pid}).`);
    expect(hub.requests).toEqual([]);

    const dead = spawnSync(process.execPath, ['-e', '0']).pid!;
    fs.writeFileSync(dest + '.partial.lock', `${dead}\n`);
    await downloadFile({ url: url('acme/open', 'big.bin'), dest });
    expect(fs.readFileSync(dest).equals(BIG)).toBe(true);
    expect(fs.existsSync(dest + '.partial.lock')).toBe(false);
  });

  it('checks free space before writing and keeps the partial file', async () => {
    const dest = path.join(dir, 'big.bin');
    fs.writeFileSync(dest + '.partial', BIG.subarray(0, 100_000));
    const e = await rejection(downloadFile({ url: url('acme/open', 'big.bin'), dest, diskFree: () => 150_000 }));
    expect(e.code).toBe('DISK_FULL');
    expect(e.message).toBe(`Not enough disk space for big.bin: 200000 more bytes are needed, 150000 are free in ${dir}. The partial file is kept.`);
    expect(fs.statSync(dest + '.partial').size).toBe(100_000);
    const r = await downloadFile({ url: url('acme/open', 'big.bin'), dest, diskFree: () => 200_000 });
    expect(r).toMatchObject({ resumedFrom: 100_000, sha256: hub.sha256(BIG) });
  });
});

describe('parseContentRange', () => {
  it('reads ranges and unsatisfied ranges', () => {
    expect(parseContentRange('bytes 10-19/100')).toEqual({ start: 10, end: 19, total: 100 });
    expect(parseContentRange('bytes */100')).toEqual({ start: -1, end: -1, total: 100 });
    expect(parseContentRange('bytes 0-9/*')).toEqual({ start: 0, end: 9, total: undefined });
    expect(parseContentRange('items 0-9/10')).toBeUndefined();
    expect(parseContentRange(undefined)).toBeUndefined();
  });
});

describe('pullModel', () => {
  const entry: ModelEntry = {
    name: 'tiny',
    title: 'tiny',
    role: 'svd',
    source: { kind: 'hf', repo: 'acme/open', revision: 'main', gated: false },
    licence: { name: 'test', url: 'http://example.invalid' },
    files: [
      { path: 'unet/config.json' },
      { path: 'w.bin', remote: 'sub/dir/w.bin' },
      { path: 'big.bin', optional: true },
    ],
  };

  it('builds resolve URLs with the remote path and encoded segments', () => {
    expect(resolveUrl('https://hf.example/', 'a/b', 'main', { path: 'x y/z.json' })).toBe('https://hf.example/a/b/resolve/main/x%20y/z.json');
    expect(resolveUrl('https://hf.example', 'a/b', 'v1', entry.files[1]!)).toBe('https://hf.example/a/b/resolve/v1/sub/dir/w.bin');
  });

  it('pulls required files into the mirrored layout, records a manifest and emits download events', async () => {
    const events: JobEvent[] = [];
    const got = await pullModel(entry, { root: dir, endpoint: hub.endpoint, token: undefined, emit: (e) => events.push(e), progressMs: 0 });
    expect(got.map((f) => [f.file.path, f.status])).toEqual([
      ['unet/config.json', 'downloaded'],
      ['w.bin', 'downloaded'],
    ]);
    expect(fs.readFileSync(path.join(dir, 'tiny', 'w.bin')).equals(WEIGHTS)).toBe(true);
    expect(fs.existsSync(path.join(dir, 'tiny', 'big.bin'))).toBe(false);
    const m = readManifest(dir, entry);
    expect(m.files['w.bin']).toMatchObject({ bytes: WEIGHTS.length, sha256: hub.sha256(WEIGHTS), sha256Source: 'hub', commit: hub.commit });
    expect(m.files['unet/config.json']).toMatchObject({ sha256Source: 'computed' });
    const starts = events.filter((e) => e.type === 'stage-start');
    expect(starts).toEqual([
      { type: 'stage-start', stage: 'download', total: undefined, label: 'tiny/unet/config.json' },
      { type: 'stage-start', stage: 'download', total: undefined, label: 'tiny/w.bin' },
    ]);
    const last = events.filter((e) => e.type === 'progress').at(-1);
    expect(last).toEqual({ type: 'progress', stage: 'download', done: WEIGHTS.length, total: WEIGHTS.length, unit: 'bytes' });

    // Second pull: nothing to fetch.
    hub.requests.length = 0;
    const again = await pullModel(entry, { root: dir, endpoint: hub.endpoint, allFiles: false });
    expect(again.map((f) => f.status)).toEqual(['present', 'present']);
    expect(hub.requests).toEqual([]);
  });

  it('resumes a dropped file automatically when retries are allowed', async () => {
    hub.faults.dropAfter.set('big.bin', 100_000);
    const events: JobEvent[] = [];
    const got = await pullModel(entry, { root: dir, endpoint: hub.endpoint, allFiles: true, retries: 1, emit: (e) => events.push(e) });
    expect(got.at(-1)).toMatchObject({ status: 'downloaded', bytes: BIG.length });
    expect(got.at(-1)!.result!.resumedFrom).toBeGreaterThan(0);
    expect(events.some((e) => e.type === 'log' && e.level === 'warn' && /Resuming \(attempt 2\)/.test(e.message))).toBe(true);
  });

  it('refuses local-build entries', async () => {
    const local: ModelEntry = { ...entry, name: 'mp', source: { kind: 'local-build', from: 'npm pkg', builder: 'b.ts' } };
    const e = await rejection(pullModel(local, { root: dir, endpoint: hub.endpoint }));
    expect(e.message).toBe('mp is built locally from npm pkg by b.ts; it is not downloaded.');
  });
});
