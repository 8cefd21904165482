import { Text } from 'ink';
import { bar } from '../format.ts';

export function ProgressBar({ fraction, width = 24 }: { fraction: number | undefined; width?: number }) {
  if (fraction === undefined) return <Text dimColor>{'·'.repeat(width)}</Text>;
  const s = bar(fraction, width);
  const filled = s.replace(/·+$/, '');
  return (
    <Text>
      <Text color="cyan">{filled}</Text>
      <Text dimColor>{s.slice(filled.length)}</Text>
    </Text>
  );
}
