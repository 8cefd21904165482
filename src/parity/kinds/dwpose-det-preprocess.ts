// Parity kind `dwpose_det_preprocess` (../shared/fixtures/README.md §7.2): onnxdet.preprocess — letterbox ratio,
// int() truncation, cv2 INTER_LINEAR resize, pad 114. Bit-exact. The full detector input is not stored; it is
// checked against the layout README §7.1 gives (114 everywhere except the resized image, CHW).
import { CnextError } from '../../core/errors.ts';
import type { Tensor } from '../../core/tensor.ts';
import { DET_INPUT_HW, PAD_VALUE, preprocess } from '../../../pose/dwpose/onnxdet.ts';
import { compareOutputs } from '../compare.ts';
import type { KindRunner, OutputCheck } from '../types.ts';
import { f32Tensor, i32Tensor, image, u8Tensor } from './dwpose-shared.ts';

export const run: KindRunner = async (c) => {
  const images = c.json.inputs.images;
  if (!Array.isArray(images) || !images.length) throw new CnextError('PARITY_CASE_INVALID', `${c.name}: inputs.images must be a non-empty list`);
  const out = new Map<string, Tensor>();
  const checks: OutputCheck[] = [];
  const [IH, IW] = DET_INPUT_HW;
  for (let i = 0; i < images.length; i++) {
    const { input, ratio, resized } = preprocess(image(c, `in.img${i}.image_u8`));
    out.set(`out.img${i}.resized_u8`, u8Tensor([resized.height, resized.width, 3], resized.data));
    out.set(`out.img${i}.resized_hw`, i32Tensor([2], [resized.height, resized.width]));
    out.set(`out.img${i}.ratio`, f32Tensor([1], [ratio]));
    let bad = 0;
    const plane = IH * IW;
    for (let y = 0; y < IH; y++) {
      for (let x = 0; x < IW; x++) {
        for (let ch = 0; ch < 3; ch++) {
          const want = y < resized.height && x < resized.width ? resized.data[(y * resized.width + x) * 3 + ch] : PAD_VALUE;
          if (input.data[ch * plane + y * IW + x] !== want) bad++;
        }
      }
    }
    checks.push({ name: `img${i}.detector_input`, maxAbs: bad ? Infinity : 0, meanAbs: bad ? Infinity : 0, pass: bad === 0, ...(bad ? { detail: `${bad} values differ from the letterbox layout` } : {}) });
  }
  return [...compareOutputs(c, out), ...checks];
};
