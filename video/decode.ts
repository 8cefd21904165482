// Streams RGB frames out of a video through one ffmpeg pipe (rawvideo rgb24): every stride-th source frame,
// rotated upright, optionally scaled. Only one frame is held at a time; ffmpeg is killed on early exit.
import { PassThrough } from 'node:stream';
import { CancelledError, CnextError, throwIfAborted } from '../src/core/errors.ts';
import { invalidParameterError, isInteger } from '../src/core/is.ts';
import { ffmpegCommand, ffmpegFailed, startFfmpeg, type FfmpegRun } from './ffmpeg.ts';
import type { RgbImage } from './image.ts';
import { probeVideo, type VideoInfo } from './probe.ts';

export type Fit = 'cover' | 'pad' | 'stretch';

export interface DecodeOptions {
  /** Keep source frames 0, stride, 2·stride, … (default 1). */
  stride?: number;
  /** Stop after this many decoded (kept) frames. */
  maxFrames?: number;
  /** Output size; one of them alone keeps the aspect ratio. Default: the display size. */
  width?: number;
  height?: number;
  /** How to reach width×height when the aspect ratio differs (default 'cover': scale to cover, centre crop). */
  fit?: Fit;
  signal?: AbortSignal;
  /** Probe result, when the caller already has it. */
  info?: VideoInfo;
}

export interface DecodedFrame extends RgbImage {
  /** Source frame index (0-based, in decode order of the display stream). */
  index: number;
  /** Presentation time in seconds, index / fps. */
  time: number;
}

const FITS: readonly Fit[] = ['cover', 'pad', 'stretch'];

function checkPositiveInt(name: string, v: unknown, max = 1 << 16): void {
  if (v !== undefined && !(isInteger(v) && (v as number) >= 1 && (v as number) <= max)) {
    throw invalidParameterError(name, `integer between 1 and ${max}`, v);
  }
}

/** The output size for a display size and the requested width/height (aspect kept when only one is given). */
export function outputSize(info: { width: number; height: number }, width?: number, height?: number): { width: number; height: number } {
  if (width && height) return { width, height };
  if (width) return { width, height: Math.max(1, Math.round((info.height * width) / info.width)) };
  if (height) return { width: Math.max(1, Math.round((info.width * height) / info.height)), height };
  return { width: info.width, height: info.height };
}

/** How many frames decodeFrames yields for a probed video (for progress totals). */
export function decodedFrameCount(info: Pick<VideoInfo, 'frames'>, stride = 1, maxFrames?: number): number {
  return Math.min(Math.ceil(info.frames / stride), maxFrames ?? Infinity);
}

/** The ffmpeg filter chain (after autorotation) for stride and fit; filters all exist in ffmpeg N-47683. */
export function decodeFilters(stride: number, src: { width: number; height: number }, out: { width: number; height: number }, fit: Fit): string[] {
  const f: string[] = [];
  if (stride > 1) f.push(`select=not(mod(n\\,${stride}))`);
  if (out.width !== src.width || out.height !== src.height) {
    const { width: W, height: H } = out;
    if (fit === 'stretch') f.push(`scale=${W}:${H}`);
    else if (fit === 'cover') f.push(`scale=${W}:${H}:force_original_aspect_ratio=increase`, `crop=${W}:${H}`);
    else f.push(`scale=${W}:${H}:force_original_aspect_ratio=decrease`, `pad=${W}:${H}:(ow-iw)/2:(oh-ih)/2:black`);
  }
  f.push('setsar=1', 'format=rgb24');
  return f;
}

