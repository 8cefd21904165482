// Parity kind `dwpose_det_postprocess` (../shared/fixtures/README.md §7.3): onnxdet.inference_detector with a fake
// session returning the case's raw output — anchor decoding, float32 ratio division, per-class NMS (+1 convention),
// 0.1 / 0.3 thresholds, the person filter and the output order.
import { CnextError } from '../../core/errors.ts';
import type { Tensor } from '../../core/tensor.ts';
import { DET_INPUT_HW, inferenceDetector } from '../../../pose/dwpose/onnxdet.ts';
import { compareOutputs } from '../compare.ts';
import type { KindRunner } from '../types.ts';
import { f32Tensor, fakeSession, i32Tensor, sparseDetOutput } from './dwpose-shared.ts';

export const run: KindRunner = async (c) => {
  const { runs, image_hw: hw } = c.json.inputs as { runs?: unknown; image_hw?: unknown };
  if (!Array.isArray(runs) || !Array.isArray(hw) || hw.length !== 2) {
    throw new CnextError('PARITY_CASE_INVALID', `${c.name}: inputs needs runs [...] and image_hw [H, W]`);
  }
  const [H, W] = hw as [number, number];
  // only the image size matters to inference_detector's post-processing; the content is irrelevant (README §7.3)
  const img = { width: W, height: H, data: new Uint8Array(W * H * 3) };
  const out = new Map<string, Tensor>();
  for (let k = 0; k < runs.length; k++) {
    const det = fakeSession([1, 3, DET_INPUT_HW[0], DET_INPUT_HW[1]], [[sparseDetOutput(c, `in.r${k}.det_raw`)]]);
    const r = await inferenceDetector(det, img);
    out.set(`out.r${k}.boxes`, f32Tensor([r.boxes.length, 4], r.boxes.flat()));
    out.set(`out.r${k}.num_boxes`, i32Tensor([1], [r.boxes.length]));
    const dets = r.dets ?? [];
    out.set(`dbg.r${k}.dets`, f32Tensor([dets.length, 6], dets.flatMap((d) => [...d.box, d.score, d.cls])));
  }
  return compareOutputs(c, out);
};
