// RGB frames → H.264 MP4 through one ffmpeg pipe: yuv420p, +faststart, exact rational fps, optional AAC audio
// from the driving video (trimmed), metadata. Written to `<file>.partial-<pid>.mp4`, renamed when complete.
import { mkdir, rename, rm, stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import { PassThrough } from 'node:stream';
import { CancelledError, CnextError } from '../src/core/errors.ts';
import { invalidParameterError, isInteger, isNumber } from '../src/core/is.ts';
import { ffmpegCommand, ffmpegFailed, startFfmpeg, type FfmpegRun } from './ffmpeg.ts';
import { probeVideo, type Rational } from './probe.ts';

export interface AudioSource {
  /** Usually the driving video; a file without an audio stream just gives a silent output. */
  file: string;
  startSec: number;
  durationSec: number;
}

export interface VideoEncoderOptions {
  file: string;
  /** Frame size of the RGB buffers passed to write(). Odd sizes are padded by one black pixel (yuv420p). */
  width: number;
  height: number;
  /** Exact frame rate, e.g. [30000, 1001]. */
  fps: Rational;
  /** x264 constant rate factor, 0–51 (default 18: visually lossless). */
  crf?: number;
  /** x264 preset (default 'medium'). */
  preset?: X264Preset;
  audioFrom?: AudioSource;
  /** Container tags; `comment` and `description` are standard MP4 tags, other keys are written as mdta keys. */
  metadata?: Record<string, string>;
  signal?: AbortSignal;
}

export interface VideoEncoder {
  /** Resolves when the frame is accepted (waits while ffmpeg is behind). The buffer may be reused afterwards. */
  write(rgb: Uint8Array): Promise<void>;
  /** Ends the stream, waits for ffmpeg, moves the file into place. */
  finish(): Promise<void>;
  /** Stops ffmpeg and removes the partial file. Safe to call more than once, or after a failure. */
  abort(): Promise<void>;
  /** Frames accepted so far. */
  readonly frames: number;
  /** The temporary file being written. */
  readonly partialFile: string;
}

export const X264_PRESETS = ['ultrafast', 'superfast', 'veryfast', 'faster', 'fast', 'medium', 'slow', 'slower', 'veryslow'] as const;
export type X264Preset = (typeof X264_PRESETS)[number];

/** MP4 tags the mov muxer writes without `use_metadata_tags` (libavformat movenc.c, mov_write_ilst_tag). */
const STANDARD_TAGS = new Set(['title', 'artist', 'album_artist', 'album', 'composer', 'comment', 'genre', 'copyright', 'date', 'description', 'synopsis', 'show', 'episode_id', 'network', 'lyrics', 'grouping', 'encoder']);

export function partialPath(file: string): string {
  return `${file}.partial-${process.pid}.mp4`;
}

function checkOptions(o: VideoEncoderOptions): void {
  if (typeof o.file !== 'string' || !o.file) throw invalidParameterError('file', 'non-empty string', o.file);
  for (const k of ['width', 'height'] as const) {
    if (!(isInteger(o[k]) && o[k] >= 2 && o[k] <= 16384)) throw invalidParameterError(k, 'integer between 2 and 16384', o[k]);
  }
  const [num, den] = Array.isArray(o.fps) ? o.fps : [NaN, NaN];
  if (!(isInteger(num) && isInteger(den) && num > 0 && den > 0 && num / den <= 1000)) {
    throw invalidParameterError('fps', 'rational [num, den] of positive integers', Array.isArray(o.fps) ? o.fps.join('/') : o.fps);
  }
  if (o.crf !== undefined && !(isNumber(o.crf) && o.crf >= 0 && o.crf <= 51)) throw invalidParameterError('crf', 'number between 0 and 51', o.crf);
  if (o.preset !== undefined && !X264_PRESETS.includes(o.preset)) throw invalidParameterError('preset', `one of ${X264_PRESETS.join(', ')}`, o.preset);
  if (o.audioFrom) {
    const a = o.audioFrom;
    if (!(isNumber(a.startSec) && a.startSec >= 0)) throw invalidParameterError('audioFrom.startSec', 'number ≥ 0', a.startSec);
    if (!(isNumber(a.durationSec) && a.durationSec > 0)) throw invalidParameterError('audioFrom.durationSec', 'number > 0', a.durationSec);
  }
  for (const [k, v] of Object.entries(o.metadata ?? {})) {
    if (!/^[A-Za-z0-9_]+$/.test(k)) throw invalidParameterError('metadata key', 'letters, digits and _', k);
    if (typeof v !== 'string' || v.includes('\0')) throw invalidParameterError(`metadata.${k}`, 'string without NUL', v);
  }
}

/** Builds the fluent-ffmpeg command: input 0 = raw RGB from `input`, input 1 = optional audio source. */
function buildCommand(o: VideoEncoderOptions, input: PassThrough, out: string, withAudio: boolean) {
  const [num, den] = o.fps;
  const cmd = ffmpegCommand()
    .input(input)
    .inputOptions('-nostdin', '-v', 'error', '-f', 'rawvideo', '-pix_fmt', 'rgb24', '-s', `${o.width}x${o.height}`, '-framerate', `${num}/${den}`);
  if (withAudio && o.audioFrom) {
    cmd.input(o.audioFrom.file).inputOptions('-ss', o.audioFrom.startSec.toFixed(6), '-t', o.audioFrom.durationSec.toFixed(6));
  }
  cmd.outputOptions('-map', '0:v:0');
  if (withAudio) cmd.outputOptions('-map', '1:a:0', '-c:a', 'aac', '-b:a', '128k');
  const odd = o.width % 2 || o.height % 2;
  if (odd) cmd.outputOptions('-vf', 'pad=ceil(iw/2)*2:ceil(ih/2)*2:0:0:black');
  cmd.outputOptions('-c:v', 'libx264', '-preset', o.preset ?? 'medium', '-crf', String(o.crf ?? 18), '-pix_fmt', 'yuv420p');
  cmd.outputOptions('-vsync', '0', '-sn', '-dn', '-map_metadata', '-1', '-map_chapters', '-1');
  const meta = Object.entries(o.metadata ?? {});
  for (const [k, v] of meta) cmd.outputOptions('-metadata', `${k}=${v}`);
  const custom = meta.some(([k]) => !STANDARD_TAGS.has(k));
  cmd.outputOptions('-movflags', custom ? '+faststart+use_metadata_tags' : '+faststart', '-f', 'mp4', '-y');
  cmd.output(out);
  return cmd;
}

export function createVideoEncoder(options: VideoEncoderOptions): VideoEncoder {
  checkOptions(options);
  const { file, width, height, signal } = options;
  const frameBytes = width * height * 3;
  const partial = partialPath(file);
  const input = new PassThrough({ highWaterMark: 2 * frameBytes });
  let frames = 0;
  let state: 'open' | 'finishing' | 'done' | 'aborted' | 'failed' = 'open';
  let failure: Error | undefined;

  const fail = (e: Error): Error => {
    if (!failure) {
      failure = e;
      if (state === 'open' || state === 'finishing') state = 'failed';
    }
    return failure;
  };

  const started: Promise<FfmpegRun> = (async () => {
    if (signal?.aborted) throw new CancelledError();
    let withAudio = false;
    if (options.audioFrom) withAudio = (await probeVideo(options.audioFrom.file)).hasAudio;
    await mkdir(dirname(file), { recursive: true });
    const cmd = buildCommand(options, input, partial, withAudio);
    return startFfmpeg(cmd, () => cmd.run());
  })();
  // Everything that can end the encoder early funnels into `dead`: ffmpeg exiting before finish(), or failing.
  const dead: Promise<never> = started.then(
    (run) =>
      run.done.then(
        () => {
          if (state === 'finishing' || state === 'done') return new Promise<never>(() => {});
          throw fail(ffmpegFailed(`encoding ${file} (ffmpeg exited before the last frame)`, run.stderr()));
        },
        (e: unknown) => {
          throw fail(state === 'aborted' ? new CancelledError() : ffmpegFailed(`encoding ${file}`, run.stderr(), e));
        },
      ),
    (e: unknown) => {
      throw fail(e as Error);
    },
  );
  dead.catch(() => {});

  const onAbort = () => void encoder.abort();
  signal?.addEventListener('abort', onAbort, { once: true });

  const encoder: VideoEncoder = {
    get frames() {
      return frames;
    },
    partialFile: partial,

    async write(rgb) {
      if (failure && state !== 'aborted') throw failure;
      if (state !== 'open') throw new CnextError('ENCODER_CLOSED', `write() after ${state === 'aborted' ? 'abort' : 'finish'}() on ${file}`, { category: 'system' });
      if (!(rgb instanceof Uint8Array) || rgb.length !== frameBytes) {
        throw new CnextError('INVALID_FRAME', `Frame ${frames} has ${rgb?.length} bytes; expected ${frameBytes} (${width}×${height} RGB)`, { category: 'system' });
      }
      frames++;
      if (!input.write(Buffer.from(rgb))) {
        await Promise.race([new Promise<void>((r) => input.once('drain', r)), dead]);
      }
    },

    async finish() {
      if (failure) {
        await encoder.abort();
        throw failure;
      }
      if (state !== 'open') throw new CnextError('ENCODER_CLOSED', `finish() after ${state === 'aborted' ? 'abort' : 'finish'}() on ${file}`, { category: 'system' });
      if (frames === 0) {
        await encoder.abort();
        throw new CnextError('ENCODE_NO_FRAMES', `No frames were written to ${file}`, { category: 'system' });
      }
      state = 'finishing';
      input.end();
      let run: FfmpegRun;
      try {
        run = await started;
        await run.done;
      } catch (e) {
        await encoder.abort();
        throw failure ?? ffmpegFailed(`encoding ${file}`, '', e);
      }
      try {
        const st = await stat(partial);
        if (!st.size) throw new Error('empty output');
        await rename(partial, file);
      } catch (e) {
        await rm(partial, { force: true });
        throw new CnextError('ENCODE_WRITE_FAILED', `Cannot move ${partial} to ${file}: ${(e as Error).message}`, { category: 'system', cause: e });
      }
      state = 'done';
      signal?.removeEventListener('abort', onAbort);
    },

    async abort() {
      if (state === 'done' || state === 'aborted') return;
      state = 'aborted';
      signal?.removeEventListener('abort', onAbort);
      input.destroy();
      try {
        const run = await started;
        await run.kill();
      } catch {
        // start failed: nothing runs
      }
      await rm(partial, { force: true });
    },
  };
  return encoder;
}
