// The one event stream every stage emits and every front end (ink TUI, plain log, NDJSON, batch) consumes.

export type StageName =
  | 'download'
  | 'decode'
  | 'pose'
  | 'align'
  | 'render'
  | 'image-encode'
  | 'denoise'
  | 'vae-decode'
  | 'encode';

export type JobEvent =
  /** A stage begins; `total` is the number of units it will report, when known. */
  | { type: 'stage-start'; stage: StageName; total?: number; label?: string }
  /** Progress inside a stage. `unit` says what `done`/`total` count (frames, steps, bytes…). */
  | {
      type: 'progress';
      stage: StageName;
      done: number;
      total: number;
      unit?: string;
      /** Denoising only: where the sampler is. */
      step?: number;
      steps?: number;
      window?: number;
      windows?: number;
    }
  | { type: 'stage-end'; stage: StageName; seconds: number; skipped?: boolean }
  | { type: 'log'; level: 'info' | 'warn'; message: string }
  /** A file the job wrote (poses.json, pose.mp4, checkpoints, the result). */
  | { type: 'artifact'; kind: string; path: string }
  /** A small preview (RGB, e.g. the latest pose map) for front ends that can show images. */
  | { type: 'preview'; stage: StageName; width: number; height: number; rgb: Uint8Array }
  /** Resolved parameters, once, at the start of a job. */
  | { type: 'params'; preset?: string; params: Record<string, unknown> }
  | { type: 'job-end'; status: 'done' | 'cancelled' | 'failed'; output?: string; seconds: number; error?: string };

export type EmitFn = (event: JobEvent) => void;

export const noEmit: EmitFn = () => {};

/** Helper for stages: times itself and emits start/end. */
export async function runStage<T>(
  emit: EmitFn,
  stage: StageName,
  total: number | undefined,
  body: () => Promise<T>,
): Promise<T> {
  const t0 = performance.now();
  emit({ type: 'stage-start', stage, total });
  const result = await body();
  emit({ type: 'stage-end', stage, seconds: (performance.now() - t0) / 1000 });
  return result;
}
