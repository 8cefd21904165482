import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CancelledError, CnextError } from '../../src/core/errors.ts';
import { decodedFrameCount, decodeFilters, decodeFrames, type DecodedFrame, type DecodeOptions } from '../../video/decode.ts';
import { createVideoEncoder } from '../../video/encode.ts';
import { probeVideo } from '../../video/probe.ts';
import { DANCE, childFfmpegs, ffmpegSync, psnr, tempDir } from './helpers.ts';

const tmp = tempDir();
afterAll(tmp.cleanup);

async function collect(file: string, o: DecodeOptions = {}): Promise<DecodedFrame[]> {
  const out: DecodedFrame[] = [];
  for await (const f of decodeFrames(file, o)) out.push(f);
  return out;
}

const md5 = (b: Uint8Array) => createHash('md5').update(b).digest('hex');

describe('decodeFrames', () => {
  let all: string[] = [];

  it('decodes every frame of the sample at its display size', async () => {
    const frames = await collect(DANCE);
    expect(frames.length).toBe(90);
    expect(frames.map((f) => f.index)).toEqual([...Array(90).keys()]);
    for (const f of frames) {
      expect([f.width, f.height, f.rgb.length]).toEqual([288, 512, 288 * 512 * 3]);
    }
    expect(frames[45].time).toBeCloseTo(1.5, 12);
    all = frames.map((f) => md5(f.rgb));
    expect(new Set(all).size).toBeGreaterThan(80); // the frames move; each one is its own buffer
  });

  it('stride selects exactly the source frames 0, s, 2s, … (same pixels as a full decode)', async () => {
    for (const [stride, maxFrames] of [
      [2, undefined],
      [7, undefined],
      [3, 5],
    ] as const) {
      const frames = await collect(DANCE, { stride, maxFrames });
      const n = decodedFrameCount({ frames: 90 }, stride, maxFrames);
      expect(n).toBe([45, 13, 5][[2, 7, 3].indexOf(stride)]);
      expect(frames.map((f) => f.index)).toEqual(Array.from({ length: n }, (_, k) => k * stride));
      for (const f of frames) expect(md5(f.rgb)).toBe(all[f.index]);
    }
  });

  it('scales: stretch, cover (centre crop), pad (black bars)', async () => {
    const [s] = await collect(DANCE, { width: 144, height: 200, fit: 'stretch', maxFrames: 1 });
    expect([s.width, s.height, s.rgb.length]).toEqual([144, 200, 144 * 200 * 3]);

    const [c] = await collect(DANCE, { width: 288, height: 288, fit: 'cover', maxFrames: 1 });
    const [full] = await collect(DANCE, { maxFrames: 1 });
    // cover at the same width is a pure centre crop: rows 112..399 of the original
    expect(psnr(c.rgb, full.rgb.subarray(112 * 288 * 3, 400 * 288 * 3))).toBe(Infinity);

    const [p] = await collect(DANCE, { width: 400, height: 512, fit: 'pad', maxFrames: 1 });
    expect([p.width, p.height]).toEqual([400, 512]);
    const px = (x: number, y: number) => Array.from(p.rgb.subarray((y * 400 + x) * 3, (y * 400 + x) * 3 + 3));
    expect(px(0, 0)).toEqual([0, 0, 0]);
    expect(px(399, 511)).toEqual([0, 0, 0]);
    expect(px(55, 256)).toEqual([0, 0, 0]); // bars are (400-288)/2 = 56 wide
    expect(psnr(Uint8Array.from(px(56 + 144, 256)), full.rgb.subarray((256 * 288 + 144) * 3, (256 * 288 + 145) * 3))).toBe(Infinity);

    const [w] = await collect(DANCE, { width: 144, maxFrames: 1 });
    expect([w.width, w.height]).toEqual([144, 256]);
  });

  it('stops ffmpeg on early return and leaks no process', async () => {
    expect(childFfmpegs()).toEqual([]);
    let n = 0;
    for await (const f of decodeFrames(DANCE)) {
      expect(f.index).toBe(n);
      if (++n === 3) {
        expect(childFfmpegs().length).toBe(1); // the decoder is running, paused by backpressure
        break;
      }
    }
    expect(childFfmpegs()).toEqual([]);
  });

  it('abort signal → CancelledError, no process left', async () => {
    const ac = new AbortController();
    let n = 0;
    const run = (async () => {
      for await (const _ of decodeFrames(DANCE, { signal: ac.signal })) {
        if (++n === 2) ac.abort();
      }
    })();
    await expect(run).rejects.toBeInstanceOf(CancelledError);
    expect(n).toBe(2);
    expect(childFfmpegs()).toEqual([]);
    const pre = new AbortController();
    pre.abort();
    await expect(collect(DANCE, { signal: pre.signal })).rejects.toBeInstanceOf(CancelledError);
  });

  it('a consumer that holds a frame while the job is cancelled gets CancelledError on its next pull', async () => {
    const ac = new AbortController();
    const frames = decodeFrames(DANCE, { signal: ac.signal });
    expect((await frames.next()).done).toBe(false);
    await new Promise((r) => setTimeout(r, 300)); // ffmpeg fills the pipe and blocks meanwhile
    ac.abort();
    await new Promise((r) => setTimeout(r, 300)); // the kill lands before the consumer comes back
    const next = Promise.race([frames.next(), new Promise((_, reject) => setTimeout(() => reject(new Error('hung')), 10_000))]);
    await expect(next).rejects.toBeInstanceOf(CancelledError);
    expect(childFfmpegs()).toEqual([]);
  });

  it('an abort while ffmpeg is starting is a CancelledError for the consumer, not an uncaught exception', async () => {
    // Seen in a batch interrupted while the next clip's poses were prefetched: the pipe was destroyed before the
    // frame loop listened to it, and its 'error' event had no listener (vitest fails a run on an uncaught error).
    const info = await probeVideo(DANCE);
    const ac = new AbortController();
    const frames = decodeFrames(DANCE, { signal: ac.signal, info });
    const first = frames.next(); // runs up to `await startFfmpeg(…)`
    ac.abort();
    await expect(first).rejects.toBeInstanceOf(CancelledError);
    await new Promise((r) => setTimeout(r, 200)); // an uncaught 'error' would be emitted on a later tick
    expect(childFfmpegs()).toEqual([]);
  });

  it('a file that ffprobe accepts but no frame decodes from is a user error', async () => {
    const tabs = join(tmp.dir, 'tabs.mp4');
    writeFileSync(tabs, Buffer.alloc(4096, 0x09));
    const err = await collect(tabs).then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(CnextError);
    expect((err as CnextError).category).toBe('user');
    expect((err as CnextError).message).toMatch(/^Cannot (decode video|read video) .*tabs\.mp4/);
  });

  it('rejects bad parameters with the standard wording', async () => {
    await expect(collect(DANCE, { stride: 0 })).rejects.toThrow('Expected integer between 1 and 65536 for stride but received 0 of type number');
    await expect(collect(DANCE, { fit: 'zoom' as never })).rejects.toThrow("Expected one of cover, pad, stretch for fit but received 'zoom' of type string");
  });

  it('a truncated mp4 whose index survives (faststart) → VIDEO_CORRUPT after the frames that exist', async () => {
    const trunc = join(tmp.dir, 'trunc.mp4');
    writeFileSync(trunc, readFileSync(DANCE).subarray(0, 120_000));
    let n = 0;
    const err = await (async () => {
      for await (const _ of decodeFrames(trunc)) n++;
    })().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CnextError);
    expect((err as CnextError).code).toBe('VIDEO_CORRUPT');
    expect((err as CnextError).category).toBe('user');
    expect((err as CnextError).message).toMatch(new RegExp(`decoded ${n} of 90 frames`));
    expect(n).toBeGreaterThan(0);
    expect(n).toBeLessThan(90);
    expect(childFfmpegs()).toEqual([]);
  });

  it('random bytes / zero-length / missing input → user errors before any frame, no process', async () => {
    const junk = join(tmp.dir, 'junk.mov');
    writeFileSync(junk, Buffer.alloc(4096, 0x5a));
    await expect(collect(junk)).rejects.toMatchObject({ code: 'VIDEO_UNREADABLE', category: 'user' });
    const empty = join(tmp.dir, 'empty.mp4');
    writeFileSync(empty, '');
    await expect(collect(empty)).rejects.toMatchObject({ code: 'VIDEO_EMPTY', category: 'user' });
    await expect(collect(join(tmp.dir, 'missing.mp4'))).rejects.toMatchObject({ code: 'VIDEO_NOT_FOUND', category: 'user' });
    expect(childFfmpegs()).toEqual([]);
  });

  it('decodes a rotated video upright (display matrix applied, size swapped)', async () => {
    // 64×32 source: left half red, right half blue, a green top band
    const W = 64;
    const H = 32;
    const src = new Uint8Array(W * H * 3);
    for (let y = 0; y < H; y++)
      for (let x = 0; x < W; x++) {
        const o = (y * W + x) * 3;
        if (y < 8) src[o + 1] = 255;
        else if (x < W / 2) src[o] = 255;
        else src[o + 2] = 255;
      }
    const plain = join(tmp.dir, 'plain.mp4');
    const enc = createVideoEncoder({ file: plain, width: W, height: H, fps: [25, 1], crf: 0 });
    for (let i = 0; i < 3; i++) await enc.write(src);
    await enc.finish();
    const rot = join(tmp.dir, 'rot90.mp4');
    ffmpegSync(['-i', plain, '-c', 'copy', '-metadata:s:v:0', 'rotate=90', rot]);

    const info = await probeVideo(rot);
    const frames = await collect(rot);
    expect(frames.length).toBe(3);
    expect([frames[0].width, frames[0].height]).toEqual([H, W]);
    // expected: src turned clockwise by info.rotation degrees
    const cw = info.rotation === 90;
    expect(info.rotation === 90 || info.rotation === 270).toBe(true);
    const expected = new Uint8Array(W * H * 3);
    for (let y = 0; y < H; y++)
      for (let x = 0; x < W; x++) {
        const [nx, ny] = cw ? [H - 1 - y, x] : [y, W - 1 - x];
        expected.set(src.subarray((y * W + x) * 3, (y * W + x) * 3 + 3), (ny * H + nx) * 3);
      }
    expect(psnr(frames[0].rgb, expected)).toBeGreaterThan(25);
    // and clearly not the other direction
    const wrong = new Uint8Array(W * H * 3);
    for (let y = 0; y < H; y++)
      for (let x = 0; x < W; x++) {
        const [nx, ny] = cw ? [y, W - 1 - x] : [H - 1 - y, x];
        wrong.set(src.subarray((y * W + x) * 3, (y * W + x) * 3 + 3), (ny * H + nx) * 3);
      }
    expect(psnr(frames[0].rgb, wrong)).toBeLessThan(10);
  });
});

describe('decodeFilters', () => {
  it('builds the select / scale chain', () => {
    expect(decodeFilters(2, { width: 10, height: 20 }, { width: 10, height: 20 }, 'cover')).toEqual(['select=not(mod(n\\,2))', 'setsar=1', 'format=rgb24']);
    expect(decodeFilters(1, { width: 10, height: 20 }, { width: 6, height: 6 }, 'pad')).toEqual([
      'scale=6:6:force_original_aspect_ratio=decrease',
      'pad=6:6:(ow-iw)/2:(oh-ih)/2:black',
      'setsar=1',
      'format=rgb24',
    ]);
  });
});
