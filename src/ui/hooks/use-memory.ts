import { useEffect, useState } from 'react';

export const rss = (): number => process.memoryUsage().rss;

/** Memory in use (bytes), sampled every `intervalMs` with `read` (default: the process's resident set size). */
export function useMemory(intervalMs: number, read: () => number = rss): number {
  const [bytes, setBytes] = useState(read);
  useEffect(() => {
    if (!intervalMs) return;
    const t = setInterval(() => setBytes(read()), intervalMs);
    t.unref?.();
    return () => clearInterval(t);
  }, [intervalMs, read]);
  return bytes;
}
