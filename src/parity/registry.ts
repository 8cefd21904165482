// Fixture kind → runner. One line per kind; the module is imported only when a case of that kind runs,
// so `cnext parity` on the scheduler fixture never loads onnxruntime. Each module exports `run: KindRunner`.
import type { KindRunner } from './types.ts';

export type KindModule = { readonly run: KindRunner };

export const KINDS: Readonly<Record<string, () => Promise<KindModule>>> = {
  scheduler: () => import('./kinds/scheduler.ts'),
  svd_image_preprocess: () => import('./kinds/svd-image-preprocess.ts'),
  controlnext: () => import('./kinds/controlnext.ts'),
  unet_controlnext: () => import('./kinds/unet-controlnext.ts'),
  clip_vision_with_projection: () => import('./kinds/clip-vision.ts'),
  pose_render: () => import('./kinds/pose-render.ts'),
  pose_align: () => import('./kinds/pose-align.ts'),
  vae_temporal_decoder: () => import('./kinds/vae-temporal-decoder.ts'),
  pipeline: () => import('./kinds/pipeline.ts'),
  dwpose_det_preprocess: () => import('./kinds/dwpose-det-preprocess.ts'),
  dwpose_det_postprocess: () => import('./kinds/dwpose-det-postprocess.ts'),
  dwpose_pose_preprocess: () => import('./kinds/dwpose-pose-preprocess.ts'),
  dwpose_pose_postprocess: () => import('./kinds/dwpose-pose-postprocess.ts'),
};

export function isRegisteredKind(kind: string): boolean {
  return Object.hasOwn(KINDS, kind);
}
