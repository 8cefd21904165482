// Lines that are final, printed once above the live region through ink's <Static>.
import { Box, Static, Text } from 'ink';
import { formatDuration } from '../format.ts';
import type { FinishedLine } from '../state.ts';
import { FinishedStage } from './StageLine.tsx';

const ITEM_COLOUR = { done: 'green', skipped: 'gray', failed: 'red', cancelled: 'yellow', pending: 'gray' } as const;

export function FinishedLines({ lines }: { lines: readonly FinishedLine[] }) {
  return (
    <Static items={[...lines]}>
      {(l) => {
        if (l.kind === 'stage') return <FinishedStage key={l.key} st={l.stage} />;
        if (l.kind === 'item-start') {
          return (
            <Text key={l.key} bold>
              {`── [${l.index + 1}/${l.items}] ${l.name} → ${l.output} (${l.preset})`}
            </Text>
          );
        }
        if (l.kind === 'warn') {
          return (
            <Text key={l.key} color="yellow">
              {`! ${l.message}`}
            </Text>
          );
        }
        return (
          <Box key={l.key}>
            <Text color={ITEM_COLOUR[l.status]} bold>{`[${l.index + 1}/${l.items}] ${l.name}: ${l.status}`}</Text>
            <Text dimColor>{` ${formatDuration(l.seconds)}`}</Text>
            <Text color="red">{l.error ? `  ${l.error}` : ''}</Text>
          </Box>
        );
      }}
    </Static>
  );
}
