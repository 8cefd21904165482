// No node of any network ends in an empty optional input: ORT's CUDA Conv reads a third input whenever the
// node has one and dereferences null for `""` (the CLIP-on-CUDA SIGSEGV; ../shared/gpukit/clip-crash/).
import { describe, expect, it } from 'vitest';
import { TINY_CONFIGS } from '../../models/configs.ts';
import { buildClipVision, resolveClipVisionConfig } from '../../src/nets/clip-vision.ts';
import { buildControlNeXt, resolveControlNeXtConfig } from '../../src/nets/controlnext-svd.ts';
import { buildVaeDecoder, buildVaeEncoder, resolveVaeConfig } from '../../src/nets/autoencoder-kl-temporal-decoder.ts';
import { buildUnet, resolveUnetConfig } from '../../src/nets/unet-spatio-temporal.ts';
import { DataType, GraphBuilder, nodeInputs } from '../../src/onnx/builder.ts';
import { SpecRecorder } from '../../src/weights/spec-recorder.ts';
import { readNodes } from '../helpers/onnx-nodes.ts';

const c = TINY_CONFIGS;
const stem = new Map<string, readonly number[]>([
  ['embedding.0.weight', [64, 3, 3, 3]],
  ['embedding.3.weight', [64, 64, 3, 3]],
  ['embedding.6.weight', [c.controlnext.in_channels[0], 64, 3, 3]],
  ['mid_convs.1.weight', [c.controlnextOutChannels, c.controlnext.out_channels.at(-1)!, 1, 1]],
]);

const NETWORKS: Record<string, () => Uint8Array> = {
  'CLIP image encoder': () => buildClipVision(new SpecRecorder(), resolveClipVisionConfig(c.image_encoder)).bytes,
  'VAE encoder': () => buildVaeEncoder(new SpecRecorder(), resolveVaeConfig(c.vae)).bytes,
  'VAE decoder': () => buildVaeDecoder(new SpecRecorder(), resolveVaeConfig(c.vae)).bytes,
  ControlNeXt: () => buildControlNeXt(new SpecRecorder(stem), resolveControlNeXtConfig(c.controlnext)).bytes,
  'UNet (control)': () => buildUnet(new SpecRecorder(), resolveUnetConfig(c.unet), { control: true }).bytes,
  'UNet (plain)': () => buildUnet(new SpecRecorder(), resolveUnetConfig(c.unet), { control: false }).bytes,
};

describe('builder: no trailing empty optional inputs', () => {
  it('drops trailing empty inputs and keeps positional ones in the middle', () => {
    const a = { name: 'a' };
    const b = { name: 'b' };
    expect(nodeInputs([a, b, null])).toEqual(['a', 'b']);
    expect(nodeInputs([a, null, b])).toEqual(['a', '', 'b']);
    expect(nodeInputs([a, null, undefined, null])).toEqual(['a']);
  });

  it('writes a bias-free Conv with two inputs', () => {
    const g = new GraphBuilder(undefined);
    const x = g.input('x', DataType.FLOAT, [1, 3, 4, 4]);
    const w = g.constFloat(new Float32Array(2 * 3), [2, 3, 1, 1]);
    g.output(g.op('Conv', [x, w, null]), 'y', DataType.FLOAT, [1, 2, 4, 4]);
    const conv = readNodes(g.build().bytes).find((n) => n.opType === 'Conv');
    expect(conv?.inputs).toEqual(['x', w.name]);
  });

  for (const [name, build] of Object.entries(NETWORKS)) {
    it(`${name}: every node's last input is named`, () => {
      const nodes = readNodes(build());
      expect(nodes.length).toBeGreaterThan(10);
      const bad = nodes.filter((n) => n.inputs.length > 0 && n.inputs[n.inputs.length - 1] === '').map((n) => `${n.opType} ${n.name}`);
      expect(bad).toEqual([]);
    });
  }

  it('CLIP patch embedding is a Conv with exactly [pixel_values…, weight]', () => {
    const nodes = readNodes(NETWORKS['CLIP image encoder']());
    const convs = nodes.filter((n) => n.opType === 'Conv');
    expect(convs.length).toBe(1);
    expect(convs[0].inputs).toHaveLength(2);
    expect(convs[0].inputs[1]).toBe('vision_model.embeddings.patch_embedding.weight');
  });
});
