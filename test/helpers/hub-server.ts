// A local stand-in for the Hugging Face hub and its CDN, on two ports of 127.0.0.1 (two origins, so the token
// must be stripped on the redirect). Behaves like the real thing where the downloader cares:
//   hub  GET /{owner}/{name}/resolve/{rev}/{path}
//        gated repo: 401 without a token, 403 with a wrong one; unknown file or repo: 404
//        LFS files: 302 to the CDN (absolute, or first a relative hop on the hub) with X-Linked-Size,
//        X-Linked-Etag ("<sha256>") and X-Repo-Commit; small files: 200 with a git-style ETag, Range honoured
//   cdn  GET /blobs/{sha256}: Range → 206 + Content-Range, past the end → 416 `bytes */size`
// Faults: drop the connection after N bytes (once per file), stall after N bytes, ignore Range (200), corrupt the
// bytes served, redirect forever.
import { createHash } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface HubFileSpec {
  readonly data: Buffer;
  /** Served from the CDN through a redirect, like Git LFS files. Default: true when larger than 1 kB. */
  readonly lfs?: boolean;
}

export interface HubRepo {
  readonly files: Record<string, Buffer | HubFileSpec>;
  readonly gated?: boolean;
}

export interface RecordedRequest {
  readonly server: 'hub' | 'cdn';
  readonly path: string;
  readonly range?: string;
  readonly authorization?: string;
  readonly status: number;
}

export interface HubFaults {
  /** Next CDN response for this repo file path sends this many bytes of the body, then drops the connection. */
  dropAfter: Map<string, number>;
  /** CDN answers 200 with the whole file even when a Range was asked for. */
  ignoreRange: boolean;
  /** CDN serves these repo file paths with one byte flipped (same length). */
  corrupt: Set<string>;
  /** Hub first redirects to a relative path on itself, which then redirects to the CDN. */
  relativeRedirect: boolean;
  /** Hub redirects every resolve request to itself, forever. */
  redirectLoop: boolean;
  /** Next CDN response for this repo file path sends this many bytes, then goes silent (connection left open). */
  stallAfter: Map<string, number>;
}

export interface HubServer {
  /** Use as HF_ENDPOINT. */
  readonly endpoint: string;
  readonly cdnOrigin: string;
  readonly token: string;
  readonly commit: string;
  readonly requests: RecordedRequest[];
  readonly faults: HubFaults;
  sha256(data: Buffer): string;
  close(): Promise<void>;
}

interface Blob {
  readonly path: string;
  readonly data: Buffer;
}

