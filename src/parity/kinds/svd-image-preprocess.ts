// Parity kind `svd_image_preprocess` (../shared/fixtures/README.md §4.5, §5.7): the CLIP branch of the SVD pipeline
// on a real photo. Checks out.pixel_values and the intermediate dbg.resized, with the case tolerance.
import { CnextError } from '../../core/errors.ts';
import { antialiasParams, clipPixelValues, parseClipNormalization } from '../../diffusion/svd-preprocess.ts';
import { compareOutputs } from '../compare.ts';
import type { KindRunner } from '../types.ts';

export const run: KindRunner = async (c) => {
  const image = c.io.get('in.image_u8');
  if (!image) throw new CnextError('PARITY_MISSING_TENSOR', `${c.name}: io.safetensors has no tensor in.image_u8`);
  const norm = parseClipNormalization(c.json.config.feature_extractor);
  // The case records the blur it expects; a disagreement is a bug in antialiasParams, not a tolerance matter.
  const { sigma, kernel } = antialiasParams(image.dims[0], image.dims[1]);
  const want = c.json.inputs;
  const same = (a: unknown, b: readonly number[]) => !Array.isArray(a) || (a.length === 2 && a.every((v, i) => Math.abs(Number(v) - b[i]) <= 1e-12 * Math.abs(b[i])));
  if (!same(want.blur_sigma_hw, sigma) || !same(want.blur_kernel_hw, kernel)) {
    throw new CnextError('PARITY_MISMATCH', `${c.name}: blur σ ${JSON.stringify(sigma)} kernel ${JSON.stringify(kernel)} differ from the case's ${JSON.stringify(want.blur_sigma_hw)} ${JSON.stringify(want.blur_kernel_hw)}`);
  }
  const { pixelValues, resized } = clipPixelValues(image, norm);
  const produced = new Map([['out.pixel_values', pixelValues]]);
  if (c.io.has('dbg.resized')) produced.set('dbg.resized', resized);
  return compareOutputs(c, produced);
};
