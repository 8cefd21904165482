// Peak GPU memory of a benchmark's child process, sampled with nvidia-smi from the parent (ORT has no Node API
// for its arena's size). Two figures, as nvidia-smi allows: the child's own usage (--query-compute-apps, absent when
// the container hides host pids) and the device's memory.used above what it was before the child started.
import { execFile } from 'node:child_process';

export interface GpuMemoryPeak {
  /** Peak of the child's own row in --query-compute-apps, MiB (undefined when nvidia-smi never listed it). */
  readonly processMiB?: number;
  /** Peak of the device's memory.used minus its value before the child started, MiB. */
  readonly deviceDeltaMiB: number;
  readonly samples: number;
}

function smi(args: string[]): Promise<string | undefined> {
  return new Promise((resolve) => {
    execFile('nvidia-smi', args, { timeout: 5000 }, (err, stdout) => resolve(err ? undefined : stdout));
  });
}

/** Per-process used memory from `--query-compute-apps=pid,used_memory --format=csv,noheader,nounits`. */
export function parseComputeApps(csv: string, pid: number): number | undefined {
  let total: number | undefined;
  for (const line of csv.split('\n')) {
    const [p, mem] = line.split(',').map((s) => s.trim());
    if (Number(p) === pid && Number.isFinite(Number(mem))) total = (total ?? 0) + Number(mem);
  }
  return total;
}

async function deviceUsed(deviceId: number): Promise<number | undefined> {
  const out = await smi(['--query-gpu=memory.used', '--format=csv,noheader,nounits', `--id=${deviceId}`]);
  const v = out === undefined ? Number.NaN : Number(out.trim());
  return Number.isFinite(v) ? v : undefined;
}

/**
 * Starts sampling (every `intervalMs`, one nvidia-smi call at a time) once the baseline is read; `stop()` returns
 * the peaks, or undefined when nvidia-smi is not there. Call `track(pid)` once the child is spawned.
 */
export async function startGpuMemorySampler(deviceId = 0, intervalMs = 200): Promise<{
  track(pid: number): void;
  stop(): Promise<GpuMemoryPeak | undefined>;
}> {
  const baseline = await deviceUsed(deviceId);
  let pid: number | undefined;
  let processMiB: number | undefined;
  let deviceDeltaMiB = 0;
  let samples = 0;
  let running = baseline !== undefined;
  const sample = async () => {
    const used = await deviceUsed(deviceId);
    if (used !== undefined && baseline !== undefined) deviceDeltaMiB = Math.max(deviceDeltaMiB, used - baseline);
    if (pid !== undefined) {
      const apps = await smi(['--query-compute-apps=pid,used_memory', '--format=csv,noheader,nounits']);
      const mine = apps === undefined ? undefined : parseComputeApps(apps, pid);
      if (mine !== undefined) processMiB = Math.max(processMiB ?? 0, mine);
    }
    samples++;
  };
  const loop = (async () => {
    while (running) {
      await sample();
      await new Promise((r) => setTimeout(r, intervalMs));
    }
  })();
  return {
    track(p) {
      pid = p;
    },
    async stop() {
      if (baseline === undefined) return undefined;
      running = false;
      await loop;
      return { ...(processMiB !== undefined ? { processMiB } : {}), deviceDeltaMiB, samples };
    },
  };
}
