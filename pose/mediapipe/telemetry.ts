// @mediapipe/tasks-vision 1.1.0 always creates a metrics logger that POSTs usage statistics
// (SDK version, task, running mode, latency; no image data) to https://odml.pa.googleapis.com/v1/log
// through the global fetch, on close() and on a 60 s timer. There is no public opt-out, so we wrap the
// global fetch of every thread that loads the library and refuse any *.googleapis.com request; the
// logger then marks itself failed and stops its timer. Other requests go through unchanged.
const INSTALLED = Symbol.for('cnext.telemetryBlock');

interface BlockState { blocked: string[] }

type GlobalWithBlock = typeof globalThis & { [INSTALLED]?: BlockState };

export function isTelemetryUrl(url: string): boolean {
  let host: string;
  try {
    host = new URL(url).hostname.toLowerCase();
  } catch {
    return false;
  }
  return host === 'googleapis.com' || host.endsWith('.googleapis.com');
}

/** Wraps globalThis.fetch once per thread; returns the list of refused URLs (shared, growing). */
export function blockTelemetry(): readonly string[] {
  const g = globalThis as GlobalWithBlock;
  if (g[INSTALLED]) return g[INSTALLED].blocked;
  const state: BlockState = { blocked: [] };
  const realFetch = globalThis.fetch;
  const wrapped = async (input: Parameters<typeof fetch>[0], init?: Parameters<typeof fetch>[1]): Promise<Response> => {
    const url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;
    if (isTelemetryUrl(url)) {
      state.blocked.push(url);
      throw new TypeError(`controlnext-motion blocks MediaPipe telemetry (${new URL(url).hostname})`);
    }
    return realFetch(input, init);
  };
  globalThis.fetch = wrapped as typeof fetch;
  g[INSTALLED] = state;
  return state.blocked;
}

/** URLs refused so far in this thread (empty when the block is not installed). */
export function blockedTelemetry(): readonly string[] {
  return (globalThis as GlobalWithBlock)[INSTALLED]?.blocked ?? [];
}
