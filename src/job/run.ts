// runJob: one generation job, stage by stage, as JobEvents —
//   1. inputs hashed, job folder opened (resume, or a fresh job when inputs/options changed)
//   2. poses: reference pose + driving poses, aligned (reused from the job folder when their key matches)
//   3. generator: image conditioning, denoising (checkpointed per step, resumed), chunked VAE decode
//   4. frames streamed into the output MP4 (+ side-by-side), written atomically, options in its metadata
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
import { decodeFrames, type DecodedFrame } from '../../video/decode.ts';
import { createVideoEncoder, type VideoEncoder } from '../../video/encode.ts';
import { fitImage, loadImage } from '../../video/image.ts';
import { probeVideo, type Rational } from '../../video/probe.ts';
import { composeSideBySide, sideBySideLayout } from '../../video/side-by-side.ts';
import { loadModelComponents } from './components.ts';
import {
  clearJob, defaultJobDir, describeChanges, diskFullError, jobKey, lockJobDir, poseKey, POSE_VIDEO_FILE, readJobRecord, versions,
  writeJobRecord, type InputFile, type JobRecord,
} from './folder.ts';
import { frameSize, generateParams, type JobOptions } from './options.ts';
import { extractJobPoses, outputFps, poseMaps, readJobPoses } from './poses.ts';

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
    seed: r.seed,
    preset: r.preset,
    options: r.options,
    inputs: { ref: { name: path.basename(r.inputs.ref.path), sha256: r.inputs.ref.sha256 }, video: { name: path.basename(r.inputs.video.path), sha256: r.inputs.video.sha256 } },
  });
}

