// A group of landmarkers that live in one thread (a worker_thread, or the main thread for the
// single-thread mode). The wasm is single-threaded, so one host keeps one core busy.
import type * as Vision from '@mediapipe/tasks-vision';
import { asImageSource, createLandmarker, type Landmarker, type LandmarkerKind, type LandmarkerOptions, wasmLog } from './runtime.ts';

export interface LandmarkerSpec extends LandmarkerOptions {
  kind: LandmarkerKind;
  /** .task file (built and verified by the main thread: see bundles.ts ensureBundle). */
  bundle: string;
}

/** A landmark as it crosses threads: normalised x, y (of the input image), z, visibility. */
export type Lm = [x: number, y: number, z: number, visibility: number];

export interface HostResult {
  /** per person: 33 landmarks */
  pose?: Lm[][];
  /** per hand: 21 landmarks, with the model's handedness label and score (not used for left/right) */
  hands?: Array<{ landmarks: Lm[]; label: string; score: number }>;
  /** per face: 478 landmarks (468 real + 10 iris stand-ins) */
  face?: Lm[][];
}

export interface HostFrame {
  data: Uint8Array | Uint8ClampedArray;
  width: number;
  height: number;
  /** VIDEO mode timestamp, strictly increasing */
  timestampMs: number;
}

const lms = (list: Vision.NormalizedLandmark[]): Lm[] => list.map((l) => [l.x, l.y, l.z, l.visibility ?? 0]);

export class LandmarkerHost {
  private constructor(private readonly entries: Array<{ spec: LandmarkerSpec; lm: Landmarker }>) {}

  static async create(specs: readonly LandmarkerSpec[]): Promise<LandmarkerHost> {
    const entries: Array<{ spec: LandmarkerSpec; lm: Landmarker }> = [];
    try {
      for (const spec of specs) entries.push({ spec, lm: await createLandmarker(spec.kind, spec.bundle, spec) });
    } catch (e) {
      for (const { lm } of entries) lm.close();
      throw e;
    }
    return new LandmarkerHost(entries);
  }

  detect(frame: HostFrame): HostResult {
    const img = asImageSource(frame);
    const out: HostResult = {};
    for (const { spec, lm } of this.entries) {
      const video = spec.runningMode === 'VIDEO';
      switch (spec.kind) {
        case 'pose': {
          const p = lm as Vision.PoseLandmarker;
          const r = video ? p.detectForVideo(img, frame.timestampMs) : p.detect(img);
          out.pose = r.landmarks.map(lms);
          r.close();
          break;
        }
        case 'hand': {
          const h = lm as Vision.HandLandmarker;
          const r = video ? h.detectForVideo(img, frame.timestampMs) : h.detect(img);
          out.hands = r.landmarks.map((l, i) => ({
            landmarks: lms(l),
            label: r.handedness[i]?.[0]?.categoryName ?? '',
            score: r.handedness[i]?.[0]?.score ?? 0,
          }));
          break;
        }
        case 'face': {
          const f = lm as Vision.FaceLandmarker;
          const r = video ? f.detectForVideo(img, frame.timestampMs) : f.detect(img);
          out.face = r.faceLandmarks.map(lms);
          break;
        }
      }
    }
    return out;
  }

  /** Frees the wasm graphs and stops tasks-vision's 60 s metrics timer (which would keep Node alive). */
  close(): void {
    for (const { lm } of this.entries.splice(0)) lm.close();
  }
}

/** The last lines the wasm logged in this thread (for error messages). */
export function recentWasmLog(n = 5): string[] {
  return wasmLog.slice(-n);
}
