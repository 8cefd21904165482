// `cnext pose <video> --out DIR`: detect the driving video's poses (MediaPipe or DWPose, --pose-model), clean them
// up, align them to the reference photo's pose (--ref) and write DIR/poses.json plus DIR/pose.mp4 (the rendered
// pose maps; with --ref the reference pose first, then the aligned driving poses, all on the reference canvas).
// --compare OUT.mp4 runs both extractors and writes their maps side by side, with per-joint distances in the log.
import { mkdir, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Command } from 'commander';
import { z } from 'zod';
import { CnextError } from '../core/errors.ts';
import { assertWritable } from '../core/writable.ts';
import { invalidParameterError } from '../core/is.ts';
import type { EmitFn } from '../core/events.ts';
import { compareTracks, comparisonLines, writeCompareVideo, type TrackComparison } from '../../pose/compare.ts';
import { detectStillPose, detectionSize, extractPoseTrack, type ExtractorOptions, type PoseExtractor, type PoseTrack } from '../../pose/extract.ts';
import { modelsRoot } from '../../models/layout.ts';
import { POSE_MODEL_CHOICES, resolvePoseModel, type ResolvedPoseModel } from '../../models/pose-model.ts';
import { posesToDwpose, type Pose } from '../../pose/keypoints.ts';
import { alignPoses } from '../../pose/align.ts';
import { PoseRenderer } from '../../pose/render.ts';
import { createVideoEncoder } from '../../video/encode.ts';
import { fitImage, loadImage } from '../../video/image.ts';
import { probeVideo, type VideoInfo } from '../../video/probe.ts';

export const options = z.object({
  out: z.string().min(1),
  ref: z.string().min(1).optional(),
  /** canvas W×H of aligned poses and pose.mp4 (default: the reference's size, else the video's, longest side ≤ 1024) */
  size: z.string().regex(/^\d+x\d+$/, 'WxH, e.g. 576x1024').optional(),
  stride: z.coerce.number().int().min(1).max(1000).default(1),
  maxFrames: z.coerce.number().int().min(1).max(100_000).optional(),
  model: z.enum(['lite', 'full', 'heavy']).default('full'),
  smooth: z.boolean().default(true),
  face: z.boolean().default(false),
  poseModel: z.enum(POSE_MODEL_CHOICES).default('auto'),
  models: z.string().min(1).optional(),
  device: z.enum(['cpu', 'cuda']).default('cpu'),
  compare: z.string().min(1).optional(),
});
export type PoseOptions = z.infer<typeof options>;

const EXPECTED: Record<string, string> = {
  out: 'a folder path',
  ref: 'an image path',
  size: 'WxH, e.g. 576x1024',
  stride: 'integer between 1 and 1000',
  maxFrames: 'integer between 1 and 100000',
  model: 'one of lite, full, heavy',
  poseModel: `one of ${POSE_MODEL_CHOICES.join(', ')}`,
  models: 'a folder path',
  device: 'one of cpu, cuda',
  compare: 'an .mp4 path',
};

export interface PosesJson {
  format: 'cnext-poses';
  version: 1;
  /** the extractor that made `detected` (and `reference`) */
  extractor: PoseExtractor;
  source: { width: number; height: number; fps: [number, number]; frames: number };
  stride: number;
  canvas: { width: number; height: number };
  reference: Pose | null;
  alignment: { a: [number, number]; b: [number, number] } | null;
  frames: Array<{ index: number; time: number; detected: Pose | null; aligned: Pose | null }>;
  warnings: string[];
}

