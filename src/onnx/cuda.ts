// What this project can tell ONNX Runtime's CUDA execution provider through onnxruntime-node, and how it reads
// the provider's failures. No onnxruntime import here (session.ts is the only module that has one).
//
// What onnxruntime-node passes to the CUDA provider (read in its sources, js/node/src/session_options_helper.cc,
// ParseExecutionProviders; the 1.30.0 binary in node_modules has the same strings): for `{name: 'cuda'}` it
// creates default OrtCUDAProviderOptionsV2, sets `device_id` from the option's `deviceId`, and nothing else.
// `use_tf32`, `arena_extend_strategy`, `cudnn_conv_algo_search`, `gpu_mem_limit`, `do_copy_in_default_stream`,
// `enable_cuda_graph`… cannot be set from Node: extra keys on the provider object are ignored, and session config
// entries named `ep.cuda.*` are only written FROM provider options (OrtSessionOptions::
// AddProviderOptionsToConfigOptions), never read back into them. So, per knob:
// - TF32 (use_tf32, default on): switched off with NVIDIA's own switch, the environment variable
//   NVIDIA_TF32_OVERRIDE=0, which cuBLAS and cuDNN honour whatever the caller asks. It is read by the libraries,
//   so it holds for the whole process: one process runs either strict fp32 or TF32-allowed CUDA sessions.
// - Arena growth (arena_extend_strategy, default kNextPowerOfTwo) and gpu_mem_limit: not settable. What is
//   settable is the session option `session.use_device_allocator_for_initializers` = 1: weights are allocated
//   with cudaMalloc at their exact size instead of through the arena, so the arena's power-of-two growth only
//   applies to activations.
// - cuDNN conv algorithm search (cudnn_conv_algo_search, default EXHAUSTIVE): not settable; ORT searches once per
//   input shape and caches the result per Conv node, so the first call of each shape pays for it (bench reports
//   first-call time separately).
// - Outputs on the device: `preferredOutputLocation` accepts 'gpu-buffer' and 'ml-tensor' only (WebGPU / WebNN
//   data locations; ParsePreferredOutputLocations), and IO binding requires `Tensor.location === 'gpu-buffer'`
//   ("Tensor.location must be 'gpu-buffer' for IO binding."). There is no CUDA data location, so every CUDA call
//   copies its inputs to the device and its outputs back.
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import type { Precision } from '../core/device.ts';
import { CnextError } from '../core/errors.ts';

/** onnxruntime-node's installed version and the folder of its native libraries (where a CUDA provider goes). */
export function ortInstall(): { version: string; binDir: string } {
  const pkgJson = createRequire(import.meta.url).resolve('onnxruntime-node/package.json');
  const version = (JSON.parse(fs.readFileSync(pkgJson, 'utf8')) as { version: string }).version;
  return { version, binDir: path.join(path.dirname(pkgJson), 'bin', 'napi-v6', process.platform, process.arch) };
}

/** The CUDA execution provider library onnxruntime-node loads for `--device cuda`. */
export function cudaProviderLibrary(): string {
  return path.join(ortInstall().binDir, 'libonnxruntime_providers_cuda.so');
}

/** CUDA provider options this project would set, and whether onnxruntime-node passes each one (see above). */
export const CUDA_PROVIDER_OPTIONS: ReadonlyArray<{ option: string; wanted: string; applied: string }> = [
  { option: 'device_id', wanted: 'SessionOptions.deviceId (--gpu N)', applied: 'yes (the only one the binding passes)' },
  { option: 'use_tf32', wanted: "'0' for --precision fp32, '1' for tf32", applied: 'no; done with NVIDIA_TF32_OVERRIDE=0 (process-wide)' },
  { option: 'arena_extend_strategy', wanted: 'kSameAsRequested', applied: 'no; weights bypass the arena (session.use_device_allocator_for_initializers=1)' },
  { option: 'gpu_mem_limit', wanted: 'a cap in bytes', applied: 'no (not passed by onnxruntime-node)' },
  { option: 'cudnn_conv_algo_search', wanted: 'EXHAUSTIVE (ORT default: searched once per shape)', applied: 'default kept (not passed)' },
];

/** Session config entries for CUDA sessions (passed through `extra.session`, which the binding does forward). */
export const CUDA_SESSION_CONFIG: Readonly<Record<string, string>> = {
  use_device_allocator_for_initializers: '1',
};

const TF32_ENV = 'NVIDIA_TF32_OVERRIDE';
let tf32Mode: 'off' | 'on' | undefined;

