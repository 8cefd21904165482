// Pose stage of a job: the reference image's pose, the driving video's poses (MediaPipe or DWPose, smoothed), aligned to
// the reference person (get_video_pose's rescale), written to poses.json and pose.mp4 in the job folder. The
// generator's pose maps are rendered from those keypoints on demand at the output size — never all held in RAM.
import fs from 'node:fs';
import path from 'node:path';
import { writeJsonAtomic } from '../core/atomic-file.ts';
import { CnextError, throwIfAborted } from '../core/errors.ts';
import type { EmitFn } from '../core/events.ts';
import type { PoseSource } from '../diffusion/sampler.ts';
import { alignPoses } from '../../pose/align.ts';
import { detectStillPose, extractPoseTrack, type ExtractorOptions, type PoseExtractor } from '../../pose/extract.ts';
import { checkPose, posesToDwpose, type Pose } from '../../pose/keypoints.ts';
import { PoseRenderer } from '../../pose/render.ts';
import type { ResolvedPoseModel } from '../../models/pose-model.ts';
import { createVideoEncoder } from '../../video/encode.ts';
import type { RgbImage } from '../../video/image.ts';
import type { Rational, VideoInfo } from '../../video/probe.ts';
import { POSES_FILE, POSE_VIDEO_FILE } from './folder.ts';
import { frameSize, type JobOptions } from './options.ts';

/** poses.json of a job (the `cnext pose --ref` layout plus the key it was made for). */
export interface JobPoses {
  readonly format: 'cnext-poses';
  readonly version: 1;
  readonly key: string;
  /** the extractor that made `reference` and `detected` */
  readonly extractor: PoseExtractor;
  readonly source: { width: number; height: number; fps: Rational; frames: number };
  readonly stride: number;
  readonly canvas: { width: number; height: number };
  readonly reference: Pose;
  readonly alignment: { a: readonly [number, number]; b: readonly [number, number] };
  readonly frames: ReadonlyArray<{ index: number; time: number; detected: Pose | null; aligned: Pose | null }>;
  readonly warnings: readonly string[];
}

const r6 = (v: number) => Math.round(v * 1e6) / 1e6;
const roundPoints = (k: Pose['body']): Pose['body'] => k.map(([x, y, s]) => [r6(x), r6(y), r6(s)]);
/** Keypoints rounded to 1e-6 (sub-pixel at any size): what poses.json holds, so a resumed job renders the same maps. */
const roundPose = (p: Pose): Pose => ({
  body: roundPoints(p.body),
  hands: [roundPoints(p.hands[0]), roundPoints(p.hands[1])],
  face: p.face ? roundPoints(p.face) : null,
});

/** Output fps: source fps / stride, exact. */
export function outputFps(fps: Rational, stride: number): Rational {
  const [n, d] = [fps[0], fps[1] * stride];
  const g = gcd(n, d);
  return [n / g, d / g];
}

function gcd(a: number, b: number): number {
  while (b) [a, b] = [b, a % b];
  return a;
}

export interface PoseStageInput {
  readonly refImage: RgbImage;
  readonly video: string;
  readonly info: VideoInfo;
  readonly options: JobOptions;
  readonly key: string;
  /** which extractor (default MediaPipe) and, for DWPose, its files */
  readonly extractor?: ExtractorOptions;
  readonly jobDir: string;
  readonly emit: EmitFn;
  readonly signal?: AbortSignal;
}

/** Reads the job's poses.json when it was made for `key` (and pose.mp4 is there too). */
export function readJobPoses(jobDir: string, key: string): JobPoses | null {
  const file = path.join(jobDir, POSES_FILE);
  if (!fs.existsSync(file) || !fs.existsSync(path.join(jobDir, POSE_VIDEO_FILE))) return null;
  try {
    const p = JSON.parse(fs.readFileSync(file, 'utf8')) as JobPoses;
    if (p.format !== 'cnext-poses' || p.key !== key) return null;
    checkPose(p.reference, 'reference pose');
    p.frames.forEach((f, i) => f.aligned && checkPose(f.aligned, `aligned pose ${i}`));
    return p;
  } catch {
    return null;
  }
}

/** The extractor options for a resolved --pose-model (DWPose runs on the job's device). */
export function extractorFor(pm: ResolvedPoseModel, device: JobOptions['device']): ExtractorOptions {
  return pm.extractor === 'dwpose' ? { extractor: 'dwpose', dwpose: { files: pm.files, provider: device } } : { extractor: 'mediapipe' };
}

