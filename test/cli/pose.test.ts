import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { main } from '../../src/cli/main.ts';
import { parseOptions, runPose, type PosesJson } from '../../src/cli/pose.ts';
import { checkPose } from '../../pose/keypoints.ts';
import { binaryPath } from '../../video/ffmpeg.ts';
import { probeVideo } from '../../video/probe.ts';

const CLIP = '/work/shared/media/video_02.mp4';
const REF = '/work/shared/media/ref_imgs_01.jpeg';
let tmp: string;
const saved = process.env.CNEXT_CACHE;

beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'cnext-cli-pose-'));
  process.env.CNEXT_CACHE = path.join(tmp, 'cache');
});
afterAll(() => {
  if (saved === undefined) delete process.env.CNEXT_CACHE;
  else process.env.CNEXT_CACHE = saved;
  fs.rmSync(tmp, { recursive: true, force: true });
});

/** Runs the CLI in-process; returns exit code and what went to stderr. */
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

describe('cnext pose', () => {
  it('with --ref: poses.json in the cnext-poses format and pose.mp4 = reference map + one map per frame', async () => {
    const out = path.join(tmp, 'withref');
    const o = parseOptions({ out, ref: REF, size: '288x512', stride: '3', maxFrames: '8', model: 'lite', smooth: true });
    const { json, files } = await runPose(CLIP, o);
    expect(files).toEqual([path.join(out, 'poses.json'), path.join(out, 'pose.mp4')]);
    const onDisk = JSON.parse(fs.readFileSync(files[0]!, 'utf8')) as PosesJson;
    expect(onDisk).toEqual(json);
    expect(Object.keys(onDisk)).toEqual(['format', 'version', 'extractor', 'source', 'stride', 'canvas', 'reference', 'alignment', 'frames', 'warnings']);
    expect(onDisk.format).toBe('cnext-poses');
    expect(onDisk.version).toBe(1);
    expect(onDisk.source).toEqual({ width: 576, height: 1024, fps: [30, 1], frames: 228 });
    expect(onDisk.stride).toBe(3);
    expect(onDisk.canvas).toEqual({ width: 288, height: 512 });
    checkPose(onDisk.reference!);
    // the reference photo and the clip frame the person alike: a scale below 1 (the dancer is larger), same for x and y
    const { a, b } = onDisk.alignment!;
    expect(a[0]).toBeCloseTo(a[1], 2);
    expect(a[1]).toBeGreaterThan(0.5);
    expect(a[1]).toBeLessThan(1.2);
    expect(b.every(Number.isFinite)).toBe(true);
    expect(onDisk.frames.map((f) => f.index)).toEqual([0, 3, 6, 9, 12, 15, 18, 21]);
    expect(onDisk.frames[1]!.time).toBeCloseTo(0.1, 6);
    for (const f of onDisk.frames) {
      checkPose(f.detected!);
      checkPose(f.aligned!);
      // aligned = detected · a + b for every point with an estimate
      const [x, y] = f.detected!.body[0]!;
      expect(f.aligned!.body[0]![0]).toBeCloseTo(x * a[0] + b[0], 4);
      expect(f.aligned!.body[0]![1]).toBeCloseTo(y * a[1] + b[1], 4);
    }
    const info = await probeVideo(files[1]!);
    expect([info.width, info.height, info.frames]).toEqual([288, 512, 9]);
    expect(info.fps).toEqual([10, 1]);
  });

  it('without --ref: no alignment, maps of the detected poses', async () => {
    const out = path.join(tmp, 'plain');
    const r = await cli(['pose', CLIP, '--out', out, '--max-frames', '4', '--model', 'lite', '--no-smooth', '--size', '288x512']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('4 of 4 frames with a person');
    const json = JSON.parse(fs.readFileSync(path.join(out, 'poses.json'), 'utf8')) as PosesJson;
    expect(json.reference).toBeNull();
    expect(json.alignment).toBeNull();
    expect(json.canvas).toEqual({ width: 288, height: 512 });
    expect(json.frames.every((f) => f.aligned === null && f.detected !== null)).toBe(true);
    expect((await probeVideo(path.join(out, 'pose.mp4'))).frames).toBe(4);
  });

  it('bad input: clear errors and user exit codes', async () => {
    const black = path.join(tmp, 'black.mp4');
    const ff = spawnSync(binaryPath('ffmpeg'), ['-v', 'error', '-f', 'lavfi', '-i', 'color=c=black:s=288x512:r=30:d=0.1', '-pix_fmt', 'yuv420p', '-y', black]);
    expect(ff.status).toBe(0);
    let r = await cli(['pose', black, '--out', path.join(tmp, 'b'), '--model', 'lite']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`cnext: No person found in ${black} (3 frames checked, stride 1)`);

    const blackPng = path.join(tmp, 'black.png');
    await sharp({ create: { width: 64, height: 96, channels: 3, background: '#000' } }).png().toFile(blackPng);
    r = await cli(['pose', CLIP, '--out', path.join(tmp, 'c'), '--ref', blackPng, '--max-frames', '2', '--model', 'lite']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`cnext: No person found in the reference image ${blackPng}`);

    const corrupt = path.join(tmp, 'corrupt.mp4');
    fs.writeFileSync(corrupt, Buffer.concat([Buffer.from('\0\0\0\x18ftypmp42'), Buffer.alloc(3000, 9)])); // truncated MP4
    r = await cli(['pose', corrupt, '--out', path.join(tmp, 'd')]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`cnext: Cannot read video ${corrupt}`);

    r = await cli(['pose', CLIP, '--out', path.join(tmp, 'e'), '--stride', '0']);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe("cnext: Expected integer between 1 and 1000 for --stride but received '0' of type string\n");
    r = await cli(['pose', CLIP, '--out', path.join(tmp, 'e'), '--model', 'huge']);
    expect(r.stderr).toBe("cnext: Expected one of lite, full, heavy for --model but received 'huge' of type string\n");
    r = await cli(['pose', CLIP, '--out', path.join(tmp, 'e'), '--size', '576*1024']);
    expect(r.stderr).toBe("cnext: Expected WxH, e.g. 576x1024 for --size but received '576*1024' of type string\n");
    expect(fs.existsSync(path.join(tmp, 'e'))).toBe(false);
  });
});
