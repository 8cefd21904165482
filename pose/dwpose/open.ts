// Opening yolox_l.onnx and dw-ll_ucoco_384.onnx with onnxruntime (src/onnx/session.ts) as NetSessions, with the
// checks that make a missing, corrupt or wrong model a clear error before any frame is decoded.
import fs from 'node:fs';
import path from 'node:path';
import { CnextError, isCnextError } from '../../src/core/errors.ts';
import type { Tensor } from '../../src/core/tensor.ts';
import { type ExecutionProvider, Session } from '../../src/onnx/session.ts';
import type { NetSession } from './net.ts';
import { DET_INPUT_HW } from './onnxdet.ts';

export const DET_FILE = 'yolox_l.onnx';
export const POSE_FILE = 'dw-ll_ucoco_384.onnx';

export interface DwposeFiles {
  readonly det: string;
  readonly pose: string;
}

export interface OpenOptions {
  readonly provider?: ExecutionProvider;
  readonly threads?: number;
}

const REFETCH = (file: string) => [
  'Check the files: cnext models verify dwpose',
  `Download them again: cnext models pull dwpose (or put ${path.basename(file)} from huggingface.co/yzd-v/DWPose there)`,
];

function modelError(file: string, what: string, cause?: unknown): CnextError {
  return new CnextError('DWPOSE_MODEL_INVALID', `${file}: ${what}`, { category: 'user', cause, solutions: REFETCH(file) });
}

async function open(file: string, label: string, o: OpenOptions): Promise<{ s: Session; dims: readonly number[] }> {
  if (!fs.existsSync(file)) {
    throw new CnextError('DWPOSE_MODEL_MISSING', `The DWPose ${label} model is missing: ${file}`, {
      solutions: ['Run: cnext models pull dwpose', 'Or use the MediaPipe extractor: --pose-model mediapipe'],
    });
  }
  let s: Session;
  try {
    s = await Session.fromFile(file, { provider: o.provider, threads: o.threads, allowSpinning: false, label: `DWPose ${label}` });
  } catch (e) {
    if (isCnextError(e) && e.code === 'CUDA_UNAVAILABLE') throw e;
    throw modelError(file, `not a loadable ONNX model (${isCnextError(e) ? e.message : String(e)})`, e);
  }
  if (s.inputNames.length !== 1 || s.outputNames.length < 1) {
    await s.release();
    throw modelError(file, `has ${s.inputNames.length} inputs and ${s.outputNames.length} outputs; the DWPose ${label} model has one image input`);
  }
  return { s, dims: s.inputDims[0] ?? [] };
}

function wrap(s: Session, dims: readonly number[]): NetSession {
  const input = s.inputNames[0];
  return {
    inputDims: dims,
    async run(t) {
      const out = await s.run({ [input]: t });
      return s.outputNames.map((n) => out[n] as Tensor<'float32'>);
    },
    release: () => s.release(),
  };
}

const fits = (dims: readonly number[], want: readonly number[]) =>
  dims.length === want.length && dims.every((d, i) => d === -1 || d === want[i]);

/** yolox_l.onnx: input [1, 3, 640, 640] (symbolic dims accepted: the reference always feeds 640×640). */
export async function openDetector(file: string, o: OpenOptions = {}): Promise<NetSession> {
  const { s, dims } = await open(file, 'detector', o);
  const want = [1, 3, DET_INPUT_HW[0], DET_INPUT_HW[1]];
  if (!fits(dims, want)) {
    await s.release();
    throw modelError(file, `detector input has shape [${dims.join(', ')}], expected [${want.join(', ')}] (YOLOX-L, 640×640 letterbox)`);
  }
  return wrap(s, dims);
}

/** dw-ll_ucoco_384.onnx: input [1, 3, H, W] with a fixed H×W (384×288), two outputs (simcc_x, simcc_y). */
export async function openPoseModel(file: string, o: OpenOptions = {}): Promise<NetSession> {
  const { s, dims } = await open(file, 'pose', o);
  if (dims.length !== 4 || (dims[0] !== 1 && dims[0] !== -1) || dims[1] !== 3 || !(dims[2] > 0) || !(dims[3] > 0)) {
    await s.release();
    throw modelError(file, `pose model input has shape [${dims.join(', ')}], expected [1, 3, H, W] with a fixed H×W (dw-ll_ucoco_384: [1, 3, 384, 288])`);
  }
  if (s.outputNames.length !== 2) {
    await s.release();
    throw modelError(file, `pose model has ${s.outputNames.length} outputs (${s.outputNames.join(', ')}), expected 2 (simcc_x, simcc_y)`);
  }
  return wrap(s, dims);
}

/** Both sessions; the first is released when the second fails. */
export async function openDwpose(files: DwposeFiles, o: OpenOptions = {}): Promise<{ det: NetSession; pose: NetSession; close(): Promise<void> }> {
  const det = await openDetector(files.det, o);
  let pose: NetSession;
  try {
    pose = await openPoseModel(files.pose, o);
  } catch (e) {
    await det.release?.();
    throw e;
  }
  return { det, pose, close: async () => { await det.release?.(); await pose.release?.(); } };
}
