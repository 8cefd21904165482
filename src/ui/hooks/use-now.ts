import { useEffect, useState } from 'react';

/** `clock()`, refreshed every `intervalMs` (0: never; tests pass a fixed clock). */
export function useNow(clock: () => number, intervalMs: number): number {
  const [now, setNow] = useState(clock);
  useEffect(() => {
    if (!intervalMs) return;
    const t = setInterval(() => setNow(clock()), intervalMs);
    t.unref?.();
    return () => clearInterval(t);
  }, [clock, intervalMs]);
  return intervalMs ? now : clock();
}