export async function startHubServer(repos: Record<string, HubRepo>, token = 'hf_test_token'): Promise<HubServer> {
  const commit = 'c0ffee'.padEnd(40, '0');
  const requests: RecordedRequest[] = [];
  const faults: HubFaults = { dropAfter: new Map(), ignoreRange: false, corrupt: new Set(), relativeRedirect: false, redirectLoop: false, stallAfter: new Map() };
  const blobs = new Map<string, Blob>();
  const sha256 = (d: Buffer): string => createHash('sha256').update(d).digest('hex');
  for (const repo of Object.values(repos)) {
    for (const [p, f] of Object.entries(repo.files)) {
      const data = Buffer.isBuffer(f) ? f : f.data;
      blobs.set(sha256(data), { path: p, data });
    }
  }

  const record = (server: 'hub' | 'cdn', req: http.IncomingMessage, status: number): void => {
    requests.push({
      server,
      path: req.url ?? '',
      range: req.headers.range,
      authorization: req.headers.authorization,
      status,
    });
  };

  const cdn = http.createServer((req, res) => {
    const m = /^\/blobs\/([0-9a-f]{64})$/.exec(new URL(req.url ?? '/', 'http://x').pathname);
    const blob = m ? blobs.get(m[1]!) : undefined;
    if (!blob) {
      record('cdn', req, 404);
      res.writeHead(404).end('Not Found');
      return;
    }
    let data = blob.data;
    if (faults.corrupt.has(blob.path)) {
      data = Buffer.from(data);
      data[data.length >> 1] = data[data.length >> 1]! ^ 0xff;
    }
    serveBytes('cdn', req, res, data, blob.path);
  });

  const hub = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const relay = /^\/_relay\/([0-9a-f]{64})$/.exec(url.pathname);
    if (relay) {
      record('hub', req, 302);
      res.writeHead(302, { location: `${cdnOrigin}/blobs/${relay[1]}` }).end();
      return;
    }
    const m = /^\/([^/]+\/[^/]+)\/resolve\/([^/]+)\/(.+)$/.exec(url.pathname);
    if (!m) {
      record('hub', req, 404);
      res.writeHead(404).end('Not Found');
      return;
    }
    const repo = repos[m[1]!];
    const filePath = m[3]!.split('/').map(decodeURIComponent).join('/');
    if (faults.redirectLoop) {
      record('hub', req, 302);
      res.writeHead(302, { location: url.pathname }).end();
      return;
    }
    if (repo?.gated) {
      const auth = req.headers.authorization;
      if (!auth) {
        record('hub', req, 401);
        res.writeHead(401, { 'x-error-code': 'GatedRepo' }).end('Access to this model is restricted. You must be authenticated.');
        return;
      }
      if (auth !== `Bearer ${token}`) {
        record('hub', req, 403);
        res.writeHead(403, { 'x-error-code': 'GatedRepo' }).end('Access to this model is restricted and you are not in the authorized list.');
        return;
      }
    }
    const f = repo?.files[filePath];
    if (!f) {
      record('hub', req, 404);
      res.writeHead(404, { 'x-error-code': 'EntryNotFound' }).end('Entry not found');
      return;
    }
    const data = Buffer.isBuffer(f) ? f : f.data;
    const lfs = Buffer.isBuffer(f) ? data.length > 1000 : (f.lfs ?? data.length > 1000);
    const sha = sha256(data);
    if (!lfs) {
      res.setHeader('etag', `"${createHash('sha1').update(data).digest('hex')}"`);
      res.setHeader('x-repo-commit', commit);
      serveBytes('hub', req, res, data, filePath);
      return;
    }
    record('hub', req, 302);
    res
      .writeHead(302, {
        location: faults.relativeRedirect ? `/_relay/${sha}` : `${cdnOrigin}/blobs/${sha}`,
        'x-linked-size': String(data.length),
        'x-linked-etag': `"${sha}"`,
        'x-repo-commit': commit,
      })
      .end();
  });

  function serveBytes(server: 'hub' | 'cdn', req: http.IncomingMessage, res: http.ServerResponse, data: Buffer, p: string): void {
    const size = data.length;
    const range = /^bytes=(\d+)-(\d*)$/.exec(req.headers.range ?? '');
    let start = 0;
    let end = size - 1;
    let status = 200;
    if (range && !(server === 'cdn' && faults.ignoreRange)) {
      start = Number(range[1]);
      if (start >= size) {
        record(server, req, 416);
        res.writeHead(416, { 'content-range': `bytes */${size}` }).end();
        return;
      }
      if (range[2]) end = Math.min(end, Number(range[2]));
      status = 206;
    }
    record(server, req, status);
    const headers: http.OutgoingHttpHeaders = { 'content-length': String(end - start + 1), 'accept-ranges': 'bytes' };
    if (status === 206) headers['content-range'] = `bytes ${start}-${end}/${size}`;
    res.writeHead(status, headers);
    const body = data.subarray(start, end + 1);
    const stall = server === 'cdn' ? faults.stallAfter.get(p) : undefined;
    if (stall !== undefined) {
      faults.stallAfter.delete(p);
      res.write(body.subarray(0, stall)); // and nothing more: the client's idle timeout must fire
      return;
    }
    const drop = server === 'cdn' ? faults.dropAfter.get(p) : undefined;
    if (drop !== undefined) {
      faults.dropAfter.delete(p);
      res.write(body.subarray(0, drop), () => {
        // Let the bytes reach the client, then cut the connection mid-body.
        setTimeout(() => req.socket.destroy(), 20);
      });
      return;
    }
    res.end(body);
  }

  await Promise.all([listen(hub), listen(cdn)]);
  const endpoint = `http://127.0.0.1:${(hub.address() as AddressInfo).port}`;
  const cdnOrigin = `http://127.0.0.1:${(cdn.address() as AddressInfo).port}`;
  return {
    endpoint,
    cdnOrigin,
    token,
    commit,
    requests,
    faults,
    sha256,
    close: async () => {
      for (const s of [hub, cdn]) s.closeAllConnections();
      await Promise.all([hub, cdn].map((s) => new Promise<void>((r) => s.close(() => r()))));
    },
  };
}

function listen(s: http.Server): Promise<void> {
  return new Promise((resolve) => s.listen(0, '127.0.0.1', resolve));
}
