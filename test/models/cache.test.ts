import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { checkContent, modelStatus, readManifest, recordDownload, requireModel, sha256File, verifyModel } from '../../models/cache.ts';
import { CnextError } from '../../src/core/errors.ts';
import type { ModelEntry } from '../../models/registry.ts';
import { writeSafetensors } from '../../src/weights/safetensors.ts';

let root: string;
beforeEach(() => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'cnext-cache-'));
});
afterEach(() => fs.rmSync(root, { recursive: true, force: true }));

const entry: ModelEntry = {
  name: 'm',
  title: 'm',
  role: 'svd',
  source: { kind: 'hf', repo: 'a/b', revision: 'main', gated: false },
  licence: { name: 'test', url: 'http://example.invalid' },
  files: [{ path: 'config.json' }, { path: 'unet/w.safetensors' }, { path: 'extra.bin', optional: true }],
};

function put(rel: string, data: string | Buffer): string {
  const p = path.join(root, 'm', rel);
  fs.mkdirSync(path.dirname(p), { recursive: true });
  fs.writeFileSync(p, data);
  return p;
}

function putWeights(): string {
  const p = path.join(root, 'm', 'unet', 'w.safetensors');
  fs.mkdirSync(path.dirname(p), { recursive: true });
  writeSafetensors(p, { 'conv_in.weight': { dtype: 'F32', shape: [2, 2], data: new Uint8Array(16) } });
  return p;
}

/** A minimal STORE zip with one member, like a torch .bin or a MediaPipe .task. */
function zip(name: string, body: Buffer): Buffer {
  const n = Buffer.from(name);
  const local = Buffer.alloc(30);
  local.writeUInt32LE(0x04034b50, 0);
  local.writeUInt32LE(body.length, 18);
  local.writeUInt32LE(body.length, 22);
  local.writeUInt16LE(n.length, 26);
  const central = Buffer.alloc(46);
  central.writeUInt32LE(0x02014b50, 0);
  central.writeUInt32LE(body.length, 20);
  central.writeUInt32LE(body.length, 24);
  central.writeUInt16LE(n.length, 28);
  const cdOffset = 30 + n.length + body.length;
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(1, 8);
  end.writeUInt16LE(1, 10);
  end.writeUInt32LE(46 + n.length, 12);
  end.writeUInt32LE(cdOffset, 16);
  return Buffer.concat([local, n, body, central, n, end]);
}

describe('modelStatus', () => {
  it('missing → partial → installed over the required files', () => {
    expect(modelStatus(root, entry).state).toBe('missing');
    put('unet/w.safetensors.partial', Buffer.alloc(10));
    let s = modelStatus(root, entry);
    expect(s.state).toBe('partial');
    expect(s.files.map((f) => f.state)).toEqual(['missing', 'partial', 'missing']);
    expect(s.bytesOnDisk).toBe(10);
    put('config.json', '{}');
    fs.rmSync(path.join(root, 'm', 'unet', 'w.safetensors.partial'));
    putWeights();
    s = modelStatus(root, entry);
    expect(s.state).toBe('installed'); // the optional file does not count
    expect(s.files.map((f) => f.state)).toEqual(['installed', 'installed', 'missing']);
    expect(s.bytesExpected).toBeUndefined();
  });

  it('a final file whose size differs from the recorded one is partial', () => {
    put('config.json', '{}');
    recordDownload(root, entry, 'config.json', { bytes: 5, sha256: 'x', sha256Source: 'computed', url: 'u', downloadedAt: 't' });
    const f = modelStatus(root, entry).files[0]!;
    expect(f).toMatchObject({ state: 'partial', bytes: 2, expectedBytes: 5 });
  });
});

describe('manifest', () => {
  it('round-trips and rejects garbage with a clear error', () => {
    expect(readManifest(root, entry)).toEqual({ version: 1, files: {} });
    recordDownload(root, entry, 'a', { bytes: 1, sha256: 's', sha256Source: 'hub', url: 'u', downloadedAt: 't' });
    recordDownload(root, entry, 'b', { bytes: 2, sha256: 's2', sha256Source: 'computed', url: 'u2', downloadedAt: 't' });
    expect(Object.keys(readManifest(root, entry).files)).toEqual(['a', 'b']);
    fs.writeFileSync(path.join(root, 'm', '.cnext-manifest.json'), 'nope');
    expect(() => readManifest(root, entry)).toThrow(/\.cnext-manifest\.json is not a valid manifest/);
  });
});