/** Detects, aligns and writes poses.json + pose.mp4. */
export async function extractJobPoses(s: PoseStageInput): Promise<JobPoses> {
  const { options: o, emit, signal, info } = s;
  // the pose key holds options.poseModel, so it must be the extractor that runs (resolved: never 'auto')
  if (o.poseModel !== (s.extractor?.extractor ?? 'mediapipe')) {
    throw new CnextError('INTERNAL', `pose stage: options.poseModel is ${o.poseModel} but the extractor given is ${s.extractor?.extractor ?? 'mediapipe'} (resolve --pose-model first)`, { category: 'system' });
  }
  const t0 = performance.now();
  emit({ type: 'stage-start', stage: 'align', total: 1, label: 'reference pose' });
  const ex: ExtractorOptions = s.extractor ?? {};
  const ref = (await detectStillPose(s.refImage, ex)).pose;
  if (!ref) {
    throw new CnextError('POSE_NO_PERSON_REF', 'No person found in the reference image', {
      solutions: ['Use a photo where one person is visible from head to at least the hips', `Check the crop: --fit ${o.fit === 'cover' ? 'pad' : 'cover'} keeps ${o.fit === 'cover' ? 'the whole photo' : 'less border'}`],
    });
  }
  emit({ type: 'stage-end', stage: 'align', seconds: (performance.now() - t0) / 1000 });
  throwIfAborted(signal);
  const track = await extractPoseTrack(s.video, { ...ex, info, stride: o.stride, maxFrames: o.maxFrames, smooth: {}, emit, signal });
  throwIfAborted(signal);
  const { width, height } = frameSize(o);
  const sizes = { refWidth: width, refHeight: height, videoWidth: info.width, videoHeight: info.height };
  // --retarget fit is the reference's linear rescale alone (align.ts 'none'); limb adds per-bone retargeting
  const retarget = o.retarget === 'limb' ? 'limb' : 'none';
  const { fit, frames: aligned } = alignPoses(ref, track.frames.map((f) => (f.detected ? [f.detected] : [])), sizes, { retarget });
  const poses: JobPoses = {
    format: 'cnext-poses',
    version: 1,
    key: s.key,
    extractor: track.extractor,
    source: track.source,
    stride: track.stride,
    canvas: { width, height },
    reference: roundPose(ref),
    alignment: { a: fit.a, b: fit.b },
    frames: track.frames.map((f, i) => ({
      index: f.index,
      time: r6(f.time),
      detected: f.detected && roundPose(f.detected),
      aligned: aligned[i]!.length ? roundPose(aligned[i]![0]!) : null,
    })),
    warnings: track.warnings,
  };
  await writePoseVideo(poses, path.join(s.jobDir, POSE_VIDEO_FILE), emit, signal);
  writeJsonAtomic(path.join(s.jobDir, POSES_FILE), poses);
  emit({ type: 'artifact', kind: 'poses', path: path.join(s.jobDir, POSES_FILE) });
  return poses;
}

/** pose.mp4: one aligned pose map per driving frame, at the output size and fps. */
async function writePoseVideo(poses: JobPoses, file: string, emit: EmitFn, signal?: AbortSignal): Promise<void> {
  const maps = poseMaps(poses);
  const n = poses.frames.length;
  const t0 = performance.now();
  emit({ type: 'stage-start', stage: 'render', total: n, label: 'pose maps' });
  const encoder = createVideoEncoder({
    file, width: poses.canvas.width, height: poses.canvas.height, fps: outputFps(poses.source.fps, poses.stride), preset: 'veryfast', signal,
  });
  try {
    for (let i = 0; i < n; i++) {
      const rgb = await maps.frame(i + 1);
      await encoder.write(rgb);
      emit({ type: 'progress', stage: 'render', done: i + 1, total: n, unit: 'frames' });
      if (i === n - 1 || i % 8 === 0) emit({ type: 'preview', stage: 'render', width: poses.canvas.width, height: poses.canvas.height, rgb });
    }
    await encoder.finish();
  } catch (e) {
    await encoder.abort();
    throw e;
  }
  emit({ type: 'stage-end', stage: 'render', seconds: (performance.now() - t0) / 1000 });
  emit({ type: 'artifact', kind: 'pose-video', path: file });
}

/**
 * The generator's condition frames: 0 = the reference image's pose, then the aligned driving poses (a frame
 * without a person is a black map). Rendered on demand, uint8 RGB H×W×3.
 */
export function poseMaps(poses: JobPoses): PoseSource {
  const { width, height } = poses.canvas;
  const renderer = new PoseRenderer(height, width);
  const at = (i: number): Pose | null => (i === 0 ? poses.reference : poses.frames[i - 1]?.aligned ?? null);
  return {
    count: poses.frames.length + 1,
    key: poses.key,
    async frame(i) {
      if (!Number.isInteger(i) || i < 0 || i > poses.frames.length) {
        throw new CnextError('INVALID_PARAMETER', `pose frame ${i} requested of ${poses.frames.length + 1}`);
      }
      const p = at(i);
      // As in the reference: the detected reference pose is drawn from float32 coordinates, the aligned driving
      // poses (p·a + b with float64 a, b) from float64 ones; on the 2160-px canvas that can move edge pixels.
      return renderer.renderRgb(posesToDwpose(p ? [p] : [], i === 0 ? 'float32' : 'float64')).data.slice();
    },
  };
}
