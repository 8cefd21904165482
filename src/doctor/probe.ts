// What the doctor can find out about the machine without running a network: onnxruntime-node and its provider
// libraries, the CUDA / cuDNN libraries the provider would load, the GPUs (nvidia-smi), and the ffmpeg in use.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { ortInstall } from '../onnx/cuda.ts';

export interface OrtFacts {
  readonly version: string;
  readonly binDir: string;
  /** Native libraries next to the binding (libonnxruntime.so.1, libonnxruntime_providers_*.so). */
  readonly libraries: readonly string[];
  readonly cudaProvider: boolean;
}

export interface GpuFacts {
  readonly index: number;
  readonly name: string;
  readonly memoryFreeMiB: number;
  readonly memoryTotalMiB: number;
  readonly driver: string;
}

export interface MachineFacts {
  readonly onnxruntime: OrtFacts;
  /** CUDA runtime / cuBLAS / cuDNN library files found (realpath basenames carry the version), with their folder. */
  readonly cudaLibraries: readonly string[];
  /** From nvidia-smi's banner, e.g. "13.0"; undefined when nvidia-smi is absent. */
  readonly cudaDriverVersion?: string;
  /** undefined: nvidia-smi not found; []: found but it lists no GPU. */
  readonly gpus?: readonly GpuFacts[];
  readonly ffmpeg: { readonly path: string; readonly version: string } | { readonly error: string };
}

export function probeOrt(): OrtFacts {
  const { version, binDir } = ortInstall();
  let libraries: string[] = [];
  try {
    libraries = fs.readdirSync(binDir).filter((f) => f.startsWith('lib')).sort();
  } catch {
    // no native folder for this platform
  }
  return { version, binDir, libraries, cudaProvider: libraries.includes('libonnxruntime_providers_cuda.so') };
}

const CUDA_LIBS = /^lib(cudart|cublas|cublasLt|cudnn)\.so\.\d+$/;

/** Folders the dynamic loader searches for the provider's CUDA dependencies (LD_LIBRARY_PATH, ldconfig, defaults). */
function libraryDirs(): string[] {
  const dirs = (process.env.LD_LIBRARY_PATH ?? '').split(':').filter(Boolean);
  const ld = spawnSync('ldconfig', ['-p'], { encoding: 'utf8', timeout: 5000 });
  if (ld.status === 0) {
    for (const m of ld.stdout.matchAll(/=>\s+(\S*lib(?:cudart|cublas|cudnn)\S*)/g)) dirs.push(path.dirname(m[1]));
  }
  dirs.push('/usr/local/cuda/lib64', '/usr/local/nvidia/lib64', '/usr/lib/x86_64-linux-gnu');
  return [...new Set(dirs)];
}

export function probeCudaLibraries(): string[] {
  const found = new Map<string, string>(); // real file → "name (folder)"
  for (const dir of libraryDirs()) {
    let names: string[];
    try {
      names = fs.readdirSync(dir);
    } catch {
      continue;
    }
    for (const n of names) {
      if (!CUDA_LIBS.test(n)) continue;
      let real = path.join(dir, n);
      try {
        real = fs.realpathSync(real);
      } catch {
        // dangling link: keep the soname
      }
      if (!found.has(real)) found.set(real, `${path.basename(real)} (${path.dirname(real)})`);
    }
  }
  return [...found.values()].sort();
}

function nvidiaSmi(args: string[]): string | undefined {
  const r = spawnSync('nvidia-smi', args, { encoding: 'utf8', timeout: 15_000 });
  return r.status === 0 ? r.stdout : undefined;
}

/** nvidia-smi --query-gpu lines "index, name, memory.free, memory.total, driver_version" (MiB). */
export function parseGpuQuery(csv: string): GpuFacts[] {
  return csv.split('\n').filter((l) => l.trim()).map((l) => {
    const [index, name, free, total, driver] = l.split(',').map((s) => s.trim());
    return { index: Number(index), name, memoryFreeMiB: Number(free), memoryTotalMiB: Number(total), driver };
  });
}

export function probeGpus(): { gpus?: GpuFacts[]; cudaDriverVersion?: string } {
  const csv = nvidiaSmi(['--query-gpu=index,name,memory.free,memory.total,driver_version', '--format=csv,noheader,nounits']);
  if (csv === undefined) return {};
  const banner = nvidiaSmi([]);
  const cuda = banner ? /CUDA Version:\s*([\d.]+)/.exec(banner)?.[1] : undefined;
  return { gpus: parseGpuQuery(csv), ...(cuda ? { cudaDriverVersion: cuda } : {}) };
}

/** The ffmpeg video/ffmpeg.ts resolves (loaded lazily: a machine without the ffmpeg packages still gets a report). */
export async function probeFfmpeg(): Promise<MachineFacts['ffmpeg']> {
  try {
    const { describeBinary, resolveFfmpeg } = await import('../../video/ffmpeg.ts');
    const { ffmpeg } = resolveFfmpeg();
    return { path: ffmpeg.path, version: describeBinary(ffmpeg, false) };
  } catch (e) {
    return { error: (e as Error).message };
  }
}

export async function probeMachine(): Promise<MachineFacts> {
  return { onnxruntime: probeOrt(), cudaLibraries: probeCudaLibraries(), ...probeGpus(), ffmpeg: await probeFfmpeg() };
}
