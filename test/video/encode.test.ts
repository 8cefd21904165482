import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CancelledError, CnextError } from '../../src/core/errors.ts';
import { decodeFrames } from '../../video/decode.ts';
import { createVideoEncoder, partialPath } from '../../video/encode.ts';
import { probeAudioDuration, probeMetadata, probeVideo } from '../../video/probe.ts';
import { DANCE, childFfmpegs, ffmpegSync, ffprobeJson, psnr, syntheticFrame, tempDir } from './helpers.ts';

const tmp = tempDir();
afterAll(tmp.cleanup);

describe('createVideoEncoder', () => {
  it('writes N frames at exactly 30000/1001 that decode back to the same pictures', async () => {
    const file = join(tmp.dir, 'ntsc.mp4');
    const N = 15;
    const enc = createVideoEncoder({ file, width: 96, height: 64, fps: [30000, 1001] });
    const sent: Uint8Array[] = [];
    for (let t = 0; t < N; t++) {
      const f = syntheticFrame(96, 64, t);
      sent.push(f.slice());
      await enc.write(f);
      f.fill(0); // the encoder copied it
    }
    expect(enc.frames).toBe(N);
    await enc.finish();

    const info = await probeVideo(file);
    expect(info.fps).toEqual([30000, 1001]);
    expect(info.frames).toBe(N);
    expect(info.codec).toBe('h264');
    expect(info.durationSec).toBeCloseTo((N * 1001) / 30000, 3);
    const s = ffprobeJson(['-count_packets', '-select_streams', 'v:0', '-show_entries', 'stream=r_frame_rate,avg_frame_rate,nb_read_packets,pix_fmt,profile', file]).streams[0];
    expect(s).toMatchObject({ r_frame_rate: '30000/1001', avg_frame_rate: '30000/1001', nb_read_packets: '15', pix_fmt: 'yuv420p' });

    let i = 0;
    for await (const f of decodeFrames(file)) {
      expect(psnr(f.rgb, sent[f.index])).toBeGreaterThan(30); // RGB order and content survive yuv420p + crf 18
      i++;
    }
    expect(i).toBe(N);
  });

  it('decode with stride 2 → encode at fps/2 keeps the count and the exact rational', async () => {
    const file = join(tmp.dir, 'stride2.mp4');
    const enc = createVideoEncoder({ file, width: 288, height: 512, fps: [30000, 2002] });
    for await (const f of decodeFrames(DANCE, { stride: 2, maxFrames: 12 })) await enc.write(f.rgb);
    await enc.finish();
    const info = await probeVideo(file);
    expect(info.frames).toBe(12);
    expect(info.fps).toEqual([15000, 1001]);
  });

  it('is written under a partial name and renamed at finish()', async () => {
    const file = join(tmp.dir, 'atomic.mp4');
    const enc = createVideoEncoder({ file, width: 32, height: 32, fps: [25, 1] });
    expect(enc.partialFile).toBe(partialPath(file));
    expect(enc.partialFile).toBe(`${file}.partial-${process.pid}.mp4`);
    for (let t = 0; t < 5; t++) await enc.write(syntheticFrame(32, 32, t));
    expect(existsSync(file)).toBe(false);
    await enc.finish();
    expect(existsSync(file)).toBe(true);
    expect(existsSync(enc.partialFile)).toBe(false);
    await expect(enc.write(syntheticFrame(32, 32, 0))).rejects.toThrow('write() after finish() on');
  });

  it('abort() leaves no file, partial or final, and no process', async () => {
    const file = join(tmp.dir, 'aborted.mp4');
    const enc = createVideoEncoder({ file, width: 64, height: 64, fps: [24, 1] });
    for (let t = 0; t < 30; t++) await enc.write(syntheticFrame(64, 64, t));
    expect(childFfmpegs().length).toBe(1);
    await enc.abort();
    await enc.abort(); // idempotent
    expect(existsSync(file)).toBe(false);
    expect(existsSync(enc.partialFile)).toBe(false);
    expect(childFfmpegs()).toEqual([]);
    await expect(enc.write(syntheticFrame(64, 64, 0))).rejects.toThrow('write() after abort() on');

    const ac = new AbortController();
    const enc2 = createVideoEncoder({ file, width: 64, height: 64, fps: [24, 1], signal: ac.signal });
    await enc2.write(syntheticFrame(64, 64, 0));
    ac.abort();
    await new Promise((r) => setTimeout(r, 200));
    expect(existsSync(enc2.partialFile)).toBe(false);
    await expect(enc2.finish()).rejects.toThrow();
    expect(childFfmpegs()).toEqual([]);
  });

  it('carries the driving video audio, trimmed to the output', async () => {
    const src = join(tmp.dir, 'with-audio.mp4');
    ffmpegSync(['-f', 'lavfi', '-i', 'testsrc=size=64x48:rate=30', '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000', '-t', '4', '-c:v', 'libx264', '-pix_fmt', 'yuv420p', '-c:a', 'aac', src]);
    const file = join(tmp.dir, 'audio-out.mp4');
    const N = 20;
    const durationSec = N / 15;
    const enc = createVideoEncoder({ file, width: 64, height: 48, fps: [15, 1], audioFrom: { file: src, startSec: 1, durationSec } });
    for (let t = 0; t < N; t++) await enc.write(syntheticFrame(64, 48, t));
    await enc.finish();
    const info = await probeVideo(file);
    expect(info.hasAudio).toBe(true);
    expect(info.frames).toBe(N);
    expect(info.fps).toEqual([15, 1]);
    const audio = await probeAudioDuration(file);
    expect(Math.abs((audio ?? 0) - durationSec)).toBeLessThan(0.05);
    const a = ffprobeJson(['-select_streams', 'a:0', '-show_entries', 'stream=codec_name', file]).streams[0];
    expect(a.codec_name).toBe('aac');

    // the trim starts at startSec: the source is silent for its first second, then a tone
    const gated = join(tmp.dir, 'gated.mp4');
    ffmpegSync(['-f', 'lavfi', '-i', 'testsrc=size=64x48:rate=30', '-f', 'lavfi', '-i', "aevalsrc='if(gte(t,1),0.5*sin(2*PI*440*t),0)':s=48000", '-t', '3', '-c:v', 'libx264', '-pix_fmt', 'yuv420p', '-c:a', 'aac', gated]);
    const rmsOfFirst = async (startSec: number) => {
      const out = join(tmp.dir, `gated-${startSec}.mp4`);
      const e = createVideoEncoder({ file: out, width: 64, height: 48, fps: [15, 1], audioFrom: { file: gated, startSec, durationSec: 0.8 } });
      for (let t = 0; t < 12; t++) await e.write(syntheticFrame(64, 48, t));
      await e.finish();
      const raw = join(tmp.dir, `gated-${startSec}.raw`);
      ffmpegSync(['-i', out, '-map', '0:a', '-t', '0.5', '-f', 's16le', '-ac', '1', '-ar', '48000', raw]);
      const pcm = new Int16Array(new Uint8Array(readFileSync(raw)).buffer);
      return Math.sqrt(pcm.reduce((a, v) => a + (v / 32768) ** 2, 0) / pcm.length);
    };
    expect(await rmsOfFirst(0)).toBeLessThan(0.01);
    expect(await rmsOfFirst(1.2)).toBeGreaterThan(0.3); // 0.5·sin → RMS 0.35

    // a driving video without audio gives a silent output, not an error
    const silent = join(tmp.dir, 'silent.mp4');
    const enc2 = createVideoEncoder({ file: silent, width: 64, height: 48, fps: [15, 1], audioFrom: { file: DANCE, startSec: 0, durationSec: 1 } });
    await enc2.write(syntheticFrame(64, 48, 0));
    await enc2.finish();
    expect((await probeVideo(silent)).hasAudio).toBe(false);
  });

  it('metadata round trip (comment JSON, description, custom keys)', async () => {
    const file = join(tmp.dir, 'meta.mp4');
    const params = { seed: 42, prompt: 'a "quoted" value, with spaces', steps: 25, guidance: [1, 3] };
    const metadata = { comment: JSON.stringify(params), description: 'controlnext-motion', cnext_seed: '42' };
    const enc = createVideoEncoder({ file, width: 32, height: 32, fps: [25, 1], metadata });
    await enc.write(syntheticFrame(32, 32, 0));
    await enc.finish();
    const tags = await probeMetadata(file);
    expect(tags).toMatchObject(metadata);
    expect(JSON.parse(tags.comment)).toEqual(params);
  });

  it('pads odd sizes to even (yuv420p)', async () => {
    const file = join(tmp.dir, 'odd.mp4');
    const enc = createVideoEncoder({ file, width: 33, height: 17, fps: [25, 1] });
    await enc.write(syntheticFrame(33, 17, 0));
    await enc.finish();
    const info = await probeVideo(file);
    expect([info.width, info.height]).toEqual([34, 18]);
  });

  it('parameter and frame errors', async () => {
    expect(() => createVideoEncoder({ file: join(tmp.dir, 'x.mp4'), width: 32, height: 32, fps: [30, 0] })).toThrow(
      "Expected rational [num, den] of positive integers for fps but received '30/0' of type string",
    );
    expect(() => createVideoEncoder({ file: join(tmp.dir, 'x.mp4'), width: 1, height: 32, fps: [30, 1] })).toThrow(
      'Expected integer between 2 and 16384 for width but received 1 of type number',
    );
    const file = join(tmp.dir, 'bad-frame.mp4');
    const enc = createVideoEncoder({ file, width: 32, height: 32, fps: [25, 1] });
    await expect(enc.write(new Uint8Array(10))).rejects.toThrow('Frame 0 has 10 bytes; expected 3072 (32×32 RGB)');
    const e = await enc.finish().catch((x: unknown) => x);
    expect((e as CnextError).code).toBe('ENCODE_NO_FRAMES');
    expect(readdirSync(tmp.dir).filter((f) => f.startsWith('bad-frame'))).toEqual([]);
  });

  it('ffmpeg dying mid-stream → third-party FFMPEG_FAILED, nothing left behind', async () => {
    const file = join(tmp.dir, 'crash.mp4');
    const enc = createVideoEncoder({ file, width: 64, height: 64, fps: [25, 1] });
    await enc.write(syntheticFrame(64, 64, 0));
    while (!childFfmpegs().length) await new Promise((r) => setTimeout(r, 10)); // ffmpeg starts asynchronously
    const [pid] = childFfmpegs();
    process.kill(pid, 'SIGKILL');
    let err: unknown;
    try {
      for (let t = 1; t < 500; t++) await enc.write(syntheticFrame(64, 64, t));
      await enc.finish();
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(CnextError);
    expect(err).not.toBeInstanceOf(CancelledError);
    expect((err as CnextError).code).toBe('FFMPEG_FAILED');
    expect((err as CnextError).category).toBe('third-party');
    await enc.abort();
    expect(existsSync(enc.partialFile)).toBe(false);
    expect(existsSync(file)).toBe(false);
    expect(childFfmpegs()).toEqual([]);
  });

  it('a corrupt audio source is a user error before anything is encoded', async () => {
    const file = join(tmp.dir, 'never.mp4');
    const enc = createVideoEncoder({ file, width: 32, height: 32, fps: [25, 1], audioFrom: { file: join(tmp.dir, 'missing.mp4'), startSec: 0, durationSec: 1 } });
    const e = await enc.write(syntheticFrame(32, 32, 0)).then(() => enc.finish()).catch((x: unknown) => x);
    expect((e as CnextError).code).toBe('VIDEO_NOT_FOUND');
    expect(existsSync(file)).toBe(false);
  });
});
