// Video → per-frame detected poses, streaming: frames are decoded one at a time and pipelined through the
// detector (a few in flight so decode and both landmarker workers overlap); nothing holds the video in RAM.
// Two extractors: MediaPipe (landmarkers in worker threads, frames scaled to ≤ 1024 px) and DWPose (the two ONNX
// models ControlNeXt was trained with, on the frames at their own size, as the reference decodes them).
import { CancelledError, CnextError, throwIfAborted } from '../src/core/errors.ts';
import { noEmit, type EmitFn } from '../src/core/events.ts';
import { decodeFrames } from '../video/decode.ts';
import { probeVideo, type VideoInfo } from '../video/probe.ts';
import { PoseDetector, type DetectorOptions, type RawDetection } from './detect.ts';
import { DwposeDetector, type DwposeDetectorOptions, type DwposeRaw } from './dwpose/detector.ts';
import type { Pose } from './keypoints.ts';
import { toPose } from './openpose-map.ts';
import { smoothPoses, type SmoothOptions, type SmoothReport } from './smooth.ts';

/** The pose extractor: `mediapipe` (default, built in) or `dwpose` (needs its two ONNX files). */
export type PoseExtractor = 'mediapipe' | 'dwpose';
export const POSE_EXTRACTORS: readonly PoseExtractor[] = ['mediapipe', 'dwpose'];

export interface ExtractorOptions extends DetectorOptions {
  /** default mediapipe */
  extractor?: PoseExtractor;
  /** DWPose model files (and provider); required with extractor 'dwpose' */
  dwpose?: DwposeDetectorOptions;
}

export interface ExtractOptions extends ExtractorOptions {
  stride?: number;
  maxFrames?: number;
  /** Longest side of the frames handed to MediaPipe (it works at 256 px inside; default 1024). */
  detectSize?: number;
  signal?: AbortSignal;
  /** frames decoded ahead of the detector (default 3) */
  inFlight?: number;
  emit?: EmitFn;
  /** video probe result, when the caller has it */
  info?: VideoInfo;
}

export interface DetectedFrame {
  /** source frame index */
  index: number;
  /** seconds */
  time: number;
  /** normalised by the source frame; null when no person */
  detected: Pose | null;
  raw: RawDetection | DwposeRaw;
}

interface FrameDetector {
  detect(f: { rgb: Uint8Array; width: number; height: number; time: number }): Promise<{ pose: Pose | null; raw: RawDetection | DwposeRaw }>;
  close(): Promise<void>;
}

/** Opens the chosen extractor (DWPose: both sessions, so a bad model fails before decoding starts). */
async function openExtractor(o: ExtractorOptions, aspect: number): Promise<FrameDetector> {
  if (o.extractor === 'dwpose') {
    if (!o.dwpose) throw new CnextError('DWPOSE_MODEL_MISSING', 'The DWPose extractor needs its model files (yolox_l.onnx, dw-ll_ucoco_384.onnx)', { solutions: ['Run: cnext models pull dwpose'] });
    return DwposeDetector.create(o.dwpose);
  }
  const d = await PoseDetector.create(o);
  return { detect: (f) => d.detect(f).then((raw) => ({ pose: toPose(raw, aspect), raw })), close: () => d.close() };
}

/** Frame size an extractor sees: MediaPipe ≤ detectSize (1024, even sides), DWPose the video's own (display) size. */
export function extractorFrameSize(info: { width: number; height: number }, o: Pick<ExtractOptions, 'extractor' | 'detectSize'>): { width: number; height: number } {
  return o.extractor === 'dwpose' ? { width: info.width, height: info.height } : detectionSize(info, o.detectSize);
}

/** Size the detector sees: the display size, scaled down so the longest side is at most `max`. */
export function detectionSize(info: { width: number; height: number }, max = 1024): { width: number; height: number } {
  const s = Math.min(1, max / Math.max(info.width, info.height));
  // even sizes; the aspect error (< 1 px) does not matter for normalised coordinates
  return { width: Math.max(2, 2 * Math.round((info.width * s) / 2)), height: Math.max(2, 2 * Math.round((info.height * s) / 2)) };
}

/** Detected pose per sampled frame, in order. Closes its detector when the loop ends (or breaks). */
export async function* extractPoses(file: string, o: ExtractOptions = {}): AsyncGenerator<DetectedFrame> {
  const info = o.info ?? (await probeVideo(file));
  const size = extractorFrameSize(info, o);
  const aspect = size.width / size.height;
  const detector = await openExtractor(o, aspect);
  const queue: Array<Promise<DetectedFrame>> = [];
  const inFlight = Math.max(1, o.inFlight ?? 3);
  const frames = decodeFrames(file, { stride: o.stride, maxFrames: o.maxFrames, ...size, fit: 'stretch', signal: o.signal, info });
  // An abort while the decoder waits for ffmpeg must not leave us waiting with it: race each pull with the signal.
  let onAbort = () => {};
  const aborted = new Promise<never>((_, reject) => {
    onAbort = () => reject(new CancelledError());
    if (o.signal?.aborted) onAbort();
    o.signal?.addEventListener('abort', onAbort, { once: true });
  });
  aborted.catch(() => {});
  let decoding = true;
  try {
    for (;;) {
      const next = await Promise.race([frames.next(), aborted]);
      if (next.done) { decoding = false; break; }
      const f = next.value;
      const job = detector.detect(f).then((r) => ({ index: f.index, time: f.time, detected: r.pose, raw: r.raw }));
      job.catch(() => {}); // awaited below, in order
      queue.push(job);
      if (queue.length >= inFlight) yield await queue.shift()!;
      throwIfAborted(o.signal);
    }
    while (queue.length) yield await queue.shift()!;
  } finally {
    o.signal?.removeEventListener('abort', onAbort);
    if (decoding) {
      // stops ffmpeg; after an abort the decoder may be stuck on its pipe, so only wait when it is not
      const ret = frames.return(undefined);
      if (o.signal?.aborted) ret.catch(() => {});
      else await ret.catch(() => {});
    }
    await Promise.allSettled(queue);
    await detector.close();
  }
}

