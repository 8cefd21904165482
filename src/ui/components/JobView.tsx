// The whole TUI: finished lines (static), then the live region — batch item, preset and parameters, running
// stages, warnings, memory and elapsed time, key hint or end message, and the preview last (the image protocols
// draw into its bottom-anchored box).
import { Box, Text } from 'ink';
import { formatBytes, formatDuration } from '../format.ts';
import { useCancelKeys } from '../hooks/use-cancel-keys.ts';
import { useMemory } from '../hooks/use-memory.ts';
import { useNow } from '../hooks/use-now.ts';
import { useUiState } from '../hooks/use-ui-state.ts';
import type { ImageProtocol } from '../preview.ts';
import type { UiStore } from '../store.ts';
import { FinishedLines } from './FinishedLines.tsx';
import { ParamsLine } from './ParamsLine.tsx';
import { Preview, type PreviewBox } from './Preview.tsx';
import { RunningStage } from './StageLine.tsx';

export interface JobViewProps {
  readonly store: UiStore;
  readonly onCancel: () => void;
  /** The command that resumes (shown after a stop). */
  readonly resumeCommand?: string;
  readonly protocol?: ImageProtocol;
  readonly previewBox?: PreviewBox;
  /** Refresh of elapsed/ETA and memory, ms (0 in tests). */
  readonly tickMs?: number;
  readonly memory?: () => number;
  /** Whether keys are read (a TTY stdin). */
  readonly keys?: boolean;
  readonly barWidth?: number;
}

export function JobView(props: JobViewProps) {
  const { store, onCancel, resumeCommand, protocol = 'text', previewBox = { maxCols: 32, maxRows: 12 }, tickMs = 250, keys = true } = props;
  const s = useUiState(store);
  const now = useNow(store.clock, tickMs);
  const rss = useMemory(tickMs ? 1000 : 0, props.memory);
  const finished = s.end !== undefined || s.batchEnd !== undefined;
  useCancelKeys(onCancel, keys && !finished);

  const end = s.batchEnd
    ? { status: s.batchEnd.cancelled ? 'cancelled' : s.batchEnd.failed ? 'failed' : 'done', seconds: s.batchEnd.seconds }
    : s.end && !s.item ? { status: s.end.status, seconds: s.end.seconds } : undefined;
  return (
    <Box flexDirection="column">
      <FinishedLines lines={s.finished} />
      {s.item && !s.batchEnd ? (
        <Text bold>{`[${s.item.index + 1}/${s.item.items}] ${s.item.name}`}</Text>
      ) : null}
      {s.batchEnd ? null : <ParamsLine preset={s.preset} params={s.params} />}
      {s.stages.map((st) => (
        <RunningStage key={st.stage} st={st} now={now} barWidth={props.barWidth} />
      ))}
      {s.lastInfo && !end ? (
        <Text dimColor wrap="truncate-end">
          {s.lastInfo}
        </Text>
      ) : null}
      {s.warnings.length && !end ? <Text color="yellow">{`${s.warnings.length} warning${s.warnings.length > 1 ? 's' : ''} (above)`}</Text> : null}
      {end ? (
        <EndMessage status={end.status} seconds={end.seconds} output={s.batchEnd ? undefined : (s.end?.output ?? s.output)} resumeCommand={resumeCommand} batch={s.batchEnd?.report} />
      ) : (
        <Text dimColor>
          {`memory ${formatBytes(rss)} · elapsed ${formatDuration((now - s.startedAt) / 1000)} · `}
          {s.cancelling ? <Text color="yellow">stopping after the current step… (q again: quit at once)</Text> : 'q to stop'}
        </Text>
      )}
      {!end ? <Preview preview={s.preview} protocol={protocol} box={previewBox} /> : null}
    </Box>
  );
}

function EndMessage(p: { status: string; seconds: number; output?: string; resumeCommand?: string; batch?: string }) {
  if (p.status === 'done') {
    return (
      <Text color="green">{`Done in ${formatDuration(p.seconds)}${p.output ? `: ${p.output}` : ''}${p.batch ? ` (report: ${p.batch})` : ''}`}</Text>
    );
  }
  return (
    <Box flexDirection="column">
      <Text color={p.status === 'cancelled' ? 'yellow' : 'red'}>
        {p.status === 'cancelled' ? `Stopped after ${formatDuration(p.seconds)}.` : `Failed after ${formatDuration(p.seconds)}.`}
        {p.batch ? ` Report: ${p.batch}` : ''}
      </Text>
      {p.resumeCommand ? <Text>{`Resume with the same command:\n  ${p.resumeCommand}`}</Text> : null}
    </Box>
  );
}
