// The latest preview as half-block text; for kitty/iTerm2 a blank box of the same size that the reporter draws
// the image into after each frame (see ../reporter.tsx).
import { Box, Text } from 'ink';
import { downscaleFor, fitCells, halfBlockLines, type ImageProtocol } from '../preview.ts';
import type { Preview as PreviewData } from '../state.ts';
import { STAGE_LABELS } from './StageLine.tsx';

export interface PreviewBox {
  readonly maxCols: number;
  readonly maxRows: number;
}

export function Preview({ preview, protocol, box }: { preview?: PreviewData; protocol: ImageProtocol; box: PreviewBox }) {
  if (!preview || protocol === 'none') return null;
  const { cols, rows } = fitCells(preview.width, preview.height, box.maxCols, box.maxRows);
  const caption = `preview: ${STAGE_LABELS[preview.stage]} (${preview.width}×${preview.height})`;
  if (protocol !== 'text') {
    return (
      <Box flexDirection="column">
        <Text dimColor>{caption}</Text>
        {Array.from({ length: rows }, (_, i) => (
          <Text key={i}>{' '.repeat(cols)}</Text>
        ))}
      </Box>
    );
  }
  const lines = halfBlockLines(preview.rgb, preview.width, preview.height, cols, rows, downscaleFor(preview.stage));
  return (
    <Box flexDirection="column">
      <Text dimColor>{caption}</Text>
      {lines.map((l, i) => (
        <Text key={i}>{l}</Text>
      ))}
    </Box>
  );
}
