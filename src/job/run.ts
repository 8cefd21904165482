// runJob: one generation job, step by step (runSteps), as JobEvents —
//   1. inputs hashed, models located, the video probed
//   2. preflight (src/job/preflight.ts): weight files, writable folders, disk space, device — before any real work
//   3. job folder opened (resume, or a fresh job when inputs/options changed)
//   4. poses: reference pose + driving poses, aligned (reused from the job folder when their key matches)
//   5. generator: image conditioning, denoising (checkpointed per step, resumed), chunked VAE decode
//   6. frames streamed into the output MP4 (+ side-by-side), written atomically, options in its metadata
// Cancellation (AbortSignal) stops between units of work; finished stages stay in the job folder.
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { CancelledError, CnextError, isCnextError } from '../core/errors.ts';
import { noEmit, type EmitFn, type JobEvent } from '../core/events.ts';
import { framesToRgb } from '../diffusion/decode.ts';
import { generate, type PipelineComponents } from '../diffusion/pipeline.ts';
import { planWindows } from '../diffusion/windows.ts';
import { sha256File } from '../../models/cache.ts';
import { modelsRoot } from '../../models/layout.ts';
import { resolvePoseModel, type ResolvedPoseModel } from '../../models/pose-model.ts';
import { decodeFrames, type DecodedFrame } from '../../video/decode.ts';
import { createVideoEncoder, type VideoEncoder } from '../../video/encode.ts';
import { fitImage, loadImage } from '../../video/image.ts';
import { probeVideo, type Rational, type VideoInfo } from '../../video/probe.ts';
import { composeSideBySide, sideBySideLayout } from '../../video/side-by-side.ts';
import { loadModelComponents } from './components.ts';
import {
  clearJob, defaultJobDir, describeChanges, diskFullError, jobKey, lockJobDir, poseKey, POSE_VIDEO_FILE, readJobRecord, versions,
  writeJobRecord, type InputFile, type JobRecord,
} from './folder.ts';
import { frameSize, generateParams, type JobOptions } from './options.ts';
import { estimateJobBytes, preflight } from './preflight.ts';
import { extractJobPoses, extractorFor, outputFps, poseMaps, readJobPoses, type JobPoses } from './poses.ts';

export interface JobInput {
  readonly ref: string;
  readonly video: string;
  /** The result, an .mp4 file. */
  readonly out: string;
  readonly options: JobOptions;
  readonly preset?: string;
  /** Models root (`--models`); default: models/layout.ts modelsRoot(). */
  readonly models?: string;
  /** Default `<out dir>/.<out name>.cnext-job`. */
  readonly jobDir?: string;
  /** Also write driving | pose | result side by side. */
  readonly sideBySide?: string;
  /** Also write the aligned pose maps as a video (timed like the result). */
  readonly poseVideo?: string;
}

export interface JobRunOptions {
  readonly emit?: EmitFn;
  readonly signal?: AbortSignal;
  /** The networks, instead of loading them from the models root (tests, the demo). */
  readonly components?: PipelineComponents;
  /** Extra MP4 tags (e.g. the demo's notice that its weights are synthetic). */
  readonly metadata?: Readonly<Record<string, string>>;
  /**
   * Take over a job.lock written on another host (src/core/pid-lock.ts). Only for a caller whose right to the job
   * comes from elsewhere: a farm worker that the queue gave the job after its previous holder stalled.
   */
  readonly takeOverForeignLock?: boolean;
}

export interface JobResult {
  readonly output: string;
  readonly jobDir: string;
  /** Frames in the output (one per driving frame used). */
  readonly frames: number;
  readonly fps: Rational;
  /** sha256 of the final latents' float32 bytes: equal values ⇔ identical generation. */
  readonly latentsSha256: string;
  readonly reused: { readonly poses: boolean; readonly afterStep: number | null; readonly upToDate: boolean };
  readonly files: readonly string[];
  readonly seconds: number;
}

async function hashInput(file: string, what: 'image' | 'video', signal?: AbortSignal): Promise<InputFile> {
  let st: fs.Stats;
  try {
    st = fs.statSync(file);
  } catch {
    throw new CnextError('INPUT_NOT_FOUND', `The ${what} ${file} does not exist`);
  }
  if (!st.isFile()) throw new CnextError('INPUT_NOT_FOUND', `The ${what} ${file} is not a file`);
  return { path: path.resolve(file), bytes: st.size, sha256: await sha256File(file, signal) };
}

