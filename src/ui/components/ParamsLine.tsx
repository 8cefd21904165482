// The resolved preset and the parameters that decide speed and look, on one or two lines.
import { Text } from 'ink';

const num = (v: unknown): string | undefined => (typeof v === 'number' && Number.isFinite(v) ? String(v) : undefined);

export function paramsSummary(p: Readonly<Record<string, unknown>>): string[] {
  const out: string[] = [];
  if (num(p.width) && num(p.height)) out.push(`${p.width}×${p.height}`);
  if (num(p.numFrames)) out.push(`${p.numFrames} frames`);
  if (num(p.stride)) out.push(`stride ${p.stride}`);
  if (num(p.steps)) out.push(`${p.steps} steps`);
  const g0 = num(p.guidanceMin);
  const g1 = num(p.guidanceMax);
  if (g0 && g1) out.push(`guidance ${g0 === g1 ? g0 : `${g0}–${g1}`}`);
  if (num(p.framesPerBatch)) out.push(`window ${p.framesPerBatch}/${num(p.overlap) ?? '?'}${num(p.windows) ? ` ×${p.windows}` : ''}`);
  if (num(p.controlStrength) && p.controlStrength !== 1) out.push(`control ${p.controlStrength}`);
  if (num(p.seed)) out.push(`seed ${p.seed}`);
  if (typeof p.device === 'string') out.push(p.device);
  if (p.lowMemory === true) out.push('low memory');
  return out;
}

export function ParamsLine({ preset, params }: { preset?: string; params?: Readonly<Record<string, unknown>> }) {
  if (!preset && !params) return null;
  return (
    <Text wrap="truncate-end">
      <Text color="magenta">{preset ? `${preset}  ` : ''}</Text>
      <Text dimColor>{params ? paramsSummary(params).join(' · ') : ''}</Text>
    </Text>
  );
}