/** Pose of one still image (e.g. the reference photo): IMAGE-mode landmarkers in this thread (or DWPose), closed after. */
export async function detectStillPose(img: { rgb: Uint8Array; width: number; height: number }, o: ExtractorOptions = {}): Promise<{ pose: Pose | null; raw: RawDetection | DwposeRaw }> {
  const detector = await openExtractor({ ...o, threads: 'inline', runningMode: 'IMAGE', handMode: 'IMAGE' }, img.width / img.height);
  try {
    return await detector.detect({ ...img, time: 0 });
  } finally {
    await detector.close();
  }
}

export interface PoseTrack {
  /** which extractor made the poses */
  extractor: PoseExtractor;
  source: { width: number; height: number; fps: [number, number]; frames: number };
  stride: number;
  /** after gap filling / smoothing (when enabled) */
  frames: Array<{ index: number; time: number; detected: Pose | null }>;
  warnings: string[];
  smoothing: SmoothReport | null;
}

export interface TrackOptions extends ExtractOptions {
  /** gap filling and One-Euro smoothing; false turns both off */
  smooth?: SmoothOptions | false;
}

const listFrames = (idx: number[]) => (idx.length > 8 ? `${idx.slice(0, 8).join(', ')}, …` : idx.join(', '));

/**
 * Detects, then cleans up the whole track. Throws POSE_NO_PERSON when no sampled frame has a person;
 * frames still without a person, or without hands, after gap filling are reported as warnings.
 */
export async function extractPoseTrack(file: string, o: TrackOptions = {}): Promise<PoseTrack> {
  const emit = o.emit ?? noEmit;
  const info = o.info ?? (await probeVideo(file));
  const stride = o.stride ?? 1;
  const total = Math.min(Math.ceil(info.frames / stride), o.maxFrames ?? Infinity);
  const t0 = performance.now();
  emit({ type: 'stage-start', stage: 'pose', total, label: o.extractor === 'dwpose' ? 'DWPose' : 'MediaPipe pose' });
  const raw: Array<{ index: number; time: number; detected: Pose | null }> = [];
  try {
    for await (const f of extractPoses(file, { ...o, info })) {
      raw.push({ index: f.index, time: f.time, detected: f.detected });
      emit({ type: 'progress', stage: 'pose', done: raw.length, total: Math.max(total, raw.length), unit: 'frames' });
    }
  } catch (e) {
    if (e instanceof CancelledError || o.signal?.aborted) throw e instanceof CancelledError ? e : new CancelledError();
    throw e;
  }
  throwIfAborted(o.signal);
  emit({ type: 'stage-end', stage: 'pose', seconds: (performance.now() - t0) / 1000 });
  if (!raw.some((f) => f.detected)) {
    throw new CnextError('POSE_NO_PERSON', `No person found in ${file} (${raw.length} frames checked, stride ${stride})`, {
      solutions: ['use a video where one person is fully visible', 'check the video is not black or blank'],
    });
  }
  const size = extractorFrameSize(info, o);
  let frames = raw;
  let smoothing: SmoothReport | null = null;
  if (o.smooth !== false) {
    const r = smoothPoses(raw.map((f) => f.detected), raw.map((f) => f.time), { aspect: size.width / size.height, ...(o.smooth ?? {}) });
    frames = raw.map((f, i) => ({ ...f, detected: r.poses[i]! }));
    smoothing = r.report;
  }
  const warnings: string[] = [];
  const none = frames.filter((f) => !f.detected).map((f) => f.index);
  if (none.length) warnings.push(`no person in ${none.length} of ${frames.length} frames (source frames ${listFrames(none)})`);
  const threshold = 0.3;
  if (o.hands !== false) {
    for (const [h, name] of [[0, 'left'], [1, 'right']] as const) {
      const miss = frames.filter((f) => f.detected && !f.detected.hands[h].some((k) => k[2] >= threshold)).map((f) => f.index);
      if (miss.length > frames.length / 4) warnings.push(`${name} hand not found in ${miss.length} of ${frames.length} frames`);
    }
  }
  for (const w of warnings) emit({ type: 'log', level: 'warn', message: w });
  return {
    extractor: o.extractor ?? 'mediapipe',
    source: { width: info.width, height: info.height, fps: info.fps, frames: info.frames },
    stride,
    frames,
    warnings,
    smoothing,
  };
}
