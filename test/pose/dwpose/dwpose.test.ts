// DWPose end to end without the real weights: synthetic yolox_l.onnx / dw-ll_ucoco_384.onnx with the real files'
// input/output names, shapes and dtypes (pose/dwpose/synth.ts) through real onnxruntime sessions, the real decoder,
// and `cnext pose --pose-model dwpose`; plus the errors a user meets (missing, corrupt or wrong model, no person).
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { main } from '../../../src/cli/main.ts';
import type { PosesJson } from '../../../src/cli/pose.ts';
import { CnextError } from '../../../src/core/errors.ts';
import { Session } from '../../../src/onnx/session.ts';
import { DWPOSE_DET_FILE, DWPOSE_POSE_FILE, resolvePoseModel } from '../../../models/pose-model.ts';
import { DwposeDetector } from '../../../pose/dwpose/detector.ts';
import { DET_FILE, openDetector, openPoseModel, POSE_FILE } from '../../../pose/dwpose/open.ts';
import { buildSynthDetector, DET_IO, POSE_IO, writeSynthDwpose } from '../../../pose/dwpose/synth.ts';
import { binaryPath } from '../../../video/ffmpeg.ts';
import { probeVideo } from '../../../video/probe.ts';

const CLIP = path.resolve('samples/dance.mp4'); // 288×512, a dancer
let tmp: string;
let models: string;
let files: { det: string; pose: string };
const savedCache = process.env.CNEXT_CACHE;

beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'cnext-dwpose-'));
  process.env.CNEXT_CACHE = path.join(tmp, 'cache'); // MediaPipe bundles (--compare) are built here, not in ~/.cache
  models = path.join(tmp, 'models');
  files = writeSynthDwpose(path.join(models, 'dwpose'));
});
afterAll(() => {
  if (savedCache === undefined) delete process.env.CNEXT_CACHE;
  else process.env.CNEXT_CACHE = savedCache;
  fs.rmSync(tmp, { recursive: true, force: true });
});

async function cli(args: string[]): Promise<{ code: number; stderr: string; stdout: string }> {
  let stderr = '';
  let stdout = '';
  const e = vi.spyOn(process.stderr, 'write').mockImplementation((s) => ((stderr += String(s)), true));
  const o = vi.spyOn(process.stdout, 'write').mockImplementation((s) => ((stdout += String(s)), true));
  try {
    return { code: await main(args), stderr, stdout };
  } finally {
    e.mockRestore();
    o.mockRestore();
  }
}

async function rejection(p: Promise<unknown>): Promise<CnextError> {
  const e = await p.then(() => undefined, (err: unknown) => err);
  expect(e).toBeInstanceOf(CnextError);
  return e as CnextError;
}

describe('synthetic DWPose models', () => {
  it('have the real files’ names and I/O signature', async () => {
    expect([DET_FILE, POSE_FILE]).toEqual([DWPOSE_DET_FILE, DWPOSE_POSE_FILE]);
    expect(path.basename(files.det)).toBe('yolox_l.onnx');
    expect(path.basename(files.pose)).toBe('dw-ll_ucoco_384.onnx');
    const det = await Session.fromFile(files.det);
    const pose = await Session.fromFile(files.pose);
    try {
      expect([det.inputNames, det.outputNames, det.inputDims]).toEqual([[DET_IO.input], [DET_IO.output], [[1, 3, 640, 640]]]);
      expect([pose.inputNames, pose.outputNames, pose.inputDims]).toEqual([[POSE_IO.input], [...POSE_IO.outputs], [[1, 3, 384, 288]]]);
      const out = await pose.run({ [POSE_IO.input]: { type: 'float32', dims: [1, 3, 384, 288], data: new Float32Array(3 * 384 * 288) } });
      expect(out.simcc_x!.dims).toEqual([1, 133, 576]);
      expect(out.simcc_y!.dims).toEqual([1, 133, 768]);
    } finally {
      await det.release();
      await pose.release();
    }
  });
});

