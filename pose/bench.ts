// Pose detection throughput, for `cnext bench`: body + hands at a given frame size, decode included, with the
// landmarkers in worker threads vs in one thread. Same frames, same machine, one run → a fair ratio.
// Measured 2026-11-25 on the 2-core dev box (load < 1), 60 frames of video_02.mp4 at 576×1024:
//   full + hands   workers 14.6 fps (68 ms/frame)  inline 10.3 fps (97 ms)  ×1.42   CPU ≈ 110 ms/frame
//   lite + hands   workers 15.4 fps                inline 11.7 fps          ×1.31   (the hand lane is the bound)
//   full only      workers 27.9 fps                inline 23.3 fps          ×1.20
//   full + hands + face: workers 15.7 fps, inline 9.8 fps (the face rides in the pose worker)
import { fileURLToPath } from 'node:url';
import os from 'node:os';
import path from 'node:path';
import { noEmit, type EmitFn } from '../src/core/events.ts';
import { decodeFrames } from '../video/decode.ts';
import { PoseDetector, type DetectorOptions } from './detect.ts';
import { DwposeDetector } from './dwpose/detector.ts';
import type { NetSession } from './dwpose/net.ts';
import { type DwposeFiles, openDwpose } from './dwpose/open.ts';
import { writeSynthDwpose } from './dwpose/synth.ts';
import type { PoseModel } from './mediapipe/bundles.ts';

export const DEFAULT_BENCH_VIDEO = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'samples', 'dance.mp4');

export interface PoseBenchOptions {
  video?: string;
  /** frames per mode (default 60) */
  frames?: number;
  width?: number;
  height?: number;
  model?: PoseModel;
  hands?: boolean;
  face?: boolean;
  modes?: ReadonlyArray<NonNullable<DetectorOptions['threads']>>;
  /** frames in flight between decode and the detector (default 3) */
  inFlight?: number;
  cacheDir?: string;
  emit?: EmitFn;
}

export interface PoseBenchRun {
  threads: 'workers' | 'inline';
  frames: number;
  /** landmarker start-up (wasm compile, graph init), not in fps */
  createMs: number;
  /** decode + detect, per frame, steady state */
  msPerFrame: number;
  fps: number;
  /** CPU time of this process (all threads; not ffmpeg) per frame: the load-independent cost */
  cpuMsPerFrame: number;
  framesWithBody: number;
  framesWithHand: number;
}

export interface PoseBenchResult {
  video: string;
  width: number;
  height: number;
  model: PoseModel;
  hands: boolean;
  face: boolean;
  runs: PoseBenchRun[];
  /** fps(workers) / fps(inline), when both ran */
  speedup: number | null;
}

async function runOnce(threads: 'workers' | 'inline', o: Required<Omit<PoseBenchOptions, 'emit' | 'cacheDir' | 'modes'>> & { cacheDir?: string }): Promise<PoseBenchRun> {
  const t0 = performance.now();
  const detector = await PoseDetector.create({ threads, model: o.model, hands: o.hands, face: o.face, cacheDir: o.cacheDir });
  const t1 = performance.now();
  const cpu0 = process.cpuUsage();
  let frames = 0;
  let body = 0;
  let hand = 0;
  const queue: Array<Promise<void>> = [];
  try {
    for await (const f of decodeFrames(o.video, { maxFrames: o.frames, width: o.width, height: o.height, fit: 'cover' })) {
      queue.push(detector.detect(f).then((r) => {
        frames++;
        if (r.pose.length) body++;
        if (r.hands.length) hand++;
      }));
      if (queue.length >= o.inFlight) await queue.shift();
    }
    await Promise.all(queue);
  } finally {
    await detector.close();
  }
  const ms = performance.now() - t1;
  const cpu = process.cpuUsage(cpu0);
  return {
    threads, frames, createMs: Math.round(t1 - t0), msPerFrame: +(ms / frames).toFixed(1), fps: +((1000 * frames) / ms).toFixed(2),
    cpuMsPerFrame: +((cpu.user + cpu.system) / 1000 / frames).toFixed(1), framesWithBody: body, framesWithHand: hand,
  };
}

