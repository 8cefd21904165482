// ffprobe → VideoInfo: display size (rotation applied), exact rational fps, exact frame count.
import { stat } from 'node:fs/promises';
import { CnextError } from '../src/core/errors.ts';
import { runFfprobe, stderrTail } from './ffmpeg.ts';

export type Rational = [num: number, den: number];

export interface VideoInfo {
  /** Display size: already swapped when `rotation` is 90 or 270. */
  width: number;
  height: number;
  /** Exact frame rate, reduced (e.g. [30000, 1001]). */
  fps: Rational;
  /** Exact number of video frames (container count, or counted packets when the container has none). */
  frames: number;
  durationSec: number;
  /** Clockwise degrees (0, 90, 180, 270) the decoder turns frames to show them upright. */
  rotation: number;
  hasAudio: boolean;
  /** ffprobe codec_name of the video stream, e.g. 'h264'. */
  codec: string;
}

export interface ProbeStream {
  index: number;
  codec_type?: string;
  codec_name?: string;
  width?: number;
  height?: number;
  r_frame_rate?: string;
  avg_frame_rate?: string;
  nb_frames?: string;
  nb_read_packets?: string;
  duration?: string;
  tags?: Record<string, string>;
  side_data_list?: Array<{ side_data_type?: string; rotation?: number }>;
  disposition?: Record<string, number>;
}

interface ProbeOutput {
  streams?: ProbeStream[];
  format?: { format_name?: string; duration?: string; tags?: Record<string, string> };
}

function gcd(a: number, b: number): number {
  while (b) [a, b] = [b, a % b];
  return a;
}

/** '30000/1001' → [30000, 1001] reduced; undefined for '0/0', garbage or non-positive values. */
export function parseRational(s: string | undefined): Rational | undefined {
  const m = /^\s*(\d+)\s*(?:\/\s*(\d+))?\s*$/.exec(s ?? '');
  if (!m) return undefined;
  const num = Number(m[1]);
  const den = m[2] === undefined ? 1 : Number(m[2]);
  if (!(num > 0 && den > 0)) return undefined;
  const g = gcd(num, den);
  return [num / g, den / g];
}

/**
 * r_frame_rate is the exact rational of a constant-rate stream; avg_frame_rate (frames / duration) is the truth for
 * variable-rate streams, where r_frame_rate may be a timebase-like value (e.g. 90000/1). Prefer r when they agree.
 */
export function pickFps(r: Rational | undefined, avg: Rational | undefined): Rational | undefined {
  if (r && avg) {
    const rv = r[0] / r[1];
    const av = avg[0] / avg[1];
    return Math.abs(rv - av) <= 0.01 * av ? r : avg;
  }
  return avg ?? r;
}

/** Clockwise display rotation from the legacy `rotate` tag or the display matrix (counter-clockwise degrees). */
export function streamRotation(s: ProbeStream): number {
  let deg = 0;
  const tag = s.tags?.rotate;
  const matrix = s.side_data_list?.find((d) => d.side_data_type === 'Display Matrix' && typeof d.rotation === 'number');
  if (tag !== undefined && Number.isFinite(Number(tag))) deg = Number(tag);
  else if (matrix) deg = -(matrix.rotation as number);
  const r = ((Math.round(deg / 90) * 90) % 360 + 360) % 360;
  return r;
}

function userError(code: string, message: string, solutions?: string[]): CnextError {
  return new CnextError(code, message, { category: 'user', solutions });
}

