// The only module that imports onnxruntime-node. Sessions are created from an in-memory model whose
// external data lives in the user's weight files (see DESIGN.md, "Networks are built, not exported").
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import './no-telemetry.ts'; // must precede onnxruntime-node
import * as ort from 'onnxruntime-node';
import { CnextError } from '../core/errors.ts';
import type { Precision } from '../core/device.ts';
import type { DType, Tensor } from '../core/tensor.ts';
import type { BuiltModel } from './builder.ts';
import { applyCudaPrecision, CUDA_SESSION_CONFIG, cudaProviderLibrary, gpuOutOfMemory, isCudaOutOfMemory } from './cuda.ts';

export type { Device as ExecutionProvider } from '../core/device.ts';
import type { Device as ExecutionProvider } from '../core/device.ts';

export interface SessionOptions {
  provider?: ExecutionProvider;
  /**
   * Number format the caller runs in. The session layer only sets the provider's math mode from it (CUDA fp32 =
   * TF32 off, process-wide, see cuda.ts; absent = the process's current mode); which dtypes a graph computes in is
   * the network builders' business. Users cannot ask for fp16 on the CPU (core/device.ts refuses it at every flag and
   * in the component loader), but the session accepts an fp16 graph there: ORT's CPU provider runs it, casting
   * where it lacks fp16 kernels, which is how the tests check the fp16 graphs' numbers without a GPU.
   */
  precision?: Precision;
  /** CUDA device ordinal (default 0). */
  deviceId?: number;
  /** Intra-op threads; default = available cores. */
  threads?: number;
  /**
   * Keep fp16 weights fp16 and memory-mapped (no constant folding of their Casts, no prepacking):
   * ~1× the fp16 file in RAM instead of ~2×, slower on memory-bound layers.
   */
  lowMemory?: boolean;
  optimization?: 'disabled' | 'basic' | 'extended' | 'all';
  /** Label for error messages ("UNet", "VAE decoder"). */
  label?: string;
  /** Write an ORT profile (per-node times and shapes) to `<profilePrefix>_<date>.json`; see endProfiling(). */
  profilePrefix?: string;
  /**
   * false: intra-op threads sleep between runs instead of spinning (ORT's default spins). For small models run
   * many times beside other work (DWPose per frame, next to ffmpeg decoding), spinning steals the other work's CPU.
   */
  allowSpinning?: boolean;
}

function cudaUnavailable(message: string, cause?: unknown): CnextError {
  return new CnextError('CUDA_UNAVAILABLE', message, {
    category: 'third-party',
    cause,
    solutions: [
      'Fetch the CUDA execution provider (CUDA 12, cuDNN 9): ONNXRUNTIME_NODE_INSTALL=cuda12 node node_modules/onnxruntime-node/script/install.js (README, "GPU")',
      'Or run on CPU with --device cpu',
    ],
  });
}

/**
 * Fail before any work when a provider cannot load: the CUDA provider is a separate library that
 * onnxruntime-node's install script downloads (denied by package.json's allowScripts), next to the binding.
 */
export function assertProviderAvailable(provider: ExecutionProvider): void {
  if (provider !== 'cuda') return;
  const lib = cudaProviderLibrary();
  if (process.platform !== 'linux' || !fs.existsSync(lib)) {
    throw cudaUnavailable(`--device cuda needs onnxruntime-node's CUDA execution provider, which is not installed (${lib} is missing)`);
  }
}

const LOW_MEMORY_DISABLED_OPTIMIZERS = 'ConstantFolding;FuseFp16InitializerToFp32NodeTransformer';

export class Session {
  private constructor(
    private readonly session: ort.InferenceSession,
    readonly label: string,
    readonly provider: ExecutionProvider,
  ) {}