function statOutput(file: string): { bytes: number; mtimeMs: number } | null {
  try {
    const st = fs.statSync(file);
    return st.isFile() ? { bytes: st.size, mtimeMs: st.mtimeMs } : null;
  } catch {
    return null;
  }
}

/** The output MP4's `comment` tag: what made it, as JSON. */
export function outputComment(r: JobRecord): string {
  return JSON.stringify({
    tool: 'controlnext-motion',
    version: r.versions.cnext,
    ffmpeg: r.versions.ffmpeg,
    seed: r.seed,
    preset: r.preset,
    options: r.options,
    inputs: { ref: { name: path.basename(r.inputs.ref.path), sha256: r.inputs.ref.sha256 }, video: { name: path.basename(r.inputs.video.path), sha256: r.inputs.video.sha256 } },
  });
}

/** What the steps of one job share. */
interface JobContext {
  readonly input: JobInput;
  readonly run: JobRunOptions;
  /** input.options with `poseModel` resolved (auto → the extractor used): what the keys, job.json and metadata hold */
  readonly o: JobOptions;
  /** the pose extractor and, for DWPose, its files */
  readonly poseModel: ResolvedPoseModel;
  readonly emit: EmitFn;
  readonly signal?: AbortSignal;
  readonly out: string;
  readonly jobDir: string;
  readonly width: number;
  readonly height: number;
  readonly seconds: () => number;
  /** Encoders to abort when the job fails. */
  readonly encoders: VideoEncoder[];
  /** The file being written, for a disk-full message. */
  where: string;
  unlock: () => void;
}

/**
 * Runs (or resumes) one job, as named steps (like a diffusers pipeline's __call__). Emits every JobEvent, ending
 * with `job-end`; throws CnextError on failure.
 */
export async function runJob(input: JobInput, run: JobRunOptions = {}): Promise<JobResult> {
  const t0 = performance.now();
  const out = path.resolve(input.out);
  const jobDir = path.resolve(input.jobDir ?? defaultJobDir(out));
  const emit = run.emit ?? noEmit;
  const ctx: JobContext = {
    input, run, o: input.options, poseModel: { extractor: 'mediapipe' }, emit, signal: run.signal, out, jobDir, ...sizeOf(input),
    seconds: () => (performance.now() - t0) / 1000, encoders: [], where: jobDir, unlock: () => {},
  };
  try {
    // --pose-model auto → dwpose when its files are installed, else mediapipe; dwpose without its files fails here
    const poseModel = resolvePoseModel(input.options.poseModel, modelsRoot({ models: input.models }));
    // (which one shows in the pose stage's label, job.json, poses.json and the MP4's metadata)
    Object.assign(ctx, { poseModel, o: { ...input.options, poseModel: poseModel.extractor } });
    const result = await runSteps(ctx);
    ctx.emit({ type: 'job-end', status: 'done', output: out, seconds: ctx.seconds() });
    return result;
  } catch (e) {
    await Promise.allSettled(ctx.encoders.map((x) => x.abort()));
    const cancelled = e instanceof CancelledError || (run.signal?.aborted ?? false);
    const err = cancelled ? (e instanceof CancelledError ? e : new CancelledError()) : (diskFullError(e, ctx.where) ?? e);
    ctx.emit({
      type: 'job-end', status: cancelled ? 'cancelled' : 'failed', seconds: ctx.seconds(),
      error: isCnextError(err) ? err.message : err instanceof Error ? err.message : String(err),
    });
    throw err;
  } finally {
    ctx.unlock();
  }
}

function sizeOf(input: JobInput): { width: number; height: number } {
  if (path.extname(input.out).toLowerCase() !== '.mp4') {
    throw new CnextError('INVALID_PARAMETER', `Expected file name ending in .mp4 for --out but received '${input.out}' of type string`);
  }
  return frameSize(input.options);
}