/** Checks that `file` is a non-empty regular file; throws <WHAT>_NOT_FOUND / <WHAT>_EMPTY otherwise. */
export async function assertReadableFile(file: string, what: 'video' | 'image' | 'audio' = 'video'): Promise<number> {
  const code = what.toUpperCase();
  let size: number;
  try {
    const st = await stat(file);
    if (!st.isFile()) throw userError(`${code}_NOT_FOUND`, `The ${what} ${file} is not a file`);
    size = st.size;
  } catch (e) {
    if (e instanceof CnextError) throw e;
    throw userError(`${code}_NOT_FOUND`, `The ${what} ${file} does not exist or cannot be read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  if (size === 0) throw userError(`${code}_EMPTY`, `The ${what} ${file} is empty (0 bytes)`);
  return size;
}

const IMAGE_FORMATS = /(^|,)(image2|[a-z0-9]+_pipe|gif|apng|webp_pipe)(,|$)/;

export async function probeVideo(file: string): Promise<VideoInfo> {
  await assertReadableFile(file);
  const r = await runFfprobe(['-v', 'error', '-show_streams', '-show_format', '-of', 'json', file]);
  let out: ProbeOutput | undefined;
  try {
    out = r.code === 0 ? (JSON.parse(r.stdout) as ProbeOutput) : undefined;
  } catch {
    out = undefined;
  }
  if (!out) {
    const tail = stderrTail(r.stderr, 3);
    throw userError('VIDEO_UNREADABLE', `Cannot read video ${file}: not a video ffmpeg understands, or the file is corrupt${tail ? ` (${tail.replace(/\n/g, ' | ')})` : ''}`, [
      'Check that the file plays in a video player',
      'Re-encode it: ffmpeg -i input -c:v libx264 -pix_fmt yuv420p output.mp4',
    ]);
  }
  const video = (out.streams ?? []).find((s) => s.codec_type === 'video' && !s.disposition?.attached_pic);
  if (!video || !video.width || !video.height) {
    throw userError('VIDEO_NO_STREAM', `${file} has no video stream`);
  }
  const formatName = out.format?.format_name ?? '';
  if (IMAGE_FORMATS.test(formatName) && formatName !== 'gif') {
    throw userError('VIDEO_IS_IMAGE', `${file} is a still image (${formatName}), not a video`);
  }
  const fps = pickFps(parseRational(video.r_frame_rate), parseRational(video.avg_frame_rate));
  if (!fps) throw userError('VIDEO_UNREADABLE', `Cannot read the frame rate of ${file} (r_frame_rate ${video.r_frame_rate}, avg_frame_rate ${video.avg_frame_rate})`);

  let frames = Number(video.nb_frames);
  if (!(Number.isInteger(frames) && frames > 0)) frames = await countPackets(file, video.index);
  if (!(frames > 0)) throw userError('VIDEO_UNREADABLE', `${file} contains no video frames`);

  let durationSec = Number(video.duration ?? out.format?.duration);
  if (!(durationSec > 0)) durationSec = (frames * fps[1]) / fps[0];

  const rotation = streamRotation(video);
  const swap = rotation === 90 || rotation === 270;
  return {
    width: swap ? video.height : video.width,
    height: swap ? video.width : video.height,
    fps,
    frames,
    durationSec,
    rotation,
    hasAudio: (out.streams ?? []).some((s) => s.codec_type === 'audio'),
    codec: video.codec_name ?? 'unknown',
  };
}

/** Exact packet count of one stream (reads the whole container, decodes nothing). */
async function countPackets(file: string, streamIndex: number): Promise<number> {
  const r = await runFfprobe(['-v', 'error', '-count_packets', '-select_streams', String(streamIndex), '-show_entries', 'stream=nb_read_packets', '-of', 'json', file]);
  if (r.code !== 0) return 0;
  try {
    const out = JSON.parse(r.stdout) as ProbeOutput;
    return Number(out.streams?.[0]?.nb_read_packets ?? 0);
  } catch {
    return 0;
  }
}

/** Container tags (format-level metadata), e.g. the `comment` JSON the encoder wrote. */
export async function probeMetadata(file: string): Promise<Record<string, string>> {
  await assertReadableFile(file);
  const r = await runFfprobe(['-v', 'error', '-show_entries', 'format_tags', '-of', 'json', file]);
  if (r.code !== 0) throw userError('VIDEO_UNREADABLE', `Cannot read metadata of ${file} (${stderrTail(r.stderr, 2).replace(/\n/g, ' | ')})`);
  const out = JSON.parse(r.stdout) as ProbeOutput;
  return { ...(out.format?.tags ?? {}) };
}

/** Duration in seconds of the first audio stream, or undefined when there is none. */
export async function probeAudioDuration(file: string): Promise<number | undefined> {
  await assertReadableFile(file);
  const r = await runFfprobe(['-v', 'error', '-select_streams', 'a:0', '-show_entries', 'stream=duration', '-of', 'json', file]);
  if (r.code !== 0) throw userError('VIDEO_UNREADABLE', `Cannot read ${file} (${stderrTail(r.stderr, 2).replace(/\n/g, ' | ')})`);
  const d = Number((JSON.parse(r.stdout) as ProbeOutput).streams?.[0]?.duration);
  return Number.isFinite(d) ? d : undefined;
}
