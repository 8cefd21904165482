import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BUNDLE_NAMES, BUNDLE_SHA256, buildBundle, bundleCacheDir, ensureBundle, sha256 } from '../../pose/mediapipe/bundles.ts';
import { NodeCanvas } from '../../pose/mediapipe/fake-webgl.ts';
import { LandmarkerHost } from '../../pose/mediapipe/host.ts';
import { rgbToRgba } from '../../pose/mediapipe/runtime.ts';
import { blockTelemetry, isTelemetryUrl } from '../../pose/mediapipe/telemetry.ts';
import { appendGather, buildModelMetadata, injectMetadata, listMetadata, outputShape } from '../../pose/mediapipe/tflite.ts';
import { crc32, unzipStore, zipStore } from '../../pose/mediapipe/zip.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const REF_IMAGE = '/work/shared/media/ref_imgs_01.jpeg';
let cache: string;

beforeAll(() => {
  cache = fs.mkdtempSync(path.join(os.tmpdir(), 'cnext-mp-'));
});
afterAll(() => fs.rmSync(cache, { recursive: true, force: true }));

describe('zip (STORE)', () => {
  it('crc32 matches the standard check value', () => {
    expect(crc32(Buffer.from('123456789'))).toBe(0xcbf43926);
  });
  it('round-trips members byte for byte and is deterministic', () => {
    const a = new Uint8Array([1, 2, 3, 250]);
    const b = new Uint8Array(1000).map((_, i) => i * 7);
    const z1 = zipStore([['a.tflite', a], ['dir/b.bin', b]]);
    expect(Buffer.compare(z1, zipStore([['a.tflite', a], ['dir/b.bin', b]]))).toBe(0);
    const m = unzipStore(z1);
    expect([...m.keys()]).toEqual(['a.tflite', 'dir/b.bin']);
    expect(Buffer.from(m.get('dir/b.bin')!).equals(Buffer.from(b))).toBe(true);
    const bad = Buffer.from(z1);
    bad[31 + 'a.tflite'.length] ^= 0xff; // a data byte of the first member
    expect(() => unzipStore(bad)).toThrow('zip: CRC mismatch in a.tflite');
  });
});

describe('.task bundles', () => {
  it('pose bundle: two members, each with TFLITE_METADATA added and the original graph kept', () => {
    const members = unzipStore(buildBundle('pose_landmarker_lite'));
    expect([...members.keys()]).toEqual(['pose_detector.tflite', 'pose_landmarks_detector.tflite']);
    for (const m of members.values()) {
      expect(Buffer.from(m).toString('latin1', 4, 8)).toBe('TFL3');
      expect(listMetadata(m)).toContain('TFLITE_METADATA');
    }
    const original = fs.readFileSync(path.join(ROOT, 'node_modules/@mediapipe/holistic/pose_landmark_lite.tflite'));
    expect(listMetadata(original)).not.toContain('TFLITE_METADATA');
    const patched = members.get('pose_landmarks_detector.tflite')!;
    // the original file is appended unchanged (prepend technique)
    expect(Buffer.from(patched.subarray(patched.length - original.length)).equals(original)).toBe(true);
    expect(outputShape(patched, 0)).toEqual(outputShape(original, 0));
    expect(injectMetadata(patched, buildModelMetadata('x', { mean: [0], std: [1] }))).toBe(patched); // already there
  });

  it('face mesh output becomes 478 × 3 through an appended GATHER', () => {
    const members = unzipStore(buildBundle('face_landmarker'));
    expect(outputShape(members.get('face_landmarks_detector.tflite')!, 0)).toEqual([1, 1, 1, 1434]);
  });

  it('appendGather rejects out-of-range indices', () => {
    const mesh = unzipStore(buildBundle('face_landmarker')).get('face_landmarks_detector.tflite')!;
    expect(() => appendGather(mesh, 0, [0, 1434])).toThrow('appendGather: index 1434 outside [0, 1434)');
  });

  it('builds every bundle into the cache with the recorded sha256, and rebuilds a damaged file', () => {
    for (const name of BUNDLE_NAMES) {
      const file = ensureBundle(name, cache);
      expect(file).toBe(path.join(cache, `${name}.task`));
      expect(sha256(fs.readFileSync(file))).toBe(BUNDLE_SHA256[name]);
    }
    expect(fs.readFileSync(path.join(cache, 'NOTICE.txt'), 'utf8')).toContain('@mediapipe/holistic@0.5.1675471629');
    const file = path.join(cache, 'hand_landmarker.task');
    fs.writeFileSync(file, 'damaged');
    ensureBundle('hand_landmarker', cache);
    expect(sha256(fs.readFileSync(file))).toBe(BUNDLE_SHA256.hand_landmarker);
  });

  it('cache dir: CNEXT_CACHE overrides ~/.cache/controlnext-motion', () => {
    expect(bundleCacheDir({ CNEXT_CACHE: '/x/y' })).toBe(path.join('/x/y', 'mediapipe'));
    expect(bundleCacheDir({})).toBe(path.join(os.homedir(), '.cache', 'controlnext-motion', 'mediapipe'));
  });
});

