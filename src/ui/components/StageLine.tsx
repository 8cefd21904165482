// One stage: running (bar, counts, elapsed, ETA) or finished (✓, time, count).
import { Box, Text } from 'ink';
import type { StageName } from '../../core/events.ts';
import { formatDuration } from '../format.ts';
import { etaSeconds, type StageState } from '../state.ts';
import { ProgressBar } from './ProgressBar.tsx';

export const STAGE_LABELS: Record<StageName, string> = {
  download: 'download',
  decode: 'decode',
  pose: 'pose',
  align: 'align',
  render: 'render',
  'image-encode': 'image encode',
  denoise: 'denoise',
  'vae-decode': 'VAE decode',
  encode: 'encode',
};

const LABEL_WIDTH = 13;

function counts(st: StageState): string {
  const parts: string[] = [];
  // denoise counts step × window units: the step and window say more than a unit name
  const unit = st.unit && st.step === undefined ? ` ${st.unit}` : '';
  if (st.total !== undefined) parts.push(`${st.done}/${st.total}${unit}`);
  else if (st.done) parts.push(`${st.done}${unit}`);
  if (st.step !== undefined && st.steps !== undefined) parts.push(`step ${st.step}/${st.steps}`);
  if (st.window !== undefined && st.windows !== undefined) parts.push(`window ${st.window}/${st.windows}`);
  return parts.join(' · ');
}

export function RunningStage({ st, now, barWidth }: { st: StageState; now: number; barWidth?: number }) {
  const fraction = st.total ? st.done / st.total : undefined;
  const eta = etaSeconds(st);
  return (
    <Text wrap="truncate-end">
      <Text color="yellow">{'▸ '}</Text>
      <Text bold>{STAGE_LABELS[st.stage].padEnd(LABEL_WIDTH)}</Text>
      <ProgressBar fraction={fraction} width={barWidth} />
      <Text>{` ${fraction === undefined ? '' : `${String(Math.floor(fraction * 100)).padStart(3)}% `}`}</Text>
      <Text>{counts(st)}</Text>
      <Text dimColor>{`  ${formatDuration((now - st.startedAt) / 1000)}`}</Text>
      <Text color="cyan">{st.total !== undefined ? ` · ETA ${formatDuration(eta)}` : ''}</Text>
    </Text>
  );
}

export function FinishedStage({ st }: { st: StageState }) {
  const skipped = st.status === 'skipped';
  const what = st.total !== undefined && st.done > 0 ? `${st.done}/${st.total}${st.unit && st.step === undefined ? ` ${st.unit}` : ''}` : '';
  return (
    <Box>
      <Text color={skipped ? 'gray' : 'green'}>{skipped ? '↷ ' : '✓ '}</Text>
      <Text>{STAGE_LABELS[st.stage].padEnd(LABEL_WIDTH)}</Text>
      <Text dimColor>{skipped ? 'skipped (already in the job folder)' : `${formatDuration(st.seconds)}  ${what}`.trimEnd()}</Text>
    </Box>
  );
}
