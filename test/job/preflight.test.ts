// Preflight: the cheap checks that run before the first expensive stage — each failure one line, all together.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CnextError } from '../../src/core/errors.ts';
import { loadModelComponents } from '../../src/job/components.ts';
import { estimateJobBytes, preflight, probeWritable, VERIFIED_NAME } from '../../src/job/preflight.ts';
import { recordDownload, sha256File } from '../../models/cache.ts';
import { findModel } from '../../models/registry.ts';
import { tempDir, tinyModels } from './helpers.ts';

let dir: string;
let root: string;
let files: string[];
beforeAll(() => {
  dir = tempDir('cnext-preflight-');
  root = tinyModels(dir);
  const c = loadModelComponents(root);
  files = [c.files.imageEncoder, c.files.vae, ...c.files.unet, c.files.controlnext];
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

async function failure(p: Partial<Parameters<typeof preflight>[0]>): Promise<CnextError | null> {
  try {
    await preflight({ weightFiles: files, modelsRoot: root, outputs: [path.join(dir, 'out', 'a.mp4')], jobDir: path.join(dir, 'job'), device: 'cpu', bytes: 1e6, ...p });
    return null;
  } catch (e) {
    return e as CnextError;
  }
}

describe('preflight', () => {
  it('passes on good models and writable folders (creating them), leaving no probe file', async () => {
    expect(await failure({})).toBeNull();
    expect(fs.readdirSync(path.join(dir, 'out'))).toEqual([]);
    expect(fs.readdirSync(path.join(dir, 'job'))).toEqual([]);
  });

  it('checks sha256 where the manifest knows it, once per file version', async () => {
    const entry = findModel('svd-xt-1-1')!;
    const vae = files[1]!;
    const rel = path.relative(path.join(root, 'svd-xt-1-1'), vae);
    const rec = { bytes: fs.statSync(vae).size, sha256: await sha256File(vae), sha256Source: 'hub' as const, url: 'x', downloadedAt: 'now' };
    recordDownload(root, entry, rel, rec);
    for (const m of ['svd-xt-1-1', 'controlnext-svd-v2']) fs.rmSync(path.join(root, m, VERIFIED_NAME), { force: true });
    const logs: string[] = [];
    expect(await failure({ log: (m) => logs.push(m) })).toBeNull();
    // the synthetic folders' manifests know every sha256 (models/synth.ts); small files are hashed without a word
    expect(logs).toEqual([]);
    expect(Object.keys(JSON.parse(fs.readFileSync(path.join(root, 'svd-xt-1-1', VERIFIED_NAME), 'utf8'))).sort()).toEqual([rel, 'image_encoder/model.safetensors'].sort());
    const stamp = fs.statSync(path.join(root, 'svd-xt-1-1', VERIFIED_NAME)).mtimeMs;
    expect(await failure({})).toBeNull();
    expect(fs.statSync(path.join(root, 'svd-xt-1-1', VERIFIED_NAME)).mtimeMs).toBe(stamp); // remembered: not hashed again
    recordDownload(root, entry, rel, { ...rec, sha256: '0'.repeat(64) });
    const e = await failure({});
    expect(e?.message).toBe(`Weight file ${vae} has sha256 ${rec.sha256}, expected ${'0'.repeat(64)}`);
    expect(e?.category).toBe('system');
    expect(e?.describe()).toContain('cnext models pull svd-xt-1-1');
    recordDownload(root, entry, rel, rec);
  });

  it('a truncated weight file fails before any work, in one line', async () => {
    const copy = path.join(dir, 'truncated.safetensors');
    const data = fs.readFileSync(files[0]!);
    fs.writeFileSync(copy, data.subarray(0, data.length - 1000));
    const e = await failure({ weightFiles: [copy] });
    expect(e?.code).toBe('PREFLIGHT');
    expect(e?.message).toMatch(new RegExp(`^Weight file ${copy} is not a valid safetensors file: tensor .* past the end of the file .*truncated download\\?\\)$`));
    // the size recorded at download time catches it without parsing
    const vae = files[1]!;
    const saved = fs.readFileSync(vae);
    try {
      fs.truncateSync(vae, saved.length - 10);
      expect((await failure({}))?.message).toBe(`Weight file ${vae} is ${saved.length - 10} bytes, expected ${saved.length} (truncated download?)`);
    } finally {
      fs.writeFileSync(vae, saved);
    }
  });

  it('unwritable output or job folder, too little disk, no CUDA provider: all reported, one line each', async () => {
    const blocker = path.join(dir, 'a-file');
    fs.writeFileSync(blocker, 'x');
    expect(probeWritable(path.join(blocker, 'sub'))).toBe('a part of the path is a file, not a folder');
    expect(probeWritable(path.join(blocker, 'sub', 'deeper'))).toBe(`a part of the path is a file, not a folder (at ${blocker})`);
    const e = await failure({ outputs: [path.join(blocker, 'o.mp4')], bytes: 1e18 });
    expect(e?.message).toBe(
      '2 problems before starting:\n' +
        `- Cannot write to the folder ${blocker}: a file of that name is in the way\n` +
        `- Not enough free disk space for ${path.join(dir, 'job')}: ${e!.message.match(/: (\S+ [GM]B) free/)![1]} free, the job needs about 1000000000.0 GB`,
    );
    expect(e?.category).toBe('system');
    const cuda = await failure({ device: 'cuda' });
    expect(cuda?.message).toMatch(/^--device cuda needs onnxruntime-node's CUDA execution provider/);
  });

  // root writes through permission bits, so this runs for ordinary users (CI) only; ENOTDIR above runs everywhere
  it.skipIf(process.getuid?.() === 0)('a read-only folder: permission denied', async () => {
    const ro = path.join(dir, 'read-only');
    fs.mkdirSync(ro);
    fs.chmodSync(ro, 0o555);
    try {
      const e = await failure({ outputs: [path.join(ro, 'r.mp4')], jobDir: path.join(ro, '.r.mp4.cnext-job') });
      expect(e?.message).toBe(`Cannot write to the folder ${ro}: permission denied`);
      expect(e?.category).toBe('system');
    } finally {
      fs.chmodSync(ro, 0o755);
    }
  });

  it('estimates what a job writes', () => {
    const small = estimateJobBytes({ width: 576, height: 1024, frames: 240, extraVideos: 0 });
    expect(small).toBeGreaterThan(64e6);
    expect(estimateJobBytes({ width: 576, height: 1024, frames: 240, extraVideos: 2 })).toBeGreaterThan(small);
  });
});
