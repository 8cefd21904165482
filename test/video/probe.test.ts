import { copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CnextError } from '../../src/core/errors.ts';
import { parseRational, pickFps, probeVideo, streamRotation } from '../../video/probe.ts';
import { DANCE, REF, ffmpegSync, tempDir } from './helpers.ts';

const tmp = tempDir();
afterAll(tmp.cleanup);

async function rejection(p: Promise<unknown>): Promise<CnextError> {
  const e = await p.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(CnextError);
  return e as CnextError;
}

describe('probeVideo', () => {
  it('reads samples/dance.mp4 exactly', async () => {
    expect(await probeVideo(DANCE)).toEqual({
      width: 288,
      height: 512,
      fps: [30, 1],
      frames: 90,
      durationSec: 3,
      rotation: 0,
      hasAudio: false,
      codec: 'h264',
    });
  });

  it('keeps the exact NTSC rational and counts packets when the container has no frame count (mkv)', async () => {
    const mkv = join(tmp.dir, 'ntsc.mkv');
    ffmpegSync(['-f', 'lavfi', '-i', 'testsrc=size=64x48:rate=30000/1001', '-frames:v', '17', '-c:v', 'libx264', '-pix_fmt', 'yuv420p', mkv]);
    const info = await probeVideo(mkv);
    expect(info.fps).toEqual([30000, 1001]);
    expect(info.frames).toBe(17);
    expect(info.durationSec).toBeCloseTo((17 * 1001) / 30000, 2);
  });

  it('reports audio', async () => {
    const f = join(tmp.dir, 'av.mp4');
    ffmpegSync(['-f', 'lavfi', '-i', 'testsrc=size=64x48:rate=25', '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=44100', '-t', '1', '-c:v', 'libx264', '-pix_fmt', 'yuv420p', '-c:a', 'aac', f]);
    const info = await probeVideo(f);
    expect(info.hasAudio).toBe(true);
    expect(info.fps).toEqual([25, 1]);
    expect(info.frames).toBe(25);
  });

  it('swaps width and height of a video with a 90° display matrix', async () => {
    const rot = join(tmp.dir, 'rot.mp4');
    ffmpegSync(['-i', DANCE, '-frames:v', '3', '-c', 'copy', '-metadata:s:v:0', 'rotate=90', rot]);
    const info = await probeVideo(rot);
    expect([90, 270]).toContain(info.rotation);
    expect([info.width, info.height]).toEqual([512, 288]);
  });

  it('missing file, directory, zero-length file → user errors', async () => {
    let e = await rejection(probeVideo(join(tmp.dir, 'nope.mp4')));
    expect(e.code).toBe('VIDEO_NOT_FOUND');
    expect(e.category).toBe('user');
    expect(e.message).toBe(`The video ${join(tmp.dir, 'nope.mp4')} does not exist or cannot be read (ENOENT)`);
    e = await rejection(probeVideo(tmp.dir));
    expect(e.code).toBe('VIDEO_NOT_FOUND');
    const empty = join(tmp.dir, 'empty.mp4');
    writeFileSync(empty, '');
    e = await rejection(probeVideo(empty));
    expect(e.code).toBe('VIDEO_EMPTY');
    expect(e.message).toBe(`The video ${empty} is empty (0 bytes)`);
  });

  it('random bytes and a truncated mp4 (moov at the end) → VIDEO_UNREADABLE', async () => {
    const junk = join(tmp.dir, 'junk.mp4');
    let seed = 12345;
    writeFileSync(junk, Uint8Array.from({ length: 50_000 }, () => ((seed = (seed * 1103515245 + 12345) >>> 0) >>> 24)));
    let e = await rejection(probeVideo(junk));
    expect(e.code).toBe('VIDEO_UNREADABLE');
    expect(e.category).toBe('user');
    expect(e.message).toMatch(/^Cannot read video .*junk\.mp4: not a video ffmpeg understands, or the file is corrupt/);

    const whole = join(tmp.dir, 'moov-last.mp4');
    ffmpegSync(['-i', DANCE, '-c', 'copy', whole]); // no +faststart: moov after mdat
    const trunc = join(tmp.dir, 'trunc.mp4');
    writeFileSync(trunc, readFileSync(whole).subarray(0, 100_000));
    e = await rejection(probeVideo(trunc));
    expect(e.code).toBe('VIDEO_UNREADABLE');
    expect(e.describe()).toContain('Possible solutions:');
  });

  it('a still image is not a video', async () => {
    const jpg = join(tmp.dir, 'ref.jpg');
    copyFileSync(REF, jpg);
    const e = await rejection(probeVideo(jpg));
    expect(e.code).toBe('VIDEO_IS_IMAGE');
  });
});

describe('probe helpers', () => {
  it('parseRational reduces and rejects 0/0', () => {
    expect(parseRational('60000/2002')).toEqual([30000, 1001]);
    expect(parseRational('25')).toEqual([25, 1]);
    expect(parseRational('0/0')).toBeUndefined();
    expect(parseRational('x')).toBeUndefined();
  });

  it('pickFps prefers r_frame_rate when it agrees with avg_frame_rate, else avg', () => {
    expect(pickFps([30000, 1001], [2997, 100])).toEqual([30000, 1001]);
    expect(pickFps([90000, 1], [24, 1])).toEqual([24, 1]);
    expect(pickFps(undefined, [24, 1])).toEqual([24, 1]);
  });

  it('streamRotation: legacy tag is clockwise, display matrix is counter-clockwise', () => {
    expect(streamRotation({ index: 0, tags: { rotate: '90' } })).toBe(90);
    expect(streamRotation({ index: 0, side_data_list: [{ side_data_type: 'Display Matrix', rotation: 90 }] })).toBe(270);
    expect(streamRotation({ index: 0, side_data_list: [{ side_data_type: 'Display Matrix', rotation: -90 }] })).toBe(90);
    expect(streamRotation({ index: 0, side_data_list: [{ side_data_type: 'Display Matrix', rotation: 180 }] })).toBe(180);
    expect(streamRotation({ index: 0 })).toBe(0);
  });
});
