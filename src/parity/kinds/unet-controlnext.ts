// Kind `unet_controlnext`: UNetSpatioTemporalConditionControlNeXtModel(sample, timestep, encoder_hidden_states,
// added_time_ids, conditional_controls?) → out.sample (fixtures README §4.2). The control inputs are used when the
// case says `with_control` (or, if it does not say, when it holds in.control_output).
import { asFloat32 } from '../../core/tensor.ts';
import type { ControlInput } from '../../nets/interfaces.ts';
import { loadUnet, resolveUnetConfig } from '../../nets/unet-spatio-temporal.ts';
import { openWeightFile } from '../../weights/open.ts';
import { compareOutputs } from '../compare.ts';
import type { KindRunner } from '../types.ts';

export const run: KindRunner = async (c) => {
  const config = resolveUnetConfig(c.json.config);
  const withControl = typeof c.json.inputs.with_control === 'boolean' ? c.json.inputs.with_control : c.io.has('in.control_output');
  const control: ControlInput | undefined = withControl
    ? { output: asFloat32(c.io.get('in.control_output'), 'in.control_output'), scale: asFloat32(c.io.get('in.control_scale'), 'in.control_scale') }
    : undefined;
  const net = await loadUnet(openWeightFile(c.weightsPath()), config, { ...c.session, preload: control ? 'control' : 'plain' });
  try {
    const sample = await net.run(
      asFloat32(c.io.get('in.sample'), 'in.sample'),
      asFloat32(c.io.get('in.timestep'), 'in.timestep').data[0],
      asFloat32(c.io.get('in.encoder_hidden_states'), 'in.encoder_hidden_states'),
      asFloat32(c.io.get('in.added_time_ids'), 'in.added_time_ids'),
      control,
    );
    return compareOutputs(c, new Map([['out.sample', sample]]));
  } finally {
    await net.release();
  }
};
