// The follower's TUI: one row per item (state, worker, stage/step/window, ETA), the totals and the batch's ETA.
// A renderer of FarmEvents only (follow.ts); rendered with ink like the job TUI (src/ui).
import { Box, render, Text } from 'ink';
import { ProgressBar } from '../ui/components/ProgressBar.tsx';
import { formatDuration } from '../ui/format.ts';
import type { FarmEvent, FarmItemView } from './follow.ts';

interface FarmState {
  queue: string;
  items: FarmItemView[];
  totals?: Extract<FarmEvent, { type: 'farm-totals' }>;
}

const COLOR: Record<string, string> = { completed: 'green', failed: 'red', active: 'cyan', delayed: 'yellow', skipped: 'gray', waiting: 'gray' };
const MAX_ROWS = 20;

function Row({ v, width }: { v: FarmItemView; width: number }) {
  const p = v.progress;
  const detail =
    v.state === 'active' && p
      ? `${p.stage}${p.step !== undefined ? ` step ${p.step}/${p.steps} window ${p.window}/${p.windows}` : ` ${p.done}/${p.total}`}${p.etaSeconds !== undefined ? `  ETA ${formatDuration(p.etaSeconds)}` : ''}`
      : v.state === 'failed' || v.state === 'delayed'
        ? (v.error ?? '').split('\n')[0]!.slice(0, 80)
        : v.state === 'completed' && v.result
          ? `${formatDuration(v.result.seconds)}${v.result.resumedAfterStep != null ? `, resumed after step ${v.result.resumedAfterStep + 1}` : ''}`
          : '';
  return (
    <Box>
      <Text>{v.name.padEnd(width)} </Text>
      <Text color={COLOR[v.state]}>{v.state.padEnd(10)}</Text>
      <Text dimColor>{(v.worker ?? '').padEnd(18).slice(0, 18)} </Text>
      {v.state === 'active' && p ? <ProgressBar fraction={p.total ? p.done / p.total : undefined} width={16} /> : null}
      <Text> {detail}</Text>
    </Box>
  );
}

export function FarmView({ s }: { s: FarmState }) {
  const width = Math.min(32, Math.max(4, ...s.items.map((v) => v.name.length)));
  // the running and failed items first, then the rest in batch order
  const rank = (v: FarmItemView) => (v.state === 'active' ? 0 : v.state === 'failed' || v.state === 'delayed' ? 1 : 2);
  const shown = [...s.items].sort((a, b) => rank(a) - rank(b) || a.index - b.index).slice(0, MAX_ROWS);
  const t = s.totals;
  return (
    <Box flexDirection="column">
      <Text bold>Farm batch on {s.queue}</Text>
      {shown.map((v) => (
        <Row key={v.index} v={v} width={width} />
      ))}
      {s.items.length > shown.length ? <Text dimColor>… {s.items.length - shown.length} more</Text> : null}
      {t ? (
        <Text>
          {t.done} done, {t.active} running, {t.waiting} waiting, {t.failed} failed, {t.skipped} skipped
          {t.etaSeconds !== undefined ? ` — ETA ${formatDuration(t.etaSeconds)}` : ''}
        </Text>
      ) : null}
    </Box>
  );
}

/** Starts the TUI; `emit` updates it, `stop` prints the last frame. */
export function startFarmTui(stdout: NodeJS.WriteStream) {
  const s: FarmState = { queue: '', items: [] };
  const ink = render(<FarmView s={{ ...s }} />, { stdout, exitOnCtrlC: false, patchConsole: false });
  return {
    emit(e: FarmEvent) {
      if (e.type === 'farm-start') s.queue = e.queue;
      else if (e.type === 'farm-item') {
        const { type: _, ...v } = e;
        const i = s.items.findIndex((x) => x.index === v.index);
        if (i < 0) s.items.push(v);
        else s.items[i] = v;
      } else if (e.type === 'farm-totals') s.totals = e;
      ink.rerender(<FarmView s={{ ...s, items: [...s.items] }} />);
    },
    async stop() {
      await new Promise((r) => setTimeout(r, 30));
      ink.unmount();
      await ink.waitUntilExit().catch(() => {});
    },
  };
}
