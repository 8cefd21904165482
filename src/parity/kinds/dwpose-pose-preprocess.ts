// Parity kind `dwpose_pose_preprocess` (../shared/fixtures/README.md §7.4): onnxpose.preprocess — centre/scale with
// padding 1.25 and the aspect fix, cv2's LU-solved warp matrix, the bit-exact cv2.warpAffine crop, the
// normalisation table, and the empty-box fallback. The float64 matrices in case.json are checked bit for bit too.
import { CnextError } from '../../core/errors.ts';
import type { Tensor } from '../../core/tensor.ts';
import { type Box, type Crop, normLut, preprocess } from '../../../pose/dwpose/onnxpose.ts';
import { invertAffine } from '../../../pose/raster/warp-affine.ts';
import { compareOutputs } from '../compare.ts';
import type { KindRunner, OutputCheck } from '../types.ts';
import { f32Tensor, image, tensor, u8Tensor } from './dwpose-shared.ts';

function exact(name: string, want: unknown, got: readonly number[]): OutputCheck {
  const w = Array.isArray(want) ? (want.flat(3) as number[]) : [];
  let max = w.length === got.length ? 0 : Infinity;
  if (max === 0) for (let i = 0; i < w.length; i++) max = Math.max(max, Math.abs(w[i] - got[i]));
  return { name, maxAbs: max, meanAbs: max, pass: max === 0, ...(max ? { detail: w.length === got.length ? 'not bit-exact' : `${got.length} values, expected ${w.length}` } : {}) };
}

export const run: KindRunner = async (c) => {
  const size = c.json.config.model_input_size_wh;
  if (!Array.isArray(size) || size.length !== 2) throw new CnextError('PARITY_CASE_INVALID', `${c.name}: config.model_input_size_wh must be [w, h]`);
  const [w, h] = size as [number, number];
  const img = image(c, 'in.image_u8');
  const bt = tensor(c, 'in.boxes', 'float32');
  const boxes: Box[] = [];
  for (let i = 0; i < bt.dims[0]; i++) {
    const d = bt.data as Float32Array;
    boxes.push([d[4 * i], d[4 * i + 1], d[4 * i + 2], d[4 * i + 3]]);
  }
  const out = new Map<string, Tensor>();
  const checks: OutputCheck[] = [];
  const put = (prefix: string, dbg: string, crops: Crop[], json: string) => {
    out.set(`out.${prefix}center`, f32Tensor([crops.length, 2], crops.flatMap((k) => k.center)));
    out.set(`out.${prefix}scale`, f32Tensor([crops.length, 2], crops.flatMap((k) => k.scale)));
    const px = new Uint8Array(crops.length * w * h * 3);
    crops.forEach((k, i) => px.set(k.warped.data, i * w * h * 3));
    out.set(`out.${prefix}warped_u8`, u8Tensor([crops.length, h, w, 3], px));
    out.set(`${dbg}warp_mat`, f32Tensor([crops.length, 2, 3], crops.flatMap((k) => k.warpMat)));
    checks.push(exact(`${json}.warp_mat_f64`, c.json[`${json}.warp_mat_f64`], crops.flatMap((k) => k.warpMat)));
    checks.push(exact(`${json}.inverse_map_f64`, c.json[`${json}.inverse_map_f64`], crops.flatMap((k) => invertAffine(k.warpMat))));
  };
  put('', 'dbg.', preprocess(img, boxes, [w, h]), 'boxes');
  put('fallback.', 'dbg.fallback.', preprocess(img, [], [w, h]), 'fallback');
  out.set('out.norm_lut', f32Tensor([3, 256], normLut()));
  return [...compareOutputs(c, out), ...checks];
};
