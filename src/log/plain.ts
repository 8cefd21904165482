// Plain line logs of the event stream, for pipes, CI and terminals without the TUI: one line per stage start and
// end, progress about every 5 % (and at least every 30 s), warnings and info as they come, the files written.
import type { BatchEvent } from '../batch/events.ts';
import type { JobEvent, StageName } from '../core/events.ts';

export type LogEvent = JobEvent | BatchEvent;

export interface PlainLogOptions {
  readonly write: (line: string) => void;
  /** Progress granularity in percent (default 5). */
  readonly stepPercent?: number;
  /** Also print progress when this long has passed since the stage's last line (default 30 s). */
  readonly heartbeatMs?: number;
  readonly clock?: () => number;
}

const fmtSeconds = (s: number): string => (s < 60 ? `${s.toFixed(1)} s` : `${Math.floor(s / 60)} min ${Math.round(s % 60)} s`);

/** A consumer that turns events into lines (no trailing newline) for `write`. */
export function createPlainLog(o: PlainLogOptions): (e: LogEvent) => void {
  const step = o.stepPercent ?? 5;
  const heartbeat = o.heartbeatMs ?? 30_000;
  const clock = o.clock ?? (() => Date.now());
  const last = new Map<StageName, { bucket: number; at: number }>();
  return (e) => {
    switch (e.type) {
      case 'stage-start':
        last.set(e.stage, { bucket: 0, at: clock() });
        o.write(`${e.stage}: started${e.label ? ` (${e.label})` : ''}${e.total !== undefined ? `, ${e.total} to do` : ''}`);
        break;
      case 'progress': {
        const prev = last.get(e.stage) ?? { bucket: 0, at: clock() };
        const pct = e.total > 0 ? (100 * e.done) / e.total : 0;
        const bucket = Math.floor(pct / step);
        const now = clock();
        if ((bucket > prev.bucket && e.done < e.total) || now - prev.at >= heartbeat) {
          last.set(e.stage, { bucket, at: now });
          const where = e.step !== undefined && e.steps !== undefined
            ? ` (step ${e.step}/${e.steps}${e.window !== undefined && e.windows !== undefined ? `, window ${e.window}/${e.windows}` : ''})`
            : '';
          o.write(`${e.stage}: ${Math.floor(pct)}% ${e.done}/${e.total}${e.unit ? ` ${e.unit}` : ''}${where}`);
        }
        break;
      }
      case 'stage-end':
        last.delete(e.stage);
        o.write(e.skipped ? `${e.stage}: skipped (already done)` : `${e.stage}: done in ${fmtSeconds(e.seconds)}`);
        break;
      case 'log':
        o.write(e.level === 'warn' ? `warning: ${e.message}` : e.message);
        break;
      case 'artifact':
        if (e.kind !== 'checkpoint') o.write(`wrote ${e.kind}: ${e.path}`);
        break;
      case 'params': {
        const p = e.params;
        const keys = ['width', 'height', 'stride', 'maxFrames', 'steps', 'seed', 'guidanceMin', 'guidanceMax', 'framesPerBatch', 'overlap', 'decodeChunk',
          'controlStrength', 'motionBucketId', 'noiseAugStrength', 'fpsId', 'retarget', 'device', 'precision']
          .filter((k) => p[k] !== undefined)
          .map((k) => `${k}=${String(p[k])}`);
        o.write(`parameters${e.preset ? ` (preset ${e.preset})` : ''}: ${keys.join(' ')}`);
        break;
      }
      case 'preview':
        break;
      case 'job-end':
        if (e.status === 'done') o.write(`done in ${fmtSeconds(e.seconds)}${e.output ? `: ${e.output}` : ''}`);
        else if (e.status === 'cancelled') o.write(`cancelled after ${fmtSeconds(e.seconds)}`);
        else o.write(`failed after ${fmtSeconds(e.seconds)}`); // the error itself: once, on stderr (src/cli/main.ts)
        break;
      case 'batch-start':
        o.write(`batch: ${e.items} item${e.items === 1 ? '' : 's'} → ${e.outDir}`);
        break;
      case 'item-start':
        o.write(`[${e.index + 1}/${e.items}] ${e.name}: ${e.video} + ${e.ref} (preset ${e.preset}) → ${e.output}`);
        break;
      case 'item-end':
        o.write(`[${e.index + 1}/${e.items}] ${e.name}: ${e.status} in ${fmtSeconds(e.seconds)}${e.error ? `: ${e.error}` : ''}`);
        break;
      case 'batch-end':
        o.write(`batch: ${e.done} done, ${e.skipped} skipped, ${e.failed} failed, ${e.cancelled} cancelled in ${fmtSeconds(e.seconds)}; report ${e.report}`);
        break;
    }
  };
}
