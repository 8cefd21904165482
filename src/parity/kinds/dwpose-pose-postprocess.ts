// Parity kind `dwpose_pose_postprocess` (../shared/fixtures/README.md §7.5): DWposeDetector end to end with both
// sessions faked — detector → boxes → crops → SimCC decoding → rescale → neck → OpenPose order → normalisation →
// subset / hands / faces layout, plus every intermediate the case stores (dbg.*).
import { CnextError } from '../../core/errors.ts';
import type { Tensor } from '../../core/tensor.ts';
import { DET_INPUT_HW } from '../../../pose/dwpose/onnxdet.ts';
import { dwposeDetect, WHOLEBODY_POINTS } from '../../../pose/dwpose/wholebody.ts';
import { DWPOSE_FIELDS } from '../../../pose/keypoints.ts';
import { compareOutputs } from '../compare.ts';
import type { KindRunner } from '../types.ts';
import { f32Tensor, fakeSession, image, sparseDetOutput, tensor } from './dwpose-shared.ts';

export const run: KindRunner = async (c) => {
  const size = c.json.config.model_input_size_wh;
  if (!Array.isArray(size) || size.length !== 2) throw new CnextError('PARITY_CASE_INVALID', `${c.name}: config.model_input_size_wh must be [w, h]`);
  const [w, h] = size as [number, number];
  const answers: Tensor<'float32'>[][] = [];
  for (let j = 0; c.io.has(`in.p${j}.simcc_x`); j++) {
    answers.push([tensor(c, `in.p${j}.simcc_x`, 'float32') as Tensor<'float32'>, tensor(c, `in.p${j}.simcc_y`, 'float32') as Tensor<'float32'>]);
  }
  const det = fakeSession([1, 3, DET_INPUT_HW[0], DET_INPUT_HW[1]], [[sparseDetOutput(c, 'in.det_raw')]]);
  const pose = fakeSession([1, 3, h, w], answers);
  const { frame, debug } = await dwposeDetect(det, pose, image(c, 'in.image_u8'));
  const N = frame.people;
  const dims: Record<(typeof DWPOSE_FIELDS)[number], number[]> = {
    candidate: [N * 18, 2], subset: [N, 18], body_score: [N, 18], hands: [2 * N, 21, 2], hands_score: [2 * N, 21], faces: [N, 68, 2], faces_score: [N, 68],
  };
  const out = new Map<string, Tensor>();
  for (const k of DWPOSE_FIELDS) out.set(`out.${k}`, f32Tensor(dims[k], frame[k]));
  const { boxes } = debug.detector;
  out.set('dbg.boxes', f32Tensor([boxes.length, 4], boxes.flat()));
  out.set('dbg.center', f32Tensor([N, 2], debug.pose.crops.flatMap((k) => k.center)));
  out.set('dbg.scale', f32Tensor([N, 2], debug.pose.crops.flatMap((k) => k.scale)));
  out.set('dbg.keypoints', f32Tensor([N, 133, 2], debug.pose.keypoints));
  out.set('dbg.scores', f32Tensor([N, 133], debug.pose.scores));
  out.set('dbg.wholebody_keypoints', f32Tensor([N, WHOLEBODY_POINTS, 2], debug.wholebody.keypoints));
  out.set('dbg.wholebody_scores', f32Tensor([N, WHOLEBODY_POINTS], debug.wholebody.scores));
  return compareOutputs(c, out);
};
