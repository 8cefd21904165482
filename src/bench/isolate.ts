// Each benchmark runs in a child process of its own, so its peak RSS (getrusage maxrss) is its own and
// sessions from one benchmark never warm or crowd another.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { CnextError } from '../core/errors.ts';
import { startGpuMemorySampler, type GpuMemoryPeak } from './gpu-memory.ts';

export type BenchValue = number | string | boolean;
export type BenchResult = Record<string, BenchValue>;

export interface IsolatedResult {
  readonly result: BenchResult;
  /** Peak resident set of the child, MB (getrusage: anonymous memory plus mapped file pages). */
  readonly peakRssMB: number;
  /**
   * Peak anonymous memory of the child, MB, sampled every 50 ms from /proc (Linux): the memory the process
   * really owns. Memory-mapped weight files count in RSS as page cache the kernel can drop; this excludes them.
   */
  readonly peakAnonMB?: number;
  /** CUDA runs: peak GPU memory sampled with nvidia-smi (see gpu-memory.ts); absent without nvidia-smi. */
  readonly peakGpu?: GpuMemoryPeak;
  readonly wallSec: number;
}

const MARK = 'CNEXT_BENCH_RESULT ';
const CLI = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../bin/cnext.js');

/** Child side: sample anonymous RSS while the benchmark runs (Linux only; undefined elsewhere). */
export function startAnonSampler(): () => number | undefined {
  let peak: number | undefined;
  const sample = () => {
    try {
      const m = /RssAnon:\s+(\d+) kB/.exec(fs.readFileSync('/proc/self/status', 'utf8'));
      if (m) peak = Math.max(peak ?? 0, Number(m[1]) / 1024);
    } catch {
      // not Linux: no figure
    }
  };
  sample();
  const timer = setInterval(sample, 50);
  timer.unref();
  return () => {
    sample();
    clearInterval(timer);
    return peak;
  };
}

/** Child side: print the result line the parent looks for. */
export function reportFromChild(result: BenchResult, peakAnonMB?: number): void {
  const peakRssMB = process.resourceUsage().maxRSS / 1024;
  process.stdout.write(`${MARK}${JSON.stringify({ result, peakRssMB, peakAnonMB })}\n`);
}

export async function runIsolated(name: string, args: Record<string, string>, onLine?: (line: string) => void): Promise<IsolatedResult> {
  const gpu = args.device === 'cuda' ? await startGpuMemorySampler(Number(args.gpu ?? 0)) : undefined;
  try {
    const r = await runChild(name, args, onLine, (pid) => gpu?.track(pid));
    const peakGpu = await gpu?.stop();
    return peakGpu ? { ...r, peakGpu } : r;
  } finally {
    await gpu?.stop();
  }
}

function runChild(name: string, args: Record<string, string>, onLine: ((line: string) => void) | undefined, onSpawn: (pid: number) => void): Promise<IsolatedResult> {
  const t0 = performance.now();
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, 'bench', '--child', name, '--child-args', JSON.stringify(args)], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    if (child.pid !== undefined) onSpawn(child.pid);
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      for (const line of d.toString().split('\n')) if (line && !line.startsWith(MARK)) onLine?.(line);
    });
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      const line = out.split('\n').find((l) => l.startsWith(MARK));
      if (code !== 0 || !line) {
        reject(new CnextError('BENCH_FAILED', `benchmark ${name} failed (exit ${code}): ${err.trim().split('\n').slice(-5).join(' | ')}`, { category: 'system' }));
        return;
      }
      const parsed = JSON.parse(line.slice(MARK.length)) as { result: BenchResult; peakRssMB: number; peakAnonMB?: number };
      resolve({ ...parsed, wallSec: (performance.now() - t0) / 1000 });
    });
  });
}
