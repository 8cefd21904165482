// `cnext pose <video> --out DIR`: detect the driving video's poses (MediaPipe), clean them up, align them to
// the reference photo's pose (--ref) and write DIR/poses.json plus DIR/pose.mp4 (the rendered pose maps; with
// --ref the reference pose first, then the aligned driving poses, all on the reference canvas).
import { mkdir, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Command } from 'commander';
import { z } from 'zod';
import { CnextError } from '../core/errors.ts';
import { assertWritable } from '../core/writable.ts';
import { invalidParameterError } from '../core/is.ts';
import type { EmitFn } from '../core/events.ts';
import { detectStillPose, detectionSize, extractPoseTrack, type PoseTrack } from '../../pose/extract.ts';
import { posesToDwpose, type Pose } from '../../pose/keypoints.ts';
import { alignPoses } from '../../pose/align.ts';
import { PoseRenderer } from '../../pose/render.ts';
import { createVideoEncoder } from '../../video/encode.ts';
import { fitImage, loadImage } from '../../video/image.ts';
import { probeVideo } from '../../video/probe.ts';

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
});
export type PoseOptions = z.infer<typeof options>;

const EXPECTED: Record<string, string> = {
  out: 'a folder path',
  ref: 'an image path',
  size: 'WxH, e.g. 576x1024',
  stride: 'integer between 1 and 1000',
  maxFrames: 'integer between 1 and 100000',
  model: 'one of lite, full, heavy',
};

export interface PosesJson {
  format: 'cnext-poses';
  version: 1;
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

/** Runs the whole command; returns what it wrote. */
export async function runPose(video: string, o: PoseOptions, emit: EmitFn = () => {}, signal?: AbortSignal): Promise<{ json: PosesJson; files: string[] }> {
  assertWritable(o.out, '--out'); // before the detection, not after it
  const info = await probeVideo(video);
  let size = parseSize(o.size);
  let reference: Pose | null = null;
  if (o.ref) {
    const img = await loadImage(o.ref);
    size ??= detectionSize(img);
    const fitted = await fitImage(img.rgb, img.width, img.height, size.width, size.height, 'cover');
    reference = (await detectStillPose(fitted, { model: o.model, face: o.face })).pose;
    if (!reference) {
      throw new CnextError('POSE_NO_PERSON_REF', `No person found in the reference image ${o.ref}`, {
        solutions: ['use a photo where one person is visible from head to at least the hips'],
      });
    }
  }
  const canvas = size ?? detectionSize(info);
  const track: PoseTrack = await extractPoseTrack(video, {
    info, stride: o.stride, maxFrames: o.maxFrames, model: o.model, face: o.face, smooth: o.smooth ? {} : false, emit, signal,
  });
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
  return { json, files: [jsonFile, mapFile] };
}

export function register(program: Command): void {
  program
    .command('pose')
    .description('detect the poses of a driving video (MediaPipe) and write poses.json and pose.mp4')
    .argument('<video>', 'driving video')
    .requiredOption('--out <dir>', 'output folder')
    .option('--ref <image>', 'reference photo: align the poses to its person')
    .option('--size <WxH>', 'canvas size of the aligned poses and pose.mp4')
    .option('--stride <n>', 'use every n-th frame', '1')
    .option('--max-frames <n>', 'stop after n sampled frames')
    .option('--model <name>', 'pose model: lite, full or heavy', 'full')
    .option('--no-smooth', 'no gap filling and no One-Euro smoothing')
    .option('--face', 'also detect the face (68 points)')
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
      process.stdout.write(`${found} of ${json.frames.length} frames with a person\n${files.join('\n')}\n`);
    });
}
