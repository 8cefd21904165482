// Kind `controlnext`: ControlNeXtSDVModel(sample, timestep) → out.output (fixtures README §4.1).
import { asFloat32, type Float32Tensor } from '../../core/tensor.ts';
import { CONTROLNEXT_SCALE, loadControlNeXt, resolveControlNeXtConfig, type ControlNeXtConfig } from '../../nets/controlnext-svd.ts';
import { openWeightFile } from '../../weights/open.ts';
import { compareOutputs } from '../compare.ts';
import type { KindRunner } from '../types.ts';

export const run: KindRunner = async (c) => {
  const config = resolveControlNeXtConfig(c.json.config as Partial<ControlNeXtConfig>);
  const net = await loadControlNeXt(openWeightFile(c.weightsPath()), config, c.session);
  try {
    const sample = asFloat32(c.io.get('in.sample'), 'in.sample');
    const t = asFloat32(c.io.get('in.timestep'), 'in.timestep').data[0];
    const output: Float32Tensor = await net.run(sample, t);
    return compareOutputs(
      c,
      new Map<string, Float32Array | Float32Tensor>([
        ['out.output', output],
        ['out.scale', Float32Array.of(CONTROLNEXT_SCALE)],
      ]),
    );
  } finally {
    await net.release();
  }
};