/**
 * Set the process's TF32 switch for a CUDA session in `precision`, before the session is created: fp32 → TF32 off
 * (NVIDIA_TF32_OVERRIDE=0); tf32/fp16 → the libraries' default (TF32 allowed for fp32 matmuls/convs). The switch is
 * read by cuBLAS/cuDNN for the whole process, so asking for both in one process is refused rather than ignored.
 */
export function applyCudaPrecision(precision: Precision, env: NodeJS.ProcessEnv = process.env): void {
  const want = precision === 'fp32' ? 'off' : 'on';
  if (tf32Mode !== undefined && tf32Mode !== want) {
    throw new CnextError(
      'PRECISION_CONFLICT',
      `This process already runs CUDA sessions with TF32 ${tf32Mode === 'off' ? 'off (--precision fp32)' : 'allowed (--precision tf32/fp16)'}; a --precision ${precision} session cannot run next to them (NVIDIA_TF32_OVERRIDE is process-wide)`,
      { category: 'user', solutions: ['Run each precision in its own cnext process'] },
    );
  }
  if (want === 'off') env[TF32_ENV] = '0';
  else if (tf32Mode === undefined && env[TF32_ENV] === '0' && precision === 'tf32') {
    throw new CnextError('PRECISION_CONFLICT', `--precision tf32 asked for, but ${TF32_ENV}=0 is set in the environment (it switches TF32 off)`, {
      category: 'user',
      solutions: [`Unset ${TF32_ENV}`, 'Or use --precision fp32 (strict)'],
    });
  }
  tf32Mode = want;
}

/** For tests: forget the process's TF32 mode. */
export function resetCudaPrecisionForTests(): void {
  tf32Mode = undefined;
}

/**
 * ONNX Runtime's out-of-memory messages on CUDA (the text of the Error the binding throws):
 * - onnxruntime/core/framework/bfc_arena.cc, BFCArena::AllocateRawInternal:
 *   "Failed to allocate memory for requested buffer of size N" (the arena cannot grow)
 * - onnxruntime/core/providers/cuda/cuda_call.cc, CudaCall: "<LIB> failure <code>: <error string> ; GPU=… ; expr=…",
 *   e.g. "CUDA failure 2: out of memory" (cudaErrorMemoryAllocation), "CUBLAS failure 3: CUBLAS_STATUS_ALLOC_FAILED",
 *   "CUDNN failure …: CUDNN_STATUS_ALLOC_FAILED…", "CUFFT failure 2: CUFFT_ALLOC_FAILED"
 * - "cudaErrorMemoryAllocation" where a message names the CUDA error enum.
 */
const OOM_PATTERNS: readonly RegExp[] = [
  /Failed to allocate memory for requested buffer/i,
  /\bCUDA failure 2: out of memory\b/i,
  /\bcudaErrorMemoryAllocation\b/,
  /\bCUBLAS_STATUS_ALLOC_FAILED\b/,
  /\bCUDNN_STATUS_ALLOC_FAILED/,
  /\bCUFFT_ALLOC_FAILED\b/,
];

export function isCudaOutOfMemory(message: string): boolean {
  return OOM_PATTERNS.some((re) => re.test(message));
}

/** The knobs that reduce GPU memory, in the order that usually helps most. */
export const MEMORY_KNOBS: readonly string[] = [
  'Fewer frames per denoising window: --frames-per-batch 14 (each window is one UNet call on 2× its frames)',
  'Decode fewer frames at once: --decode-chunk 1',
  'A smaller picture: --size 512x896 (or --preset preview)',
  'Use --precision fp16 on CUDA (half the activation memory of fp32/tf32)',
  'Close other programs on the GPU (nvidia-smi lists them), or pick another one with --gpu N',
];

/** The gist of ORT's message for a one-line error: the node it ran, and the allocation that failed. */
function oomGist(message: string): string {
  const node = /running (\S+) node\. Name:'([^']*)'/.exec(message);
  const what =
    /Failed to allocate memory for requested buffer of size \d+/.exec(message)?.[0] ??
    /\b[A-Z]+ failure \d+: [^;]+/.exec(message)?.[0].trim() ??
    message.split('\n')[0].slice(0, 200);
  return node ? `${node[1]} node ${node[2]}: ${what}` : what;
}

/** GPU_OUT_OF_MEMORY: names the network, the input sizes, and the knobs that reduce memory. */
export function gpuOutOfMemory(label: string, stage: 'creating' | 'running', inputs: string, message: string, cause?: unknown): CnextError {
  const on = inputs ? ` on inputs ${inputs}` : '';
  return new CnextError('GPU_OUT_OF_MEMORY', `GPU out of memory ${stage} the ${label}${on} (${oomGist(message)})`, {
    category: 'system',
    cause,
    solutions: MEMORY_KNOBS,
  });
}