describe('fake WebGL2', () => {
  it('reads back the uploaded RGBA texture through a framebuffer, flipped when asked', () => {
    const gl = new NodeCanvas().getContext('webgl2')!;
    const w = 3;
    const h = 2;
    const data = new Uint8Array(w * h * 4).map((_, i) => i);
    gl.activeTexture(0x84c0);
    const tex = gl.createTexture();
    gl.bindTexture(0x0de1, tex);
    gl.texImage2D(0x0de1, 0, 0x1908, 0x1908, 0x1401, { data, width: w, height: h });
    const fb = gl.createFramebuffer();
    gl.bindFramebuffer(0x8d40, fb);
    gl.framebufferTexture2D(0x8d40, 0x8ce0, 0x0de1, tex);
    const out = new Uint8Array(2 * 1 * 4);
    gl.readPixels(1, 1, 2, 1, 0x1908, 0x1401, out);
    expect([...out]).toEqual([...data.subarray((1 * w + 1) * 4, (1 * w + 3) * 4)]);
    gl.pixelStorei(0x9240, true);
    gl.texImage2D(0x0de1, 0, 0x1908, 0x1908, 0x1401, { data, width: w, height: h });
    gl.readPixels(0, 0, 1, 1, 0x1908, 0x1401, out);
    expect([...out.subarray(0, 4)]).toEqual([...data.subarray(w * 4, w * 4 + 4)]); // row 0 is the old last row
    expect(() => gl.texImage2D(0x0de1, 0, 0x1908, 0x1908, 0x1401, { data: new Uint8Array(5), width: w, height: h })).toThrow(
      'fake WebGL2: the input image must be RGBA {data, width, height}',
    );
  });
});

describe('landmarkers in this thread', () => {
  it('pose (IMAGE mode) on the reference photo: plausible body, nose above shoulders above hips', async () => {
    const { data, info } = await sharp(REF_IMAGE).removeAlpha().raw().toBuffer({ resolveWithObject: true });
    const host = await LandmarkerHost.create([
      { kind: 'pose', bundle: ensureBundle('pose_landmarker_full', cache), runningMode: 'IMAGE', count: 1 },
      { kind: 'hand', bundle: ensureBundle('hand_landmarker', cache), runningMode: 'IMAGE', count: 2 },
    ]);
    try {
      const r = host.detect({ data: rgbToRgba(data, info.width, info.height), width: info.width, height: info.height, timestampMs: 0 });
      expect(r.pose).toHaveLength(1);
      const p = r.pose![0]!;
      expect(p).toHaveLength(33);
      // measured once with this bundle (notes/mediapipe-node.md: it gives the same landmarks as Google's official
      // pose_landmarker_full.task); a broken fake-GL upload or wrong normalisation moves it far away
      expect(p[0]![0]).toBeCloseTo(0.5346, 2);
      expect(p[0]![1]).toBeCloseTo(0.2792, 2);
      const shoulderY = (p[11]![1] + p[12]![1]) / 2;
      const hipY = (p[23]![1] + p[24]![1]) / 2;
      expect(p[0]![1]).toBeLessThan(shoulderY);
      expect(shoulderY).toBeLessThan(hipY);
      expect(p[12]![0]).toBeLessThan(p[11]![0]); // the person's right shoulder is on the image left
      for (const h of r.hands!) expect(h.landmarks).toHaveLength(21);
    } finally {
      host.close();
    }
  });
});