async function runSteps(ctx: JobContext): Promise<JobResult> {
  // 1. Inputs and models: hashed, located, probed (cheap; an unreadable video or a missing model stops here).
  const opened = await openInputs(ctx);
  // 2. Preflight: weight files parse, folders writable, disk space, device.
  await preflightJob(ctx, opened);
  // 3. Job folder: locked; a fresh job, a resumed one, or one whose output is up to date.
  const folder = openJobFolder(ctx, opened);
  if (folder.upToDate) return folder.upToDate;
  // 4. Poses: the reference pose and the aligned driving poses (reused from the job folder when their key matches).
  const poses = await poseStep(ctx, opened);
  const fps = outputFps(poses.poses.source.fps, poses.poses.stride);
  folder.record.stages.pose = { drivingFrames: poses.poses.frames.length, fps };
  writeJobRecord(ctx.jobDir, folder.record);
  // 5–6. Generate (image conditioning, denoising, decoding) with the frames streamed into the encoders.
  const generated = await generateStep(ctx, opened, folder.record, poses, fps);
  // 7. Outputs: encoders finished (atomic renames), the pose video copied, the record completed.
  return finishOutputs(ctx, folder.record, generated, poses, fps);
}

interface OpenedInputs {
  readonly inputs: JobRecord['inputs'];
  readonly components: PipelineComponents;
  readonly weightFiles?: readonly string[];
  readonly modelsRoot: string;
  readonly info: VideoInfo;
  readonly poseKey: string;
}

async function openInputs(ctx: JobContext): Promise<OpenedInputs> {
  const { input, run, o, signal } = ctx;
  const ref = await hashInput(input.ref, 'image', signal);
  const video = await hashInput(input.video, 'video', signal);
  const root = modelsRoot({ models: input.models });
  let components: PipelineComponents;
  let weightFiles: string[] | undefined;
  if (run.components) components = run.components;
  else {
    const loaded = loadModelComponents(root, { device: o.device, precision: o.precision, lowMemory: o.lowMemory });
    components = loaded;
    weightFiles = [loaded.files.imageEncoder, loaded.files.vae, ...loaded.files.unet, loaded.files.controlnext];
  }
  const info = await probeVideo(input.video);
  const inputs = { ref, video };
  return { inputs, components, weightFiles, modelsRoot: root, info, poseKey: poseKey(inputs, o) };
}

async function preflightJob(ctx: JobContext, opened: OpenedInputs): Promise<void> {
  const { input, o } = ctx;
  const frames = Math.min(o.maxFrames, Math.ceil(opened.info.frames / o.stride));
  await preflight({
    weightFiles: opened.weightFiles, modelsRoot: opened.modelsRoot, device: o.device, precision: o.precision, jobDir: ctx.jobDir, signal: ctx.signal,
    outputs: [ctx.out, ...[input.sideBySide, input.poseVideo].filter((f): f is string => !!f)],
    bytes: estimateJobBytes({ width: ctx.width, height: ctx.height, frames, extraVideos: (input.sideBySide ? 1 : 0) + (input.poseVideo ? 1 : 0) }),
    log: (message) => ctx.emit({ type: 'log', level: 'info', message }),
  });
}

function openJobFolder(ctx: JobContext, opened: OpenedInputs): { record: JobRecord; upToDate?: JobResult } {
  const { input, run, o, emit, out, jobDir } = ctx;
  const modelsKey = opened.components.key ?? '';
  const now = new Date().toISOString();
  let record: JobRecord = {
    format: 'cnext-job', version: 1, key: jobKey(opened.poseKey, o, modelsKey), poseKey: opened.poseKey, inputs: opened.inputs, options: o, seed: o.seed,
    ...(input.preset ? { preset: input.preset } : {}),
    models: { root: input.models ? path.resolve(input.models) : run.components ? '(given)' : opened.modelsRoot, key: modelsKey },
    versions: versions(), createdAt: now, updatedAt: now, stages: {},
  };
  ctx.unlock = lockJobDir(jobDir, { takeOverForeign: run.takeOverForeignLock });
  const old = readJobRecord(jobDir);
  if (old && old.key !== record.key) {
    const changed = describeChanges(old, record);
    emit({ type: 'log', level: 'warn', message: `Starting a fresh job in ${jobDir}: ${changed.length ? changed.join(', ') : 'the job'} changed since the last run` });
    clearJob(jobDir, old.poseKey === opened.poseKey);
  } else if (old) {
    record = { ...old, options: o, versions: record.versions, stages: { ...old.stages } };
    const done = old.stages.output;
    const st = statOutput(out);
    const extrasThere = (!input.sideBySide || statOutput(input.sideBySide)) && (!input.poseVideo || statOutput(input.poseVideo));
    if (done && done.path === out && st && st.bytes === done.bytes && st.mtimeMs === done.mtimeMs && extrasThere && old.stages.pose && old.stages.denoise) {
      emit({ type: 'log', level: 'info', message: `${out} is up to date (job folder ${jobDir}); nothing to do` });
      return {
        record,
        upToDate: {
          output: out, jobDir, frames: done.frames, fps: old.stages.pose.fps as Rational, latentsSha256: old.stages.denoise.latentsSha256,
          reused: { poses: true, afterStep: o.steps - 1, upToDate: true },
          files: [out, ...[input.sideBySide, input.poseVideo].filter((f): f is string => !!f).map((f) => path.resolve(f))], seconds: ctx.seconds(),
        },
      };
    }
    emit({ type: 'log', level: 'info', message: `Resuming the job in ${jobDir}` });
  }
  writeJobRecord(jobDir, record);
  return { record };
}