/** Runs (or resumes) one job. Emits every JobEvent, ending with `job-end`; throws CnextError on failure. */
export async function runJob(input: JobInput, run: JobRunOptions = {}): Promise<JobResult> {
  const emit = run.emit ?? noEmit;
  const { signal } = run;
  const t0 = performance.now();
  const seconds = () => (performance.now() - t0) / 1000;
  const out = path.resolve(input.out);
  const jobDir = path.resolve(input.jobDir ?? defaultJobDir(out));
  const encoders: VideoEncoder[] = [];
  let where = jobDir;
  let unlock = () => {};
  try {
    const result = await runStages();
    emit({ type: 'job-end', status: 'done', output: out, seconds: seconds() });
    return result;
  } catch (e) {
    await Promise.allSettled(encoders.map((x) => x.abort()));
    const cancelled = e instanceof CancelledError || (signal?.aborted ?? false);
    const err = cancelled ? (e instanceof CancelledError ? e : new CancelledError()) : (diskFullError(e, where) ?? e);
    emit({
      type: 'job-end', status: cancelled ? 'cancelled' : 'failed', seconds: seconds(),
      error: isCnextError(err) ? err.message : err instanceof Error ? err.message : String(err),
    });
    throw err;
  } finally {
    unlock();
  }

  async function runStages(): Promise<JobResult> {
    const o = input.options;
    if (path.extname(out).toLowerCase() !== '.mp4') {
      throw new CnextError('INVALID_PARAMETER', `Expected file name ending in .mp4 for --out but received '${input.out}' of type string`);
    }
    // 1. Inputs, models, job folder.
    const [refFile, videoFile] = [await hashInput(input.ref, 'image', signal), await hashInput(input.video, 'video', signal)];
    const components = run.components ?? loadModelComponents(modelsRoot({ models: input.models }), { device: o.device, precision: o.precision, lowMemory: o.lowMemory });
    const inputs = { ref: refFile, video: videoFile };
    const pKey = poseKey(inputs, o);
    const modelsKey = components.key ?? '';
    const now = new Date().toISOString();
    let record: JobRecord = {
      format: 'cnext-job', version: 1, key: jobKey(pKey, o, modelsKey), poseKey: pKey, inputs, options: o, seed: o.seed,
      ...(input.preset ? { preset: input.preset } : {}),
      models: { root: input.models ? path.resolve(input.models) : run.components ? '(given)' : modelsRoot(), key: modelsKey },
      versions: versions(), createdAt: now, updatedAt: now, stages: {},
    };
    unlock = lockJobDir(jobDir);
    const old = readJobRecord(jobDir);
    if (old && old.key !== record.key) {
      const changed = describeChanges(old, record);
      emit({ type: 'log', level: 'warn', message: `Starting a fresh job in ${jobDir}: ${changed.length ? changed.join(', ') : 'the job'} changed since the last run` });
      clearJob(jobDir, old.poseKey === pKey);
    } else if (old) {
      record = { ...old, options: o, versions: record.versions, stages: { ...old.stages } };
      const done = old.stages.output;
      const st = statOutput(out);
      const extrasThere = (!input.sideBySide || statOutput(input.sideBySide)) && (!input.poseVideo || statOutput(input.poseVideo));
      if (done && done.path === out && st && st.bytes === done.bytes && st.mtimeMs === done.mtimeMs && extrasThere && old.stages.pose && old.stages.denoise) {
        emit({ type: 'log', level: 'info', message: `${out} is up to date (job folder ${jobDir}); nothing to do` });
        return {
          output: out, jobDir, frames: done.frames, fps: old.stages.pose.fps as Rational, latentsSha256: old.stages.denoise.latentsSha256,
          reused: { poses: true, afterStep: o.steps - 1, upToDate: true },
          files: [out, ...[input.sideBySide, input.poseVideo].filter((f): f is string => !!f).map((f) => path.resolve(f))], seconds: seconds(),
        };
      }
      emit({ type: 'log', level: 'info', message: `Resuming the job in ${jobDir}` });
    }
    writeJobRecord(jobDir, record);

    const info = await probeVideo(input.video);
    const img = await loadImage(input.ref);
    const { width, height } = frameSize(o);
    const refImage = await fitImage(img.rgb, img.width, img.height, width, height, o.fit);

    // 2. Poses.
    let poses = readJobPoses(jobDir, pKey);
    const posesReused = poses !== null;
    if (poses) {
      emit({ type: 'log', level: 'info', message: `Reusing the poses in ${jobDir} (${poses.frames.length} frames)` });
      emit({ type: 'stage-end', stage: 'pose', seconds: 0, skipped: true });
    } else {
      poses = await extractJobPoses({ refImage, video: input.video, info, options: o, key: pKey, jobDir, emit, signal });
    }
    const N = poses.frames.length;
    const F = N + 1;
    const fps = outputFps(poses.source.fps, poses.stride);
    record.stages.pose = { drivingFrames: N, fps };
    writeJobRecord(jobDir, record);
    const params = generateParams(o, F);
    const plan = planWindows(F, params.framesPerBatch, params.overlap);
    emit({
      type: 'params', ...(input.preset ? { preset: input.preset } : {}),
      params: {
        // the window actually used: clipped to a clip shorter than --frames-per-batch, as the generator does
        ...o, width, height, drivingFrames: N, generatedFrames: F, fps: `${fps[0]}/${fps[1]}`, framesPerBatch: plan.framesPerBatch,
        overlap: plan.overlap, windows: plan.starts.length, jobDir, output: out,
      },
    });

    // 3–4. Generate; frames stream into the encoders as they are decoded. Frame 0 is the reference pose's frame
    // (the condition sequence starts with it); the video has one frame per driving frame, so it is not written.
    const durationSec = (N * fps[1]) / fps[0];
    const metadata = { comment: outputComment(record), ...(run.metadata ?? {}) };
    let main: VideoEncoder | undefined;
    let sbs: { encoder: VideoEncoder; layout: ReturnType<typeof sideBySideLayout>; driving: AsyncGenerator<DecodedFrame> } | undefined;
    const maps = poseMaps(poses);
    let written = 0;
    const openEncoders = () => {
      where = out;
      main = createVideoEncoder({ file: out, width, height, fps, audioFrom: { file: input.video, startSec: 0, durationSec }, metadata, signal });
      encoders.push(main);
      if (input.sideBySide) {
        const layout = sideBySideLayout([info, { width, height }, { width, height }], height);
        const encoder = createVideoEncoder({
          file: path.resolve(input.sideBySide), width: layout.width, height: layout.height, fps,
          audioFrom: { file: input.video, startSec: 0, durationSec }, metadata, signal, preset: 'veryfast',
        });
        encoders.push(encoder);
        const driving = decodeFrames(input.video, { stride: o.stride, maxFrames: N, info, signal });
        sbs = { encoder, layout, driving };
      }
      emit({ type: 'stage-start', stage: 'encode', total: N, label: path.basename(out) });
    };
    const tEncode = { t: 0 };
    const writeFrame = async (index: number, rgb: Uint8Array) => {
      if (index === 0) return;
      if (!main) {
        openEncoders();
        tEncode.t = performance.now();
      }
      await main!.write(rgb);
      if (sbs) {
        const d = await sbs.driving.next();
        if (d.done) throw new CnextError('VIDEO_TRUNCATED', `${input.video} ended after ${index - 1} frames while ${N} were expected`);
        const frame = await composeSideBySide(
          [d.value, { width, height, rgb: await maps.frame(index) }, { width, height, rgb }],
          sbs.layout,
        );
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
      result = await generate(components, { refImage: { type: 'uint8', dims: [height, width, 3], data: refImage.rgb }, poses: maps, numFrames: F }, params, {
        emit: forward, signal, jobDir,
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
    const latentsSha256 = createHash('sha256').update(new Uint8Array(result.latents.data.buffer, result.latents.data.byteOffset, result.latents.data.byteLength)).digest('hex');
    record.stages.denoise = { latentsSha256 };
    writeJobRecord(jobDir, record);
    if (!main || written !== N) throw new CnextError('INTERNAL', `wrote ${written} of ${N} frames`, { category: 'system' });
    await main.finish();
    if (sbs) await sbs.encoder.finish();
    emit({ type: 'stage-end', stage: 'encode', seconds: (performance.now() - tEncode.t) / 1000 });
    const files = [out];
    emit({ type: 'artifact', kind: 'video', path: out });
    if (sbs) {
      files.push(path.resolve(input.sideBySide!));
      emit({ type: 'artifact', kind: 'side-by-side', path: files.at(-1)! });
    }
    if (input.poseVideo) {
      const dest = path.resolve(input.poseVideo);
      where = dest;
      const tmp = `${dest}.partial-${process.pid}.mp4`;
      fs.mkdirSync(path.dirname(dest), { recursive: true });
      fs.copyFileSync(path.join(jobDir, POSE_VIDEO_FILE), tmp);
      fs.renameSync(tmp, dest);
      files.push(dest);
      emit({ type: 'artifact', kind: 'pose-video', path: dest });
    }
    const st = statOutput(out)!;
    record.stages.output = { path: out, bytes: st.bytes, mtimeMs: st.mtimeMs, frames: N };
    where = jobDir;
    writeJobRecord(jobDir, record);
    return {
      output: out, jobDir, frames: N, fps, latentsSha256,
      reused: { poses: posesReused, afterStep: result.resumedAfterStep, upToDate: false }, files, seconds: seconds(),
    };
  }
}