describe('landmarker start-up errors', () => {
  it('a bundle that is not a model: MEDIAPIPE_INIT, third-party, with the way out', async () => {
    const bad = path.join(cache, 'bad.task');
    fs.writeFileSync(bad, zipStore([['pose_detector.tflite', new Uint8Array(64)]]));
    const err = await LandmarkerHost.create([{ kind: 'pose', bundle: bad, runningMode: 'VIDEO', count: 1 }]).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'MEDIAPIPE_INIT', category: 'third-party' });
    expect((err as Error).message).toBe(
      'Could not start the MediaPipe pose landmarker: NOT_FOUND: No file with name: pose_landmarks_detector.tflite. ' +
        'All files in the model asset bundle are: pose_detector.tflite.; Initialize was not ok; StartGraph failed',
    );
    expect((err as { solutions: string[] }).solutions[0]).toBe(`delete ${cache} to rebuild the model bundles`);
  });
});

describe('telemetry block', () => {
  it('recognises googleapis hosts only', () => {
    expect(isTelemetryUrl('https://odml.pa.googleapis.com/v1/log')).toBe(true);
    expect(isTelemetryUrl('https://googleapis.com/')).toBe(true);
    expect(isTelemetryUrl('https://googleapis.com.example.org/')).toBe(false);
    expect(isTelemetryUrl('https://huggingface.co/x')).toBe(false);
    expect(isTelemetryUrl('not a url')).toBe(false);
  });

  it('refuses fetch to googleapis.com before any network access', async () => {
    const blocked = blockTelemetry();
    const before = blocked.length;
    await expect(fetch('https://odml.pa.googleapis.com/v1/log', { method: 'POST', body: 'x' })).rejects.toThrow(
      'controlnext-motion blocks MediaPipe telemetry (odml.pa.googleapis.com)',
    );
    expect(blocked.length).toBe(before + 1);
  });

  it('a process that runs and closes a landmarker exits on its own, with its metrics POST refused', () => {
    const script = `
      import { LandmarkerHost } from ${JSON.stringify(path.join(ROOT, 'pose/mediapipe/host.ts'))};
      import { ensureBundle } from ${JSON.stringify(path.join(ROOT, 'pose/mediapipe/bundles.ts'))};
      import { blockedTelemetry } from ${JSON.stringify(path.join(ROOT, 'pose/mediapipe/telemetry.ts'))};
      const host = await LandmarkerHost.create([{ kind: 'pose', bundle: ensureBundle('pose_landmarker_lite', ${JSON.stringify(cache)}), runningMode: 'VIDEO', count: 1 }]);
      host.detect({ data: new Uint8Array(64 * 64 * 4), width: 64, height: 64, timestampMs: 0 });
      host.close();
      setTimeout(() => console.log(JSON.stringify(blockedTelemetry())), 100);
    `;
    const file = path.join(cache, 'telemetry-probe.mts');
    fs.writeFileSync(file, script);
    const t0 = Date.now();
    const r = spawnSync(process.execPath, ['--import', 'tsx', file], { cwd: ROOT, encoding: 'utf8', timeout: 30_000 });
    expect(r.status, r.stderr).toBe(0);
    expect(Date.now() - t0).toBeLessThan(30_000); // no 60 s metrics timer left running
    const blocked = JSON.parse(r.stdout.trim().split('\n').pop()!) as string[];
    expect(blocked.length).toBeGreaterThanOrEqual(1);
    expect(blocked.every((u) => u === 'https://odml.pa.googleapis.com/v1/log')).toBe(true);
  });
});
