// MediaPipe body (+ hands, + face) detection on video frames. In the default `workers` mode the pose
// landmarker (and the face landmarker, which is cheap) run in one worker_thread and the hand landmarker in
// another, so the two single-threaded wasm instances use both cores. Every frame goes to both workers
// (one shared RGBA copy); results are joined per frame and come back in submission order. `inline` runs
// the same landmarkers in the calling thread (for comparison and for environments without workers).
import { pathToFileURL, fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import { CnextError } from '../src/core/errors.ts';
import { ensureBundle, bundleCacheDir, type PoseModel } from './mediapipe/bundles.ts';
import { LandmarkerHost, type HostResult, type LandmarkerSpec } from './mediapipe/host.ts';
import { rgbToRgba } from './mediapipe/runtime.ts';
import { blockedTelemetry } from './mediapipe/telemetry.ts';
import type { WorkerReply, WorkerRequest } from './detect-worker.ts';

export interface DetectorOptions {
  /** pose landmarker variant: lite ≈ 30 ms, full ≈ 45 ms, heavy ≈ 180 ms per 576×1024 frame on one core */
  model?: PoseModel;
  hands?: boolean;
  face?: boolean;
  /** people to track; the first one is used downstream */
  numPoses?: number;
  /** `workers`: one worker_thread per landmarker group (default); `inline`: everything in this thread */
  threads?: 'workers' | 'inline';
  /** pose and face landmarker mode: VIDEO tracks between frames (default), IMAGE for unrelated stills */
  runningMode?: 'VIDEO' | 'IMAGE';
  /** hand landmarker mode: VIDEO tracks between frames (cheaper), IMAGE detects palms every frame */
  handMode?: 'VIDEO' | 'IMAGE';
  cacheDir?: string;
}

export interface DetectorFrame {
  width: number;
  height: number;
  /** seconds from the start of the video (VIDEO-mode timestamp) */
  time: number;
  /** RGB, 3 bytes per pixel (what video/decode.ts yields) … */
  rgb?: Uint8Array;
  /** … or RGBA, 4 bytes per pixel */
  rgba?: Uint8Array;
}

/** What the landmarkers found in one frame, in MediaPipe terms (mapping: openpose-map.ts). */
export type RawDetection = Required<Pick<HostResult, 'pose' | 'hands'>> & { face: HostResult['face'] | null };

const DEFAULTS = { model: 'full', hands: true, face: false, numPoses: 1, threads: 'workers', runningMode: 'VIDEO', handMode: 'VIDEO' } as const;

/** Worker bootstrap: register tsx's loader in the worker, then load the TypeScript entry. */
function workerBootstrap(): string {
  const here = path.dirname(fileURLToPath(import.meta.url));
  // the "require" condition resolves to index.cjs; the worker needs the ESM twin next to it
  const tsxApiCjs = createRequire(import.meta.url).resolve('tsx/esm/api');
  const tsxApi = pathToFileURL(tsxApiCjs.replace(/\.cjs$/, '.mjs')).href;
  const entry = pathToFileURL(path.join(here, 'detect-worker.ts')).href;
  return `import(${JSON.stringify(tsxApi)}).then((m) => { m.register(); return import(${JSON.stringify(entry)}); })
  .catch((e) => { require('node:worker_threads').parentPort.postMessage({ type: 'error', message: 'worker start failed: ' + (e && e.stack || e), log: [] }); });`;
}

interface Lane {
  detect(id: number, frame: { data: Uint8Array; width: number; height: number; timestampMs: number }): Promise<HostResult>;
  close(): Promise<void>;
  /** telemetry requests refused in this lane's thread (known after close for workers) */
  blocked(): readonly string[];
}

function workerError(m: { message: string; code?: string; log: string[] }): CnextError {
  const log = m.log.length ? `\nMediaPipe log:\n${m.log.join('\n')}` : '';
  if (m.code && !m.code.startsWith('ERR_')) {
    return new CnextError(m.code, m.message, { category: 'third-party' });
  }
  return new CnextError('POSE_DETECT', `Pose detection failed: ${m.message}${log}`, { category: 'third-party' });
}

class WorkerLane implements Lane {
  private readonly pending = new Map<number, { resolve: (r: HostResult) => void; reject: (e: Error) => void }>();
  private failed: Error | undefined;
  private closing?: Promise<void>;
  private refused: string[] = [];
  private constructor(private readonly worker: Worker) {}

  blocked(): readonly string[] {
    return this.refused;
  }

  static async start(specs: LandmarkerSpec[]): Promise<WorkerLane> {
    const worker = new Worker(workerBootstrap(), { eval: true, stdout: false, stderr: false });
    const lane = new WorkerLane(worker);
    let detachExit = () => {};
    await new Promise<void>((resolve, reject) => {
      const onMessage = (m: WorkerReply) => {
        if (m.type === 'ready') { worker.off('message', onMessage); worker.off('error', onError); resolve(); }
        else if (m.type === 'error') { worker.off('message', onMessage); worker.off('error', onError); void worker.terminate(); reject(workerError(m)); }
      };
      const onError = (e: Error) => reject(new CnextError('POSE_DETECT', `Pose worker failed to start: ${e.message}`, { category: 'system', cause: e }));
      const onExit = (code: number) => reject(new CnextError('POSE_DETECT', `Pose worker exited during start-up (code ${code})`, { category: 'system' }));
      worker.on('message', onMessage);
      worker.on('error', onError);
      worker.once('exit', onExit);
      detachExit = () => worker.off('exit', onExit);
      worker.postMessage({ type: 'init', specs } satisfies WorkerRequest);
    }).finally(() => detachExit());
    worker.on('message', (m: WorkerReply) => lane.onReply(m));
    worker.on('error', (e) => lane.fail(new CnextError('POSE_DETECT', `Pose worker crashed: ${e.message}`, { category: 'system', cause: e })));
    worker.on('exit', (code) => { if (!lane.closing) lane.fail(new CnextError('POSE_DETECT', `Pose worker exited (code ${code})`, { category: 'system' })); });
    worker.unref(); // only pending requests keep the process alive
    return lane;
  }

  private onReply(m: WorkerReply): void {
    if (m.type === 'result' || (m.type === 'error' && m.id !== undefined)) {
      const p = this.pending.get(m.id!);
      this.pending.delete(m.id!);
      if (this.pending.size === 0) this.worker.unref();
      if (m.type === 'result') p?.resolve(m.result);
      else p?.reject(workerError(m));
    } else if (m.type === 'error') {
      this.fail(workerError(m));
    }
  }

  private fail(e: Error): void {
    this.failed ??= e;
    for (const p of this.pending.values()) p.reject(e);
    this.pending.clear();
  }

  detect(id: number, frame: { data: Uint8Array; width: number; height: number; timestampMs: number }): Promise<HostResult> {
    if (this.failed) return Promise.reject(this.failed);
    if (this.closing) return Promise.reject(new Error('detector closed'));
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.worker.ref();
      this.worker.postMessage({ type: 'detect', id, frame } satisfies WorkerRequest);
    });
  }

  close(): Promise<void> {
    this.closing ??= new Promise<void>((resolve) => {
      const done = () => { void this.worker.terminate().then(() => resolve()); };
      if (this.failed) return done();
      this.worker.ref();
      const timer = setTimeout(done, 5000);
      this.worker.on('message', (m: WorkerReply) => {
        if (m.type !== 'closed') return;
        this.refused = m.blocked;
        clearTimeout(timer);
        done();
      });
      this.worker.on('exit', () => { clearTimeout(timer); resolve(); });
      this.worker.postMessage({ type: 'close' } satisfies WorkerRequest);
    });
    return this.closing;
  }
}