interface PoseStepResult {
  readonly poses: JobPoses;
  readonly reused: boolean;
  /** uint8 RGB of the fitted reference image, width × height. */
  readonly refImage: Uint8Array;
}

async function poseStep(ctx: JobContext, opened: OpenedInputs): Promise<PoseStepResult> {
  const { o, emit, jobDir, signal } = ctx;
  const img = await loadImage(ctx.input.ref);
  const refImage = (await fitImage(img.rgb, img.width, img.height, ctx.width, ctx.height, o.fit)).rgb;
  const reused = readJobPoses(jobDir, opened.poseKey);
  if (reused) {
    emit({ type: 'log', level: 'info', message: `Reusing the poses in ${jobDir} (${reused.frames.length} frames)` });
    emit({ type: 'stage-end', stage: 'pose', seconds: 0, skipped: true });
    return { poses: reused, reused: true, refImage };
  }
  const poses = await extractJobPoses({
    refImage: { width: ctx.width, height: ctx.height, rgb: refImage }, video: ctx.input.video, info: opened.info, options: o, key: opened.poseKey,
    extractor: extractorFor(ctx.poseModel, o.device), jobDir, emit, signal,
  });
  return { poses, reused: false, refImage };
}

interface Generated {
  readonly main: VideoEncoder;
  readonly sbs?: VideoEncoder;
  readonly latentsSha256: string;
  readonly resumedAfterStep: number | null;
  readonly encodeStarted: number;
}

