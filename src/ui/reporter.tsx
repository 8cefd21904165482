// The ink TUI as a JobEvent consumer: `startTui(...)` renders <JobView>, returns `emit` for the job and `stop()`
// that prints the last frame and unmounts. Image previews (kitty/iTerm2) are written out of band after each ink
// frame into the blank box <Preview> reserves at the bottom of the live region (after a frame the cursor sits on the
// line below it, so the box starts `rows` lines up).
import { render } from 'ink';
import type { EmitFn } from '../core/events.ts';
import { JobView } from './components/JobView.tsx';
import type { PreviewBox } from './components/Preview.tsx';
import { detectImageProtocol, downscaleFor, fitCells, itermImage, kittyPlace, kittyTransmit, resample, type ImageProtocol } from './preview.ts';
import type { UiEvent } from './state.ts';
import { createUiStore, type UiStore } from './store.ts';

export interface TuiOptions {
  readonly stdout?: NodeJS.WriteStream;
  readonly stdin?: NodeJS.ReadStream;
  readonly env?: NodeJS.ProcessEnv;
  /** q / Ctrl-C: abort the job (the TUI shows "stopping…" until job-end). */
  readonly onCancel: () => void;
  readonly resumeCommand?: string;
  readonly protocol?: ImageProtocol;
  readonly previewBox?: PreviewBox;
  readonly tickMs?: number;
  readonly clock?: () => number;
  readonly memory?: () => number;
}

export interface Tui {
  readonly emit: (e: UiEvent) => void;
  readonly store: UiStore;
  /** Renders the final frame and releases the terminal. */
  stop(): Promise<void>;
}

export function startTui(o: TuiOptions): Tui {
  const stdout = o.stdout ?? process.stdout;
  const stdin = o.stdin ?? process.stdin;
  const protocol = o.protocol ?? detectImageProtocol(o.env);
  const previewBox = o.previewBox ?? { maxCols: 32, maxRows: 12 };
  const store = createUiStore(o.clock);
  let cancelled = false;
  const onCancel = () => {
    if (cancelled) {
      // a second q / Ctrl-C while a long step finishes: quit at once (outputs are written atomically; the job
      // folder keeps the last finished step)
      ink.unmount();
      stdout.write('\nStopped at once. Run the same command again to resume.\n');
      process.exit(130);
    }
    cancelled = true;
    store.cancelling();
    o.onCancel();
  };
  // Image previews: ink rewrites the live region on every frame, so the image is drawn again after each one —
  // kitty keeps the pixels (transmitted once per preview) and only gets a placement; iTerm2 gets the (small) PNG.
  let cached: { seq: number; cols: number; rows: number; escape: string } | undefined;
  const drawImage = () => {
    const s = store.getState();
    const p = s.preview;
    if (protocol === 'text' || protocol === 'none' || !p || s.end || s.batchEnd) return;
    let transmit = '';
    if (cached?.seq !== p.seq) {
      const { cols, rows } = fitCells(p.width, p.height, previewBox.maxCols, previewBox.maxRows);
      // a few pixels per cell are plenty for a preview, and keep the escape small
      const w = Math.min(p.width, cols * (protocol === 'kitty' ? 8 : 4));
      const h = Math.min(p.height, rows * (protocol === 'kitty' ? 16 : 8));
      const rgb = w === p.width && h === p.height ? p.rgb : resample(p.rgb, p.width, p.height, w, h, downscaleFor(p.stage));
      if (protocol === 'kitty') {
        transmit = kittyTransmit(rgb, w, h);
        cached = { seq: p.seq, cols, rows, escape: kittyPlace(cols, rows) };
      } else {
        cached = { seq: p.seq, cols, rows, escape: itermImage(rgb, w, h, cols, rows) };
      }
    }
    stdout.write(`${transmit}\x1b7\x1b[${cached.rows}A\r${cached.escape}\x1b8`);
  };
  const keys = Boolean(stdin.isTTY);
  const ink = render(
    <JobView store={store} onCancel={onCancel} resumeCommand={o.resumeCommand} protocol={protocol} previewBox={previewBox} tickMs={o.tickMs} memory={o.memory} keys={keys} />,
    {
      stdout, stdin, exitOnCtrlC: false, patchConsole: false,
      onRender: () => setImmediate(drawImage),
    },
  );
  // Without raw mode (stdin not a TTY) Ctrl-C arrives as SIGINT.
  const onSigint = () => onCancel();
  process.on('SIGINT', onSigint);
  return {
    emit: (e) => store.push(e),
    store,
    async stop() {
      process.removeListener('SIGINT', onSigint);
      await new Promise((r) => setTimeout(r, 30)); // let the last state render
      ink.unmount();
      await ink.waitUntilExit().catch(() => {});
    },
  };
}

/** A JobEvent sink for a TUI (the same shape as the plain and NDJSON reporters' emit). */
export const tuiEmit = (tui: Tui): EmitFn => (e) => tui.emit(e);