class InlineLane implements Lane {
  private constructor(private host: LandmarkerHost | undefined) {}
  static async start(specs: LandmarkerSpec[]): Promise<InlineLane> {
    return new InlineLane(await LandmarkerHost.create(specs));
  }
  async detect(_id: number, frame: { data: Uint8Array; width: number; height: number; timestampMs: number }): Promise<HostResult> {
    if (!this.host) throw new Error('detector closed');
    return this.host.detect(frame);
  }
  async close(): Promise<void> {
    this.host?.close();
    this.host = undefined;
  }
  blocked(): readonly string[] {
    return blockedTelemetry();
  }
}

export class PoseDetector {
  private nextId = 0;
  private lastTs = -1;
  private closed = false;

  private constructor(private readonly lanes: Lane[], readonly options: Required<Omit<DetectorOptions, 'cacheDir'>>) {}

  static async create(options: DetectorOptions = {}): Promise<PoseDetector> {
    const o = { ...DEFAULTS, ...options };
    const cacheDir = options.cacheDir ?? bundleCacheDir();
    const bodySpecs: LandmarkerSpec[] = [
      { kind: 'pose', bundle: ensureBundle(`pose_landmarker_${o.model}`, cacheDir), runningMode: o.runningMode, count: o.numPoses },
    ];
    if (o.face) bodySpecs.push({ kind: 'face', bundle: ensureBundle('face_landmarker', cacheDir), runningMode: o.runningMode, count: o.numPoses });
    const handSpecs: LandmarkerSpec[] = o.hands
      ? [{ kind: 'hand', bundle: ensureBundle('hand_landmarker', cacheDir), runningMode: o.handMode, count: 2 * o.numPoses }]
      : [];
    let lanes: Lane[];
    if (o.threads === 'inline') {
      lanes = [await InlineLane.start([...bodySpecs, ...handSpecs])];
    } else {
      const started = await Promise.allSettled([bodySpecs, handSpecs].filter((s) => s.length).map((s) => WorkerLane.start(s)));
      lanes = started.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []));
      const bad = started.find((s) => s.status === 'rejected');
      if (bad) {
        await Promise.all(lanes.map((l) => l.close()));
        throw bad.reason;
      }
    }
    const { cacheDir: _, ...rest } = o as typeof o & { cacheDir?: string };
    return new PoseDetector(lanes, rest);
  }

  /**
   * Detects on one frame. May be called again before the previous call resolves (frames are pipelined;
   * each worker handles them in order). Timestamps must not go backwards.
   */
  async detect(frame: DetectorFrame): Promise<RawDetection> {
    if (this.closed) throw new Error('PoseDetector is closed');
    const { width, height } = frame;
    let rgba: Uint8Array;
    if (frame.rgba) {
      if (frame.rgba.length !== width * height * 4) throw new Error(`detect: RGBA frame of ${width}×${height} needs ${width * height * 4} bytes, got ${frame.rgba.length}`);
      rgba = frame.rgba;
    } else if (frame.rgb) {
      rgba = rgbToRgba(frame.rgb, width, height, new Uint8Array(new SharedArrayBuffer(width * height * 4)));
    } else throw new Error('detect: frame has neither rgb nor rgba data');
    // VIDEO mode needs strictly increasing timestamps (ms)
    const ts = Math.max(Math.round(frame.time * 1000), this.lastTs + 1);
    this.lastTs = ts;
    const id = this.nextId++;
    const parts = await Promise.all(this.lanes.map((l) => l.detect(id, { data: rgba, width, height, timestampMs: ts })));
    const joined: HostResult = Object.assign({}, ...parts);
    return { pose: joined.pose ?? [], hands: joined.hands ?? [], face: this.options.face ? joined.face ?? [] : null };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.all(this.lanes.map((l) => l.close()));
  }

  /** Per landmarker thread: the MediaPipe telemetry requests it refused (filled in by close()). */
  blockedTelemetry(): Array<readonly string[]> {
    return this.lanes.map((l) => l.blocked());
  }
}

/** Runs `fn` with a detector and always closes it (landmarkers hold wasm memory and a telemetry timer). */
export async function withPoseDetector<T>(options: DetectorOptions, fn: (d: PoseDetector) => Promise<T>): Promise<T> {
  const d = await PoseDetector.create(options);
  try {
    return await fn(d);
  } finally {
    await d.close();
  }
}