describe('cnext pose --pose-model dwpose', () => {
  it('runs the whole path: detector box → crop → SimCC → body 18 in frame coordinates, recorded as dwpose', async () => {
    const out = path.join(tmp, 'out');
    const r = await cli(['pose', CLIP, '--out', out, '--pose-model', 'dwpose', '--models', models, '--max-frames', '3', '--no-smooth']);
    expect(r.stderr, r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('3 of 3 frames with a person (dwpose)');
    const json = JSON.parse(fs.readFileSync(path.join(out, 'poses.json'), 'utf8')) as PosesJson;
    expect(json.extractor).toBe('dwpose');
    // The synthetic detector's box is (60, 20)–(300, 620) in the 640² letterbox; the clip is 288×512 → r = 1.25 →
    // box (48, 16)–(240, 496), centre (144, 256), scale 240×600 grown to 450×600 (aspect 288:384). The nose template
    // point (0.5, 0.17) peaks at bins (288, 131) → crop (144, 65.5) → frame (144, 65.5/384·600 + 256 − 300).
    const nose = json.frames[0]!.detected!.body[0]!;
    expect(nose[0]).toBeCloseTo(144 / 288, 4);
    expect(nose[1]).toBeCloseTo((65.5 / 384 * 600 + 256 - 300) / 512, 4);
    expect(nose[2]).toBeGreaterThan(0.9);
    // neck = mean of the shoulders (template x 0.62 / 0.38 → symmetric about the centre)
    expect(json.frames[0]!.detected!.body[1]![0]).toBeCloseTo(0.5, 4);
    expect(json.frames[0]!.detected!.face).not.toBeNull(); // DWPose always returns the face
    const info = await probeVideo(path.join(out, 'pose.mp4'));
    expect([info.width, info.height, info.frames]).toEqual([288, 512, 3]);
  });

  it('--compare (and the default --pose-model auto): both extractors side by side, per-joint distances and detection rates in the log', async () => {
    const out = path.join(tmp, 'cmp');
    const cmp = path.join(out, 'compare.mp4');
    const r = await cli(['pose', CLIP, '--out', out, '--models', models, '--max-frames', '3', '--no-smooth', '--model', 'lite', '--compare', cmp]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('(dwpose)'); // the default --pose-model auto finds DWPose in --models; MediaPipe is compared
    expect(r.stderr).toMatch(/^info: compare mediapipe vs dwpose over 3 frames: person found 100% \/ 100%, mean joint distance \d+\.\d px$/m);
    expect(r.stderr).toMatch(/^info: {3}nose +\d+\.\d px \(both 3\) {2}seen 100% \/ 100%$/m);
    expect(r.stderr.match(/^info: {3}\w+/gm)).toHaveLength(18);
    const info = await probeVideo(cmp);
    expect([info.width, info.height, info.frames]).toEqual([2 * 288, 512, 3]);
  });

  it('auto picks DWPose when its files are installed, MediaPipe otherwise', () => {
    expect(resolvePoseModel('auto', models)).toEqual({ extractor: 'dwpose', files: { det: files.det, pose: files.pose } });
    expect(resolvePoseModel('auto', path.join(tmp, 'empty'))).toEqual({ extractor: 'mediapipe' });
    expect(resolvePoseModel('mediapipe', models)).toEqual({ extractor: 'mediapipe' });
  });

  it('--pose-model dwpose without the files says how to get them', async () => {
    const r = await cli(['pose', CLIP, '--out', path.join(tmp, 'x'), '--pose-model', 'dwpose', '--models', path.join(tmp, 'empty')]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`Model dwpose is not installed in ${path.join(tmp, 'empty')}`);
    expect(r.stderr).toContain('Run: cnext models pull dwpose');
  });

  it('a black video: no person (the pose model sees only black crops)', async () => {
    const black = path.join(tmp, 'black.mp4');
    const s = spawnSync(binaryPath('ffmpeg'), ['-v', 'error', '-f', 'lavfi', '-i', 'color=c=black:s=288x512:r=30:d=0.1', '-pix_fmt', 'yuv420p', '-y', black]);
    expect(s.status, String(s.stderr)).toBe(0);
    const r = await cli(['pose', black, '--out', path.join(tmp, 'b'), '--pose-model', 'dwpose', '--models', models]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`No person found in ${black} (3 frames checked, stride 1)`);
  });

  it('an unknown --pose-model is a parameter error', async () => {
    const r = await cli(['pose', CLIP, '--out', path.join(tmp, 'y'), '--pose-model', 'openpose']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("Expected one of auto, dwpose, mediapipe for --pose-model but received 'openpose'");
  });
});

describe('DWPose model errors, before any frame', () => {
  it('missing file', async () => {
    const e = await rejection(openDetector(path.join(tmp, 'nope', 'yolox_l.onnx')));
    expect(e.code).toBe('DWPOSE_MODEL_MISSING');
    expect(e.describe()).toBe(`The DWPose detector model is missing: ${path.join(tmp, 'nope', 'yolox_l.onnx')}\nPossible solutions:\n- Run: cnext models pull dwpose\n- Or use the MediaPipe extractor: --pose-model mediapipe`);
  });

  it('corrupt file', async () => {
    const bad = path.join(tmp, 'corrupt', 'yolox_l.onnx');
    fs.mkdirSync(path.dirname(bad), { recursive: true });
    fs.writeFileSync(bad, fs.readFileSync(files.det).subarray(0, 5000)); // a truncated download
    const e = await rejection(openDetector(bad));
    expect(e.code).toBe('DWPOSE_MODEL_INVALID');
    expect(e.message).toMatch(new RegExp(`^${bad.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: not a loadable ONNX model \\(`));
    expect(e.solutions[0]).toBe('Check the files: cnext models verify dwpose');
  });

  it('wrong input shape: a detector that is not 640×640, and the two files swapped', async () => {
    const small = path.join(tmp, 'small', 'yolox_l.onnx');
    fs.mkdirSync(path.dirname(small), { recursive: true });
    fs.writeFileSync(small, buildSynthDetector({ detDims: [1, 3, 320, 320] }));
    const e = await rejection(openDetector(small));
    expect(e.message).toBe(`${small}: detector input has shape [1, 3, 320, 320], expected [1, 3, 640, 640] (YOLOX-L, 640×640 letterbox)`);
    const swapped = await rejection(openDetector(files.pose));
    expect(swapped.message).toBe(`${files.pose}: detector input has shape [1, 3, 384, 288], expected [1, 3, 640, 640] (YOLOX-L, 640×640 letterbox)`);
    const swapped2 = await rejection(openPoseModel(files.det));
    expect(swapped2.message).toBe(`${files.det}: pose model has 1 outputs (output), expected 2 (simcc_x, simcc_y)`);
  });

  it('a still image without a person: no pose, and the reference’s whole-image fallback is still one "person"', async () => {
    const d = await DwposeDetector.create({ files });
    try {
      const r = await d.detect({ rgb: new Uint8Array(64 * 96 * 3), width: 64, height: 96 });
      expect(r.pose).toBeNull();
      expect(r.raw.boxes).toEqual([]);
      expect(r.raw.people).toBe(1);
    } finally {
      await d.close();
    }
  });
});
