// `--pose-model mediapipe|dwpose|auto` → the extractor a job uses and, for DWPose, its two model files.
// `auto` is DWPose when both files are installed in the models folder, else MediaPipe; the job records the result.
import path from 'node:path';
import { CnextError } from '../src/core/errors.ts';
import { POSE_MODEL_CHOICES, type PoseModelChoice } from '../src/core/pose-model.ts';
import { modelStatus, requireModel } from './cache.ts';
import { REGISTRY, type ModelEntry } from './registry.ts';

export { POSE_MODEL_CHOICES, type PoseModelChoice };

export const DWPOSE_MODEL = 'dwpose';
export const DWPOSE_DET_FILE = 'yolox_l.onnx';
export const DWPOSE_POSE_FILE = 'dw-ll_ucoco_384.onnx';

export type ResolvedPoseModel =
  | { readonly extractor: 'mediapipe' }
  | { readonly extractor: 'dwpose'; readonly files: { readonly det: string; readonly pose: string } };

/** Resolves the choice against the models folder `root`; `dwpose` without its files is a MODEL_MISSING error. */
export function resolvePoseModel(choice: PoseModelChoice, root: string, registry: readonly ModelEntry[] = REGISTRY): ResolvedPoseModel {
  if (!(POSE_MODEL_CHOICES as readonly string[]).includes(choice)) {
    throw new CnextError('INVALID_PARAMETER', `Expected one of ${POSE_MODEL_CHOICES.join(', ')} for --pose-model but received ${JSON.stringify(choice)}`);
  }
  if (choice === 'mediapipe') return { extractor: 'mediapipe' };
  const entry = registry.find((m) => m.name === DWPOSE_MODEL);
  if (choice === 'auto' && (!entry || modelStatus(root, entry).state !== 'installed')) return { extractor: 'mediapipe' };
  const { dir } = requireModel(root, DWPOSE_MODEL, registry);
  return { extractor: 'dwpose', files: { det: path.join(dir, DWPOSE_DET_FILE), pose: path.join(dir, DWPOSE_POSE_FILE) } };
}