describe('verifyModel', () => {
  it('passes a good folder, checking recorded size and sha256 and the safetensors header', async () => {
    put('config.json', '{"a":1}');
    const w = putWeights();
    recordDownload(root, entry, 'unet/w.safetensors', {
      bytes: fs.statSync(w).size,
      sha256: await sha256File(w),
      sha256Source: 'hub',
      url: 'u',
      downloadedAt: 't',
    });
    const v = await verifyModel(root, entry);
    expect(v.map((x) => x.status)).toEqual(['ok', 'ok', 'skipped']);
    expect(v[1]!.checks).toEqual([`size ${fs.statSync(w).size}`, 'sha256 (hub)', 'weights readable: 1 tensors']);
    expect(v[0]!.checks).toEqual(['size 7 (no reference)', 'sha256 not known', 'JSON parses']);
  });

  it('finds missing, partial, corrupt and truncated files', async () => {
    put('config.json', '{"a":');
    const w = putWeights();
    const good = await sha256File(w);
    const size = fs.statSync(w).size;
    recordDownload(root, entry, 'unet/w.safetensors', { bytes: size, sha256: good, sha256Source: 'hub', url: 'u', downloadedAt: 't' });
    // Same size, one byte changed.
    const buf = fs.readFileSync(w);
    buf[buf.length - 1] ^= 1;
    fs.writeFileSync(w, buf);
    let v = await verifyModel(root, entry);
    expect(v[0]!.problem).toMatch(/^not valid JSON/);
    expect(v[1]!.problem).toMatch(new RegExp(`^sha256 [0-9a-f]{64}, expected ${good}$`));
    // --no-hash: size passes, header parses.
    v = await verifyModel(root, entry, { hash: false });
    expect(v[1]!.status).toBe('ok');
    // Truncated.
    fs.truncateSync(w, size - 4);
    v = await verifyModel(root, entry, { hash: false });
    expect(v[1]!.problem).toBe(`size ${size - 4} bytes, expected ${size}`);
    fs.rmSync(w);
    put('unet/w.safetensors.partial', Buffer.alloc(3));
    v = await verifyModel(root, entry);
    expect(v[1]!.problem).toBe('incomplete download (3 bytes in w.safetensors.partial)');
    fs.rmSync(path.join(root, 'm', 'config.json'));
    expect((await verifyModel(root, entry))[0]!.problem).toBe('missing');
  });

  it('a safetensors file whose header does not parse fails with the reader message', async () => {
    put('config.json', '{}');
    const head = Buffer.alloc(8);
    head.writeBigUInt64LE(1000n);
    put('unet/w.safetensors', Buffer.concat([head, Buffer.from('{"a":')]));
    const v = await verifyModel(root, entry);
    expect(v[1]!.problem).toContain('is not a valid safetensors file: header length 1000 exceeds the file size 13');
  });
});

describe('checkContent', () => {
  it('checks zips (torch .bin, .task) for their central directory', () => {
    const z = zip('archive/data.pkl', Buffer.from('hello'));
    expect(checkContent(put('a.task', z))).toEqual({ check: 'zip directory: 1 entries' });
    // .bin goes through the weight reader (src/weights/open.ts); text is no weight file.
    expect(checkContent(put('b.bin', 'plain text, not weights')).problem).toMatch(/b\.bin/);
    expect(checkContent(put('c.task', z.subarray(0, z.length - 10))).problem).toBe(
      'zip has no end-of-central-directory record (truncated?)',
    );
    expect(checkContent(put('d.task', Buffer.from('not a zip at all, really'))).problem).toBe('not a zip file (no local header at byte 0)');
  });
});

describe('requireModel', () => {
  const alt: ModelEntry = { ...entry, name: 'm-fp16', alternativeTo: 'm', files: [{ path: 'w.safetensors' }] };
  const registry = [{ ...entry, source: { ...entry.source, gated: true } } as ModelEntry, alt];

  it('names the pull command, and what is missing when partial', () => {
    expect(() => requireModel(root, 'm', registry)).toThrow(`Model m is not installed in ${root}`);
    put('config.json', '{}');
    try {
      requireModel(root, 'm', registry);
      expect.unreachable();
    } catch (e) {
      expect((e as CnextError).describe()).toBe(
        `Model m is incomplete in ${root} (missing or partial: unet/w.safetensors)\n` +
          'Possible solutions:\n' +
          '- Run: cnext models pull m (it resumes the partial download)\n' +
          '- The model is gated: accept its licence on the hub and set HF_TOKEN first.\n' +
          '- Or point to another models folder with --models DIR or CNEXT_CACHE.',
      );
    }
    expect(() => requireModel(root, 'zzz', registry)).toThrow("Unknown model 'zzz'. Known: m, m-fp16");
  });

  it('returns the model, or an installed alternative', () => {
    const p = path.join(root, 'm-fp16', 'w.safetensors');
    fs.mkdirSync(path.dirname(p), { recursive: true });
    fs.writeFileSync(p, 'x');
    expect(requireModel(root, 'm', registry)).toEqual({ entry: alt, dir: path.join(root, 'm-fp16') });
    put('config.json', '{}');
    putWeights();
    expect(requireModel(root, 'm', registry).entry.name).toBe('m');
  });
});