  static async create(model: Pick<BuiltModel, 'bytes' | 'externalDir'>, options: SessionOptions = {}): Promise<Session> {
    const label = options.label ?? 'network';
    const provider = options.provider ?? 'cpu';
    const extra: Record<string, Record<string, string>> = {
      session: { model_external_initializers_file_folder_path: model.externalDir },
    };
    if (options.allowSpinning === false) extra.session['intra_op.allow_spinning'] = '0';
    if (provider === 'cuda') {
      // Only an explicit precision sets (or is checked against) the process's TF32 mode; a session created
      // without one (a helper graph) runs in whatever mode the process is in.
      if (options.precision) applyCudaPrecision(options.precision);
      Object.assign(extra.session, CUDA_SESSION_CONFIG);
    }
    if (options.lowMemory) {
      extra.optimization = { disable_specified_optimizers: LOW_MEMORY_DISABLED_OPTIMIZERS };
      extra.session.disable_prepacking = '1';
    }
    const sessionOptions: ort.InferenceSession.SessionOptions = {
      executionProviders: [provider === 'cuda' ? { name: 'cuda', deviceId: options.deviceId ?? 0 } : provider],
      intraOpNumThreads: options.threads ?? os.availableParallelism(),
      interOpNumThreads: 1,
      graphOptimizationLevel: options.optimization ?? 'all',
      executionMode: 'sequential',
      enableCpuMemArena: true,
      enableMemPattern: true,
      extra,
      ...(options.profilePrefix ? { enableProfiling: true, profileFilePrefix: options.profilePrefix } : {}),
    };
    try {
      return new Session(await ort.InferenceSession.create(model.bytes, sessionOptions), label, provider);
    } catch (e) {
      const msg = (e as Error).message ?? String(e);
      if (provider === 'cuda' && isCudaOutOfMemory(msg)) throw gpuOutOfMemory(label, 'creating', '', msg, e);
      if (provider === 'cuda' && /cuda|provider|shared library/i.test(msg)) {
        throw cudaUnavailable(`Cannot create the ${label} session on CUDA: ${msg}`, e);
      }
      throw new CnextError('SESSION_CREATE_FAILED', `Cannot create the ${label} session: ${msg}`, { category: 'third-party', cause: e });
    }
  }

  /**
   * A session over a ready-made .onnx file (a model we did not build, e.g. DWPose's), same options and errors.
   * The file is read by onnxruntime itself; its external data, if any, is resolved next to it.
   */
  static async fromFile(file: string, options: SessionOptions = {}): Promise<Session> {
    const label = options.label ?? path.basename(file);
    const bytes = await fs.promises.readFile(file);
    return Session.create({ bytes, externalDir: path.dirname(fs.realpathSync(file)) }, { ...options, label });
  }

  /** Declared shape of each input, in order (a symbolic or unknown dimension is −1). */
  get inputDims(): ReadonlyArray<readonly number[]> {
    return this.session.inputMetadata.map((m) => (m.isTensor ? m.shape.map((d) => (typeof d === 'number' && d >= 0 ? d : -1)) : []));
  }

  get inputNames(): readonly string[] {
    return this.session.inputNames;
  }

  get outputNames(): readonly string[] {
    return this.session.outputNames;
  }

  /** Run with named inputs; every graph input must be given. Returns all outputs by name. */
  async run(feeds: Record<string, Tensor>): Promise<Record<string, Tensor>> {
    const missing = this.session.inputNames.filter((n) => !(n in feeds));
    if (missing.length) throw new Error(`${this.label}: missing inputs ${missing.join(', ')}`);
    const ortFeeds: Record<string, ort.Tensor> = {};
    for (const [name, t] of Object.entries(feeds)) {
      if (!this.session.inputNames.includes(name)) throw new Error(`${this.label}: unknown input ${name}`);
      ortFeeds[name] = new ort.Tensor(t.type, t.data as never, t.dims as number[]);
    }
    let result: ort.InferenceSession.ReturnType;
    try {
      result = await this.session.run(ortFeeds);
    } catch (e) {
      const dims = Object.entries(feeds).map(([n, t]) => `${n}[${t.dims.join(',')}]`).join(' ');
      const msg = (e as Error).message ?? String(e);
      if (this.provider === 'cuda' && isCudaOutOfMemory(msg)) throw gpuOutOfMemory(this.label, 'running', dims, msg, e);
      throw new CnextError('SESSION_RUN_FAILED', `${this.label} failed on inputs ${dims}: ${(e as Error).message}`, {
        category: 'third-party',
        cause: e,
      });
    }
    const out: Record<string, Tensor> = {};
    for (const [name, t] of Object.entries(result)) {
      out[name] = { type: t.type as DType, dims: [...t.dims], data: t.data as never };
    }
    return out;
  }

  /** Stop profiling and return the profile file's path (sessions created with `profilePrefix`). */
  endProfiling(): string {
    const file = (this.session as unknown as { endProfiling(): string }).endProfiling();
    return file;
  }

  async release(): Promise<void> {
    await this.session.release();
  }
}
