// NDJSON: one JSON object per event per line, in order, nothing else on the stream. Preview pixels are base64
// (`rgb` as a string) so every line stays plain JSON.
import type { LogEvent } from './plain.ts';

/** The line for one event (no newline). */
export function eventLine(e: LogEvent): string {
  if (e.type === 'preview') return JSON.stringify({ ...e, rgb: Buffer.from(e.rgb.buffer, e.rgb.byteOffset, e.rgb.byteLength).toString('base64') });
  return JSON.stringify(e);
}

export function createJsonLog(write: (chunk: string) => void): (e: LogEvent) => void {
  return (e) => write(`${eventLine(e)}\n`);
}