/** Parses commander's raw options with the schema; the first problem becomes a parameter error. */
export function parseOptions(raw: Record<string, unknown>): PoseOptions {
  const r = options.safeParse(raw);
  if (r.success) return r.data;
  const issue = r.error.issues[0]!;
  const key = String(issue.path[0] ?? '');
  const flag = `--${key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;
  throw invalidParameterError(flag, EXPECTED[key] ?? issue.message, raw[key]);
}

export function parseSize(s: string | undefined): { width: number; height: number } | undefined {
  if (!s) return undefined;
  const [w, h] = s.split('x').map(Number) as [number, number];
  if (!(w >= 16 && h >= 16 && w <= 8192 && h <= 8192)) throw invalidParameterError('--size', 'WxH with sides between 16 and 8192', s);
  return { width: w, height: h };
}

const r6 = (v: number) => Math.round(v * 1e6) / 1e6;
const roundPose = (p: Pose | null): Pose | null =>
  p && {
    body: p.body.map(([x, y, s]) => [r6(x), r6(y), r6(s)]),
    hands: [p.hands[0].map(([x, y, s]) => [r6(x), r6(y), r6(s)]), p.hands[1].map(([x, y, s]) => [r6(x), r6(y), r6(s)])],
    face: p.face ? p.face.map(([x, y, s]) => [r6(x), r6(y), r6(s)]) : null,
  };

/** Extractor options for a resolved --pose-model. */
function extractorOptions(r: ResolvedPoseModel, o: PoseOptions): ExtractorOptions {
  const base = { model: o.model, face: o.face };
  return r.extractor === 'dwpose' ? { ...base, extractor: 'dwpose', dwpose: { files: r.files, provider: o.device } } : { ...base, extractor: 'mediapipe' };
}

/** Runs the whole command; returns what it wrote. */
export async function runPose(video: string, o: PoseOptions, emit: EmitFn = () => {}, signal?: AbortSignal): Promise<{ json: PosesJson; files: string[]; comparison?: TrackComparison }> {
  assertWritable(o.out, '--out'); // before the detection, not after it
  const root = modelsRoot({ models: o.models });
  const resolved = resolvePoseModel(o.poseModel, root);
  // --compare needs both: the DWPose files must be there whatever --pose-model says (checked before any work)
  const dwposeForCompare = o.compare ? resolvePoseModel('dwpose', root) : undefined;
  if (o.compare && !o.compare.toLowerCase().endsWith('.mp4')) throw invalidParameterError('--compare', EXPECTED.compare!, o.compare);
  const ex = extractorOptions(resolved, o);
  const info = await probeVideo(video);
  let size = parseSize(o.size);
  let reference: Pose | null = null;
  if (o.ref) {
    const img = await loadImage(o.ref);
    size ??= detectionSize(img);
    const fitted = await fitImage(img.rgb, img.width, img.height, size.width, size.height, 'cover');
    reference = (await detectStillPose(fitted, ex)).pose;
    if (!reference) {
      throw new CnextError('POSE_NO_PERSON_REF', `No person found in the reference image ${o.ref}`, {
        solutions: ['use a photo where one person is visible from head to at least the hips'],
      });
    }
  }
  const canvas = size ?? detectionSize(info);
  const trackOptions: TrackRun = { info, stride: o.stride, maxFrames: o.maxFrames, smooth: o.smooth ? {} : false, emit, signal };
  const track: PoseTrack = await extractPoseTrack(video, { ...ex, ...trackOptions });
  let alignment: PosesJson['alignment'] = null;
  let aligned: Array<Pose | null> = track.frames.map(() => null);
  if (reference) {
    // get_video_pose's linear rescale (x·a + b) of the driving poses onto the reference canvas
    const sizes = { refWidth: canvas.width, refHeight: canvas.height, videoWidth: info.width, videoHeight: info.height };
    const fit = alignPoses(reference, track.frames.map((f) => (f.detected ? [f.detected] : [])), sizes);
    alignment = { a: [fit.fit.a[0], fit.fit.a[1]], b: [fit.fit.b[0], fit.fit.b[1]] };
    aligned = fit.frames.map((people) => people[0] ?? null);
  }
  const json: PosesJson = {
    format: 'cnext-poses',
    version: 1,
    extractor: track.extractor,
    source: track.source,
    stride: track.stride,
    canvas,
    reference: roundPose(reference),
    alignment,
    frames: track.frames.map((f, i) => ({ index: f.index, time: r6(f.time), detected: roundPose(f.detected), aligned: roundPose(aligned[i]!) })),
    warnings: track.warnings,
  };
  await mkdir(o.out, { recursive: true });
  const jsonFile = path.join(o.out, 'poses.json');
  const tmp = `${jsonFile}.partial-${process.pid}`;
  await writeFile(tmp, `${JSON.stringify(json)}\n`);
  await rename(tmp, jsonFile);
  emit({ type: 'artifact', kind: 'poses', path: jsonFile });

  // pose.mp4: the reference pose first (with --ref), then one map per sampled frame
  const mapFile = path.join(o.out, 'pose.mp4');
  const renderer = new PoseRenderer(canvas.height, canvas.width);
  const maps: Array<Pose | null> = reference ? [reference, ...aligned] : track.frames.map((f) => f.detected);
  const encoder = createVideoEncoder({ file: mapFile, width: canvas.width, height: canvas.height, fps: [info.fps[0], info.fps[1] * o.stride], signal, preset: 'veryfast' });
  try {
    // aligned poses carry float64 coordinates in the reference (see src/job/poses.ts)
    for (const [i, p] of maps.entries()) {
      const coords = reference && i > 0 ? 'float64' : 'float32';
      await encoder.write(renderer.renderRgb(posesToDwpose(p ? [p] : [], coords)).data);
    }
    await encoder.finish();
  } catch (e) {
    await encoder.abort();
    throw e;
  }
  emit({ type: 'artifact', kind: 'pose-video', path: mapFile });
  if (!o.compare || !dwposeForCompare) return { json, files: [jsonFile, mapFile] };
  const other = resolved.extractor === 'dwpose' ? resolvePoseModel('mediapipe', root) : dwposeForCompare;
  const comparison = await compareWithOther(video, o.compare, track, extractorOptions(other, o), trackOptions, canvas);
  return { json, files: [jsonFile, mapFile, o.compare], comparison };
}

/** What both tracks of one `cnext pose` share (frames, smoothing, events). */
interface TrackRun {
  readonly info: VideoInfo;
  readonly stride: number;
  readonly maxFrames?: number;
  readonly smooth: Record<string, never> | false;
  readonly emit: EmitFn;
  readonly signal?: AbortSignal;
}

/**
 * --compare: the other extractor over the same frames; both pose maps side by side (MediaPipe | DWPose) at the
 * canvas size, per-joint distances and detection rates in the log.
 */
async function compareWithOther(
  video: string, file: string, track: PoseTrack, other: ExtractorOptions,
  trackOptions: TrackRun, canvas: { width: number; height: number },
): Promise<TrackComparison> {
  const { info, stride, emit, signal } = trackOptions;
  const otherTrack = await extractPoseTrack(video, { ...other, ...trackOptions });
  const [mp, dw] = track.extractor === 'mediapipe' ? [track, otherTrack] : [otherTrack, track];
  const a = { name: 'mediapipe', frames: mp.frames }, b = { name: 'dwpose', frames: dw.frames };
  const comparison = compareTracks(a, b, info);
  for (const line of comparisonLines(comparison)) emit({ type: 'log', level: 'info', message: line });
  await mkdir(path.dirname(path.resolve(file)), { recursive: true });
  await writeCompareVideo(file, a, b, canvas, [info.fps[0], info.fps[1] * stride], { emit, signal });
  return comparison;
}

export function register(program: Command): void {
  program
    .command('pose')
    .description('detect the poses of a driving video (MediaPipe or DWPose) and write poses.json and pose.mp4')
    .argument('<video>', 'driving video')
    .requiredOption('--out <dir>', 'output folder')
    .option('--ref <image>', 'reference photo: align the poses to its person')
    .option('--size <WxH>', 'canvas size of the aligned poses and pose.mp4')
    .option('--stride <n>', 'use every n-th frame', '1')
    .option('--max-frames <n>', 'stop after n sampled frames')
    .option('--model <name>', 'MediaPipe landmarker: lite, full or heavy', 'full')
    .option('--no-smooth', 'no gap filling and no One-Euro smoothing')
    .option('--face', 'also detect the face (68 points; DWPose always returns it)')
    .option('--pose-model <name>', `pose extractor: ${POSE_MODEL_CHOICES.join(', ')} (auto: DWPose when installed)`, 'auto')
    .option('--models <dir>', 'models folder (for the DWPose files)')
    .option('--device <name>', 'DWPose execution provider: cpu or cuda', 'cpu')
    .option('--compare <file.mp4>', 'also run the other extractor; write both pose maps side by side and log per-joint distances')
    .action(async (video: string, raw: Record<string, unknown>) => {
      const o = parseOptions(raw);
      const emit: EmitFn = (e) => {
        if (e.type === 'log') process.stderr.write(`${e.level}: ${e.message}\n`);
      };
      // Ctrl-C: stop decoding, close the landmarkers, remove the partial pose.mp4 (CancelledError → exit 2)
      const ac = new AbortController();
      const onSigint = () => ac.abort();
      process.once('SIGINT', onSigint);
      let result: Awaited<ReturnType<typeof runPose>>;
      try {
        result = await runPose(video, o, emit, ac.signal);
      } finally {
        process.removeListener('SIGINT', onSigint);
      }
      const { json, files } = result;
      const found = json.frames.filter((f) => f.detected).length;
      process.stdout.write(`${found} of ${json.frames.length} frames with a person (${json.extractor})\n${files.join('\n')}\n`);
    });
}