export async function benchPose(options: PoseBenchOptions = {}): Promise<PoseBenchResult> {
  const o = {
    video: options.video ?? DEFAULT_BENCH_VIDEO,
    frames: options.frames ?? 60,
    width: options.width ?? 576,
    height: options.height ?? 1024,
    model: options.model ?? 'full',
    hands: options.hands ?? true,
    face: options.face ?? false,
    inFlight: options.inFlight ?? 3,
    cacheDir: options.cacheDir,
  };
  const emit = options.emit ?? noEmit;
  const modes = options.modes ?? ['workers', 'inline'];
  const runs: PoseBenchRun[] = [];
  for (const threads of modes) {
    emit({ type: 'log', level: 'info', message: `pose bench: ${threads}, ${o.frames} frames of ${o.width}×${o.height}, model ${o.model}` });
    runs.push(await runOnce(threads, o));
  }
  const w = runs.find((r) => r.threads === 'workers');
  const i = runs.find((r) => r.threads === 'inline');
  return { video: o.video, width: o.width, height: o.height, model: o.model, hands: o.hands, face: o.face, runs, speedup: w && i ? +(w.fps / i.fps).toFixed(2) : null };
}

// ---------------------------------------------------------------------------------------------------------------
// DWPose: the same frames through both ONNX models, one frame at a time (decode included). Without the real files
// the models are synthetic with about the real compute (pose/dwpose/synth.ts, cost 'real'): YOLOX-L-sized and
// DWPose-l-sized conv stacks, so the numbers say what the real models cost only approximately.

export interface DwposeBenchOptions {
  video?: string;
  frames?: number;
  width?: number;
  height?: number;
  /** model files (the installed ones); default: FLOP-matched synthetic models written to `synthDir` */
  files?: DwposeFiles;
  synthDir?: string;
  threads?: number;
  emit?: EmitFn;
}

export interface DwposeBenchResult {
  models: 'installed' | 'synthetic-flop-matched';
  width: number;
  height: number;
  frames: number;
  /** session creation (both models) */
  createMs: number;
  fps: number;
  msPerFrame: number;
  /** time inside each model per frame (one detector run, one pose run per person) */
  detMsPerFrame: number;
  poseMsPerFrame: number;
  cpuMsPerFrame: number;
  framesWithBody: number;
}

export async function benchDwpose(options: DwposeBenchOptions = {}): Promise<DwposeBenchResult> {
  const o = { video: options.video ?? DEFAULT_BENCH_VIDEO, frames: options.frames ?? 10, width: options.width ?? 576, height: options.height ?? 1024 };
  const emit = options.emit ?? noEmit;
  const files = options.files ?? writeSynthDwpose(options.synthDir ?? path.join(os.tmpdir(), 'cnext-dwpose-bench'), { cost: 'real' });
  emit({ type: 'log', level: 'info', message: `pose bench: DWPose (${options.files ? 'real models' : 'synthetic, FLOP-matched'}), ${o.frames} frames of ${o.width}×${o.height}` });
  const t0 = performance.now();
  const s = await openDwpose(files, { threads: options.threads });
  const t1 = performance.now();
  let detMs = 0, poseMs = 0;
  const timed = (n: NetSession, add: (ms: number) => void): NetSession => ({
    inputDims: n.inputDims,
    run: async (x) => {
      const a = performance.now();
      try {
        return await n.run(x);
      } finally {
        add(performance.now() - a);
      }
    },
  });
  const detector = DwposeDetector.fromSessions(timed(s.det, (ms) => (detMs += ms)), timed(s.pose, (ms) => (poseMs += ms)));
  const cpu0 = process.cpuUsage();
  let frames = 0, body = 0;
  try {
    for await (const f of decodeFrames(o.video, { maxFrames: o.frames, width: o.width, height: o.height, fit: 'cover' })) {
      const r = await detector.detect(f);
      frames++;
      if (r.pose) body++;
    }
  } finally {
    await s.close();
  }
  const ms = performance.now() - t1;
  const cpu = process.cpuUsage(cpu0);
  return {
    models: options.files ? 'installed' : 'synthetic-flop-matched', width: o.width, height: o.height, frames,
    createMs: Math.round(t1 - t0), fps: +((1000 * frames) / ms).toFixed(2), msPerFrame: +(ms / frames).toFixed(1),
    detMsPerFrame: +(detMs / frames).toFixed(1), poseMsPerFrame: +(poseMs / frames).toFixed(1),
    cpuMsPerFrame: +((cpu.user + cpu.system) / 1000 / frames).toFixed(1), framesWithBody: body,
  };
}
