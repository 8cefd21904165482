// Picks the consumer of a job's event stream — the one place that decides:
//   --json            → NDJSON on stdout (one event per line)
//   a terminal (TTY)  → the ink TUI (src/ui), unless disabled (the run command passes CI / CNEXT_NO_TUI as tty/tui)
//   otherwise         → plain line logs
import type { LogEvent } from './plain.ts';
import { createPlainLog } from './plain.ts';
import { createJsonLog } from './json.ts';

export type { LogEvent } from './plain.ts';
export { createPlainLog } from './plain.ts';
export { createJsonLog, eventLine } from './json.ts';

export interface Reporter {
  readonly kind: 'json' | 'tui' | 'plain';
  readonly emit: (e: LogEvent) => void;
  /** Flushes and releases the terminal (the TUI prints its last frame). */
  close(): Promise<void>;
}

export interface PickReporterOptions {
  readonly json: boolean;
  readonly tty: boolean;
  /** Where lines go (default process.stdout). */
  readonly stdout?: NodeJS.WriteStream;
  /** The TUI's q / Ctrl-C. */
  readonly onCancel?: () => void;
  /** Shown by the TUI when a job is cancelled. */
  readonly resumeCommand?: string;
  /** `false` forces plain logs on a TTY (e.g. CNEXT_NO_TUI=1). */
  readonly tui?: boolean;
}

export async function pickReporter(o: PickReporterOptions): Promise<Reporter> {
  const stdout = o.stdout ?? process.stdout;
  if (o.json) return { kind: 'json', emit: createJsonLog((s) => void stdout.write(s)), close: async () => {} };
  if (o.tty && o.tui !== false) {
    const { startTui } = await import('../ui/reporter.tsx');
    const tui = startTui({ stdout, onCancel: o.onCancel ?? (() => {}), resumeCommand: o.resumeCommand });
    return { kind: 'tui', emit: (e) => tui.emit(e), close: () => tui.stop() };
  }
  return { kind: 'plain', emit: createPlainLog({ write: (line) => void stdout.write(`${line}\n`) }), close: async () => {} };
}