async function generateStep(ctx: JobContext, opened: OpenedInputs, record: JobRecord, p: PoseStepResult, fps: Rational): Promise<Generated> {
  const { input, run, o, emit, signal, out, width, height } = ctx;
  const N = p.poses.frames.length;
  // The condition sequence starts with the reference image's pose (frame 0), then one frame per driving frame;
  // the video has one frame per driving frame, so frame 0 is generated but not written.
  const F = N + 1;
  const params = generateParams(o, F);
  const plan = planWindows(F, params.framesPerBatch, params.overlap);
  emit({
    type: 'params', ...(input.preset ? { preset: input.preset } : {}),
    params: {
      // the window actually used: clipped to a clip shorter than --frames-per-batch, as the generator does
      ...o, width, height, drivingFrames: N, generatedFrames: F, fps: `${fps[0]}/${fps[1]}`, framesPerBatch: plan.framesPerBatch,
      overlap: plan.overlap, windows: plan.starts.length, jobDir: ctx.jobDir, output: out,
    },
  });
  const durationSec = (N * fps[1]) / fps[0];
  const metadata = { comment: outputComment(record), ...(run.metadata ?? {}) };
  const maps = poseMaps(p.poses);
  let main: VideoEncoder | undefined;
  let sbs: { encoder: VideoEncoder; layout: ReturnType<typeof sideBySideLayout>; driving: AsyncGenerator<DecodedFrame> } | undefined;
  let written = 0;
  let encodeStarted = 0;
  const openEncoders = () => {
    ctx.where = out;
    main = createVideoEncoder({ file: out, width, height, fps, audioFrom: { file: input.video, startSec: 0, durationSec }, metadata, signal });
    ctx.encoders.push(main);
    if (input.sideBySide) {
      const layout = sideBySideLayout([opened.info, { width, height }, { width, height }], height);
      const encoder = createVideoEncoder({
        file: path.resolve(input.sideBySide), width: layout.width, height: layout.height, fps,
        audioFrom: { file: input.video, startSec: 0, durationSec }, metadata, signal, preset: 'veryfast',
      });
      ctx.encoders.push(encoder);
      sbs = { encoder, layout, driving: decodeFrames(input.video, { stride: o.stride, maxFrames: N, info: opened.info, signal }) };
    }
    emit({ type: 'stage-start', stage: 'encode', total: N, label: path.basename(out) });
    encodeStarted = performance.now();
  };
  const writeFrame = async (index: number, rgb: Uint8Array) => {
    if (index === 0) return;
    if (!main) openEncoders();
    await main!.write(rgb);
    if (sbs) {
      const d = await sbs.driving.next();
      if (d.done) throw new CnextError('VIDEO_TRUNCATED', `${input.video} ended after ${index - 1} frames while ${N} were expected`);
      const frame = await composeSideBySide([d.value, { width, height, rgb: await maps.frame(index) }, { width, height, rgb }], sbs.layout);
      await sbs.encoder.write(frame.rgb);
    }
    written++;
    emit({ type: 'progress', stage: 'encode', done: written, total: N, unit: 'frames' });
  };
  const forward: EmitFn = (e: JobEvent) => {
    if (e.type !== 'params') emit(e); // the job's own params event (above) already carries them
  };
  let result;
  try {
    result = await generate(opened.components, { refImage: { type: 'uint8', dims: [height, width, 3], data: p.refImage }, poses: maps, numFrames: F }, params, {
      emit: forward, signal, jobDir: ctx.jobDir,
      onFrames: async (start, frames) => {
        const rgb = framesToRgb(frames);
        for (let k = 0; k < rgb.length; k++) {
          await writeFrame(start + k, rgb[k]!);
          if (start + k === F - 1 || (start + k) % 8 === 0) emit({ type: 'preview', stage: 'vae-decode', width, height, rgb: rgb[k]! });
        }
      },
    });
  } finally {
    await sbs?.driving.return(undefined);
  }
  const l = result.latents.data;
  const latentsSha256 = createHash('sha256').update(new Uint8Array(l.buffer, l.byteOffset, l.byteLength)).digest('hex');
  record.stages.denoise = { latentsSha256 };
  writeJobRecord(ctx.jobDir, record);
  if (!main || written !== N) throw new CnextError('INTERNAL', `wrote ${written} of ${N} frames`, { category: 'system' });
  return { main, sbs: sbs?.encoder, latentsSha256, resumedAfterStep: result.resumedAfterStep, encodeStarted };
}

async function finishOutputs(ctx: JobContext, record: JobRecord, g: Generated, p: PoseStepResult, fps: Rational): Promise<JobResult> {
  const { input, emit, out, jobDir } = ctx;
  const N = p.poses.frames.length;
  await g.main.finish();
  if (g.sbs) await g.sbs.finish();
  emit({ type: 'stage-end', stage: 'encode', seconds: (performance.now() - g.encodeStarted) / 1000 });
  const files = [out];
  emit({ type: 'artifact', kind: 'video', path: out });
  if (g.sbs) {
    files.push(path.resolve(input.sideBySide!));
    emit({ type: 'artifact', kind: 'side-by-side', path: files.at(-1)! });
  }
  if (input.poseVideo) {
    const dest = path.resolve(input.poseVideo);
    ctx.where = dest;
    const tmp = `${dest}.partial-${process.pid}.mp4`;
    fs.mkdirSync(path.dirname(dest), { recursive: true });
    fs.copyFileSync(path.join(jobDir, POSE_VIDEO_FILE), tmp);
    fs.renameSync(tmp, dest);
    files.push(dest);
    emit({ type: 'artifact', kind: 'pose-video', path: dest });
  }
  const st = statOutput(out)!;
  record.stages.output = { path: out, bytes: st.bytes, mtimeMs: st.mtimeMs, frames: N };
  ctx.where = jobDir;
  writeJobRecord(jobDir, record);
  return {
    output: out, jobDir, frames: N, fps, latentsSha256: g.latentsSha256,
    reused: { poses: p.reused, afterStep: g.resumedAfterStep, upToDate: false }, files, seconds: ctx.seconds(),
  };
}
