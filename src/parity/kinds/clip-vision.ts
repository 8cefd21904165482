// Kind `clip_vision_with_projection`: CLIPVisionModelWithProjection(pixel_values) (fixtures README §4.4).
import { asFloat32, type Float32Tensor } from '../../core/tensor.ts';
import { loadImageEncoder, resolveClipVisionConfig } from '../../nets/clip-vision.ts';
import { openWeightFile } from '../../weights/open.ts';
import { compareOutputs } from '../compare.ts';
import type { KindRunner } from '../types.ts';

export const run: KindRunner = async (c) => {
  const net = await loadImageEncoder(openWeightFile(c.weightsPath()), resolveClipVisionConfig(c.json.config), c.session);
  try {
    const { imageEmbeds } = await net.run(asFloat32(c.io.get('in.pixel_values'), 'in.pixel_values'));
    // Only out.* is judged: the tolerance is calibrated on outputs (README §2); dbg.* are for debugging.
    return compareOutputs(c, new Map<string, Float32Tensor>([['out.image_embeds', imageEmbeds]]));
  } finally {
    await net.release();
  }
};