export async function* decodeFrames(file: string, options: DecodeOptions = {}): AsyncGenerator<DecodedFrame, void, undefined> {
  const { stride = 1, maxFrames, fit = 'cover', signal } = options;
  checkPositiveInt('stride', stride);
  checkPositiveInt('maxFrames', maxFrames, 1 << 24);
  checkPositiveInt('width', options.width);
  checkPositiveInt('height', options.height);
  if (!FITS.includes(fit)) throw invalidParameterError('fit', `one of ${FITS.join(', ')}`, fit);
  throwIfAborted(signal);

  const info = options.info ?? (await probeVideo(file));
  const out = outputSize(info, options.width, options.height);
  const expected = decodedFrameCount(info, stride, maxFrames);
  const frameBytes = out.width * out.height * 3;

  const pipe = new PassThrough({ highWaterMark: Math.max(frameBytes, 1 << 16) });
  // A destroyed pipe keeps its error for the frame loop's iterator, which rethrows it; this listener only stops
  // an abort that lands before the loop listens (while ffmpeg starts) from becoming an uncaught exception.
  pipe.on('error', () => {});
  const cmd = ffmpegCommand()
    .input(file)
    .inputOptions('-nostdin', '-v', 'error')
    .outputOptions('-vf', decodeFilters(stride, info, out, fit).join(','))
    .outputOptions('-vsync', '0', '-an', '-sn', '-dn')
    .outputOptions('-f', 'rawvideo', '-pix_fmt', 'rgb24');
  if (maxFrames !== undefined) cmd.outputOptions('-frames:v', String(maxFrames));
  cmd.output(pipe, { end: true });

  let run: FfmpegRun | undefined;
  // Ending the pipe matters as much as killing ffmpeg: a consumer that resumes after the abort must not wait
  // on a stream that a killed process will never end.
  const onAbort = () => {
    pipe.destroy(new CancelledError());
    void run?.kill();
  };
  signal?.addEventListener('abort', onAbort, { once: true });
  let finished = false;
  try {
    run = await startFfmpeg(cmd, () => cmd.run());
    if (signal?.aborted) await run.kill();

    let k = 0;
    let frame = new Uint8Array(frameBytes);
    let filled = 0;
    for await (const chunk of pipe as AsyncIterable<Buffer>) {
      let off = 0;
      while (off < chunk.length) {
        const n = Math.min(frameBytes - filled, chunk.length - off);
        frame.set(chunk.subarray(off, off + n), filled);
        filled += n;
        off += n;
        if (filled === frameBytes) {
          throwIfAborted(signal);
          const index = k * stride;
          yield { index, time: (index * info.fps[1]) / info.fps[0], width: out.width, height: out.height, rgb: frame };
          k++;
          frame = new Uint8Array(frameBytes);
          filled = 0;
        }
      }
    }
    throwIfAborted(signal);
    try {
      await run.done;
    } catch (e) {
      throwIfAborted(signal);
      // fluent-ffmpeg reports 'Output stream closed' (and kills ffmpeg) when ffmpeg's exit comes more than 20 ms
      // after its stdout closed — on a loaded machine, after every frame arrived. Nothing is missing then.
      const late = e instanceof Error && e.message === 'Output stream closed' && k === expected && filled === 0;
      if (!late) {
        // Not one frame came out: the input is the problem (ffprobe accepts some non-video files, e.g. text read
        // as "cdgraphics"), not ffmpeg.
        if (k === 0) {
          const tail = run.stderr().trim().split('\n').slice(-2).join(' | ');
          throw new CnextError('VIDEO_UNREADABLE', `Cannot decode video ${file}: not a video ffmpeg can decode, or the file is corrupt${tail ? ` (${tail})` : ''}`, {
            category: 'user',
            cause: e,
          });
        }
        throw ffmpegFailed(`decoding ${file}`, run.stderr(), e);
      }
    }
    const errors = run.stderr().trim();
    if (filled !== 0 || (k < expected && errors)) {
      throw new CnextError('VIDEO_CORRUPT', `${file} is damaged or truncated: decoded ${k} of ${expected} frames${errors ? ` (${errors.split('\n').slice(-2).join(' | ')})` : ''}`, {
        category: 'user',
        solutions: ['Check that the file plays to the end in a video player', 'Re-encode it: ffmpeg -i input -c:v libx264 -pix_fmt yuv420p output.mp4'],
      });
    }
    finished = true;
  } catch (e) {
    if (signal?.aborted && !(e instanceof CancelledError)) throw new CancelledError();
    throw e;
  } finally {
    signal?.removeEventListener('abort', onAbort);
    if (!finished) {
      pipe.destroy();
      await run?.kill();
    }
  }
}
