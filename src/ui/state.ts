// The TUI's model: a pure reducer from (JobEvent | BatchEvent) to what is on screen. Time is passed in, so the
// reducer is deterministic (tests feed a scripted event sequence with timestamps).
import type { JobEvent, StageName } from '../core/events.ts';
import type { BatchEvent, ItemStatus } from '../batch/events.ts';

export type UiEvent = JobEvent | BatchEvent;

export interface StageState {
  readonly stage: StageName;
  readonly label?: string;
  readonly status: 'running' | 'done' | 'skipped';
  readonly done: number;
  readonly total?: number;
  readonly unit?: string;
  readonly step?: number;
  readonly steps?: number;
  readonly window?: number;
  readonly windows?: number;
  readonly startedAt: number;
  readonly seconds?: number;
  /** Recent (time ms, done) pairs, oldest first: the ETA's rate. */
  readonly samples: ReadonlyArray<readonly [number, number]>;
}

/** A line that is final: printed once above the live region (ink `<Static>`). */
export type FinishedLine =
  | { readonly key: string; readonly kind: 'stage'; readonly stage: StageState }
  | { readonly key: string; readonly kind: 'item'; readonly name: string; readonly status: ItemStatus; readonly seconds: number; readonly error?: string; readonly index: number; readonly items: number }
  | { readonly key: string; readonly kind: 'warn'; readonly message: string }
  | { readonly key: string; readonly kind: 'item-start'; readonly name: string; readonly index: number; readonly items: number; readonly preset: string; readonly output: string };

export interface Preview {
  readonly stage: StageName;
  readonly width: number;
  readonly height: number;
  readonly rgb: Uint8Array;
  /** Bumped per preview event (the image protocols redraw on change). */
  readonly seq: number;
}

export interface UiState {
  readonly startedAt: number;
  readonly stages: readonly StageState[];
  readonly finished: readonly FinishedLine[];
  readonly preset?: string;
  readonly params?: Readonly<Record<string, unknown>>;
  readonly warnings: readonly string[];
  readonly lastInfo?: string;
  readonly preview?: Preview;
  readonly output?: string;
  readonly end?: Extract<JobEvent, { type: 'job-end' }>;
  readonly item?: Extract<BatchEvent, { type: 'item-start' }>;
  readonly batchEnd?: Extract<BatchEvent, { type: 'batch-end' }>;
  readonly cancelling: boolean;
}

export const initialState = (now: number): UiState => ({ startedAt: now, stages: [], finished: [], warnings: [], cancelling: false });

/** Samples kept for the rate: the last 20 within the last 30 s. */
const SAMPLE_COUNT = 20;
const SAMPLE_MS = 30_000;

function addSample(samples: StageState['samples'], t: number, done: number): StageState['samples'] {
  const next = [...samples, [t, done] as const];
  while (next.length > SAMPLE_COUNT || (next.length > 2 && t - next[0]![0] > SAMPLE_MS)) next.shift();
  return next;
}

let keySeq = 0;
const key = (prefix: string) => `${prefix}-${++keySeq}`;

export function reduce(s: UiState, e: UiEvent, now: number): UiState {
  switch (e.type) {
    case 'stage-start': {
      const st: StageState = { stage: e.stage, label: e.label, status: 'running', done: 0, total: e.total, startedAt: now, samples: [[now, 0]] };
      return { ...s, stages: [...s.stages.filter((x) => x.stage !== e.stage), st] };
    }
    case 'progress': {
      let found = false;
      const stages = s.stages.map((x) => {
        if (x.stage !== e.stage) return x;
        found = true;
        return {
          ...x, done: e.done, total: e.total, unit: e.unit ?? x.unit, step: e.step, steps: e.steps, window: e.window, windows: e.windows,
          samples: addSample(x.samples, now, e.done),
        };
      });
      if (!found) {
        stages.push({
          stage: e.stage, status: 'running', done: e.done, total: e.total, unit: e.unit, step: e.step, steps: e.steps,
          window: e.window, windows: e.windows, startedAt: now, samples: [[now, e.done]],
        });
      }
      return { ...s, stages };
    }
    case 'stage-end': {
      const cur = s.stages.find((x) => x.stage === e.stage);
      const fin: StageState = {
        ...(cur ?? { stage: e.stage, done: 0, startedAt: now, samples: [] }),
        status: e.skipped ? 'skipped' : 'done',
        seconds: e.seconds,
      };
      return { ...s, stages: s.stages.filter((x) => x.stage !== e.stage), finished: [...s.finished, { key: key('stage'), kind: 'stage', stage: fin }] };
    }
    case 'log':
      if (e.level === 'warn') {
        return { ...s, warnings: [...s.warnings, e.message].slice(-5), finished: [...s.finished, { key: key('warn'), kind: 'warn', message: e.message }] };
      }
      return { ...s, lastInfo: e.message };
    case 'artifact':
      return e.kind === 'output' || e.kind === 'video' ? { ...s, output: e.path } : s;
    case 'preview':
      return { ...s, preview: { stage: e.stage, width: e.width, height: e.height, rgb: e.rgb, seq: (s.preview?.seq ?? 0) + 1 } };
    case 'params':
      return { ...s, preset: e.preset ?? s.preset, params: { ...s.params, ...e.params } };
    case 'job-end':
      return { ...s, end: e, output: e.output ?? s.output, stages: [] };
    case 'batch-start':
      return s;
    case 'item-start':
      // a new job: the previous item's live state goes; its finished lines stay above
      return {
        ...s, item: e, stages: [], warnings: [], preview: undefined, params: undefined, preset: e.preset, end: undefined, lastInfo: undefined, output: undefined,
        finished: [...s.finished, { key: key('item-start'), kind: 'item-start', name: e.name, index: e.index, items: e.items, preset: e.preset, output: e.output }],
      };
    case 'item-end':
      return {
        ...s, stages: [],
        finished: [...s.finished, { key: key('item'), kind: 'item', name: e.name, status: e.status, seconds: e.seconds, error: e.error, index: e.index, items: e.items }],
      };
    case 'batch-end':
      return { ...s, batchEnd: e };
  }
}

/** Seconds left at the recent rate, or undefined while there is no rate yet. */
export function etaSeconds(st: StageState): number | undefined {
  if (st.total === undefined || st.samples.length < 2) return undefined;
  const [t0, d0] = st.samples[0]!;
  const [t1, d1] = st.samples[st.samples.length - 1]!;
  if (t1 <= t0 || d1 <= d0) return undefined;
  const rate = (d1 - d0) / (t1 - t0); // units per ms
  return Math.max(0, (st.total - st.done) / rate / 1000);
}
