// Kind `vae_temporal_decoder`: encode(image).latent_dist.mode() and decode(latents, num_frames) (README §4.3).
import { asFloat32, type Float32Tensor } from '../../core/tensor.ts';
import { loadVae, resolveVaeConfig } from '../../nets/autoencoder-kl-temporal-decoder.ts';
import { openWeightFile } from '../../weights/open.ts';
import { compareOutputs } from '../compare.ts';
import type { KindRunner } from '../types.ts';

export const run: KindRunner = async (c) => {
  const vae = await loadVae(openWeightFile(c.weightsPath()), resolveVaeConfig(c.json.config), c.session);
  try {
    const produced = new Map<string, Float32Tensor>();
    if (c.io.has('in.image')) produced.set('out.latent_mode', await vae.encode(asFloat32(c.io.get('in.image'), 'in.image')));
    if (c.io.has('in.latents')) {
      const frames = Number(c.json.inputs.num_frames);
      if (!Number.isInteger(frames) || frames < 1) throw new Error(`case.json inputs.num_frames must be a positive integer, got ${String(c.json.inputs.num_frames)}`);
      produced.set('out.decoded', await vae.decode(asFloat32(c.io.get('in.latents'), 'in.latents'), frames));
    }
    return compareOutputs(c, produced);
  } finally {
    await vae.release();
  }
};
