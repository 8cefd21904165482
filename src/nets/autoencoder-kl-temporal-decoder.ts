// diffusers `AutoencoderKLTemporalDecoder` (src/diffusers/models/autoencoders/autoencoder_kl_temporal_decoder.py
// and vae.py `Encoder`, v0.30.3): a 2-D KL encoder and a decoder whose resblocks are spatio-temporal and
// whose output passes a (3,1,1) 3-D conv across the frames of one decode call.
import { CnextError } from '../core/errors.ts';
import type { Precision } from '../core/device.ts';
import { asFloat32, type Float32Tensor } from '../core/tensor.ts';
import type { Vae } from './interfaces.ts';
import { DataType, GraphBuilder, MS_DOMAIN, type BuiltModel, type Value } from '../onnx/builder.ts';
import { Session } from '../onnx/session.ts';
import type { WeightSource } from '../weights/weight-source.ts';
import { activationType, conv, dim, linear, reshape, silu, toAct, toF32, transpose, type G, type NetOptions } from './nn.ts';
import { groupNorm } from './normalization.ts';
import { downsample2D, resnetBlock2D, upsample2D } from './resnet.ts';
import { spatioTemporalResBlock, type SpatioTemporalResSpec } from './resnet-temporal.ts';

/** config.json keys of AutoencoderKLTemporalDecoder that shape the graphs. */
export interface VaeConfig {
  in_channels: number;
  out_channels: number;
  down_block_types: readonly string[];
  block_out_channels: readonly number[];
  layers_per_block: number;
  latent_channels: number;
  norm_num_groups: number;
  scaling_factor: number;
  /**
   * Encode in float32 even when the pipeline runs in fp16 (diffusers' SVD pipeline upcasts the VAE for
   * `_encode_vae_image` when this is set — SVD's config sets it — and casts back to fp16 for decoding).
   */
  force_upcast: boolean;
}

const DEFAULTS: VaeConfig = {
  in_channels: 3, out_channels: 3, down_block_types: ['DownEncoderBlock2D'], block_out_channels: [64],
  layers_per_block: 1, latent_channels: 4, norm_num_groups: 32, scaling_factor: 0.18215, force_upcast: true,
};

/** The temporal decoder's GroupNorms are fixed at 32 groups in diffusers (not configurable). */
const DECODER_GROUPS = 32;

export function resolveVaeConfig(raw: Record<string, unknown>): VaeConfig {
  const c = { ...DEFAULTS, ...(raw as Partial<VaeConfig>) };
  if (c.down_block_types.length !== c.block_out_channels.length) {
    throw new CnextError(
      'CONFIG_INVALID',
      `VAE config: must provide the same number of block_out_channels as down_block_types (block_out_channels: ${c.block_out_channels.length}, down_block_types: ${c.down_block_types.length})`,
    );
  }
  for (const t of c.down_block_types) {
    if (t !== 'DownEncoderBlock2D') throw new CnextError('CONFIG_INVALID', `VAE config: down block type ${t} does not exist in AutoencoderKLTemporalDecoder`);
  }
  return c;
}

/** Spatial downsampling factor of the VAE (8 for SVD). */
export function vaeScaleFactor(c: VaeConfig): number {
  return 2 ** (c.block_out_channels.length - 1);
}

/** VAE `Attention` on a feature map: GN → 1 head over the H·W tokens (q/k/v with bias) → to_out.0 → + x. */
function vaeAttention(g: G, name: string, x: Value, C: number, groups: number): Value {
  return g.scope(name, () => {
    const h = groupNorm(g, 'group_norm', x, C, groups, 1e-6);
    const H = dim(g, x, 2);
    const W = dim(g, x, 3);
    const tokens = transpose(g, reshape(g, h, [0, C, -1]), [0, 2, 1]); // (N, H·W, C)
    const q = linear(g, 'to_q', tokens, C, C);
    const k = linear(g, 'to_k', tokens, C, C);
    const v = linear(g, 'to_v', tokens, C, C);
    const a = g.op('MultiHeadAttention', [q, k, v], { num_heads: 1 }, { domain: MS_DOMAIN });
    const o = g.scope('to_out', () => linear(g, '0', a, C, C));
    const back = reshape(g, transpose(g, o, [0, 2, 1]), [0, C, H, W]);
    return g.op('Add', [back, x]);
  });
}

/** Graph: `image` [N, 3, H, W] in [−1, 1] → `latent_mode` [N, L, H/f, W/f] and `moments` [N, 2L, …]. */
export function buildVaeEncoder(weights: WeightSource, c: VaeConfig, precision: Precision = 'fp32'): BuiltModel {
  const g = new GraphBuilder(weights, 'vae_encoder', activationType(precision));
  const image = g.input('image', DataType.FLOAT, ['N', c.in_channels, 'H', 'W']);
  const boc = c.block_out_channels;
  const groups = c.norm_num_groups;
  const L = c.latent_channels;
  const moments = g.scope('encoder', () => {
    let x = conv(g, 'conv_in', toAct(g, image), { inC: c.in_channels, outC: boc[0], kernel: 3, pad: 1 });
    let ch = boc[0];
    boc.forEach((outC, i) => {
      x = g.scope(['down_blocks', i], () => {
        let h = x;
        for (let j = 0; j < c.layers_per_block; j++) {
          h = g.scope('resnets', () => resnetBlock2D(g, String(j), h, undefined, { inC: j === 0 ? ch : outC, outC, groups, eps: 1e-6 }));
        }
        if (i < boc.length - 1) h = g.scope('downsamplers', () => downsample2D(g, '0', h, outC, true));
        return h;
      });
      ch = outC;
    });
    x = g.scope('mid_block', () => {
      let h = g.scope('resnets', () => resnetBlock2D(g, '0', x, undefined, { inC: ch, outC: ch, groups, eps: 1e-6 }));
      h = g.scope('attentions', () => vaeAttention(g, '0', h, ch, groups));
      return g.scope('resnets', () => resnetBlock2D(g, '1', h, undefined, { inC: ch, outC: ch, groups, eps: 1e-6 }));
    });
    x = silu(g, groupNorm(g, 'conv_norm_out', x, ch, groups, 1e-6));
    return conv(g, 'conv_out', x, { inC: ch, outC: 2 * L, kernel: 3, pad: 1 });
  });
  const q = conv(g, 'quant_conv', moments, { inC: 2 * L, outC: 2 * L, kernel: 1 });
  // latent_dist.mode() = the mean = first L channels of the moments
  const mode = g.op('Slice', [q, g.constInt64([0]), g.constInt64([L]), g.constInt64([1])]);
  g.output(toF32(g, mode), 'latent_mode', DataType.FLOAT, ['N', L, 'h', 'w']);
  g.output(toF32(g, q), 'moments', DataType.FLOAT, ['N', 2 * L, 'h', 'w']);
  weights.assertAllUsed((n) => n.startsWith('decoder.') || n.startsWith('post_quant_conv.'));
  return g.build({ network: 'AutoencoderKLTemporalDecoder.encoder' });
}

/**
 * Graph: `latents` [N, L, h, w] (rows = consecutive frames of N/F videos), `num_frames` int64 [1]
 * → `decoded` [N, 3, h·f, w·f]. The temporal layers see only the frames of this call.
 */
export function buildVaeDecoder(weights: WeightSource, c: VaeConfig, precision: Precision = 'fp32'): BuiltModel {
  const g = new GraphBuilder(weights, 'vae_decoder', activationType(precision));
  const latents = g.input('latents', DataType.FLOAT, ['N', c.latent_channels, 'h', 'w']);
  const frames = g.input('num_frames', DataType.INT64, [1]);
  const rev = [...c.block_out_channels].reverse();
  const top = rev[0];
  const st = (inC: number, outC: number): SpatioTemporalResSpec => ({
    inC, outC, eps: 1e-6, temporalEps: 1e-5, groups: DECODER_GROUPS,
    mergeStrategy: 'learned', switchSpatialToTemporalMix: true,
  });
  const decoded = g.scope('decoder', () => {
    let x = conv(g, 'conv_in', toAct(g, latents), { inC: c.latent_channels, outC: top, kernel: 3, pad: 1 });
    // MidBlockTemporalDecoder holds layers_per_block resnets but ONE attention, and its forward is
    // resnets[0] then zip(resnets[1:], attentions): so only resnets[0], attentions[0], resnets[1] ever run.
    x = g.scope('mid_block', () => {
      let h = g.scope('resnets', () => spatioTemporalResBlock(g, '0', x, undefined, frames, st(top, top)));
      if (c.layers_per_block >= 2) {
        h = g.scope('attentions', () => vaeAttention(g, '0', h, top, DECODER_GROUPS));
        h = g.scope('resnets', () => spatioTemporalResBlock(g, '1', h, undefined, frames, st(top, top)));
      }
      return h;
    });
    let ch = top;
    rev.forEach((outC, i) => {
      x = g.scope(['up_blocks', i], () => {
        let h = x;
        for (let j = 0; j < c.layers_per_block + 1; j++) {
          h = g.scope('resnets', () => spatioTemporalResBlock(g, String(j), h, undefined, frames, st(j === 0 ? ch : outC, outC)));
        }
        if (i < rev.length - 1) h = g.scope('upsamplers', () => upsample2D(g, '0', h, outC));
        return h;
      });
      ch = outC;
    });
    x = silu(g, groupNorm(g, 'conv_norm_out', x, ch, DECODER_GROUPS, 1e-6));
    x = conv(g, 'conv_out', x, { inC: ch, outC: c.out_channels, kernel: 3, pad: 1 });
    // (N, 3, H, W) → (N/F, 3, F, H, W) → time_conv_out → back
    const H = dim(g, x, 2);
    const W = dim(g, x, 3);
    const video = transpose(g, reshape(g, x, [-1, frames, c.out_channels, H, W]), [0, 2, 1, 3, 4]);
    const t = conv(g, 'time_conv_out', video, { inC: c.out_channels, outC: c.out_channels, kernel: [3, 1, 1], pad: [1, 0, 0] });
    return reshape(g, transpose(g, t, [0, 2, 1, 3, 4]), [-1, c.out_channels, H, W]);
  });
  g.output(toF32(g, decoded), 'decoded', DataType.FLOAT, ['N', c.out_channels, 'H', 'W']);
  weights.assertAllUsed(
    (n) =>
      n.startsWith('encoder.') || n.startsWith('quant_conv.') ||
      // never run by the reference (see mid_block above)
      (c.layers_per_block < 2 && n.startsWith('decoder.mid_block.attentions.')) ||
      /^decoder\.mid_block\.resnets\.([2-9]|\d\d+)\./.test(n),
  );
  return g.build({ network: 'AutoencoderKLTemporalDecoder.decoder' });
}

/**
 * The VAE on two ONNX Runtime sessions, each created on first use and released by `release()` — the
 * pipeline encodes once at the start and decodes at the end, so the two are never needed together.
 */
export async function loadVae(weights: WeightSource, config: VaeConfig, options: NetOptions = {}): Promise<Vae> {
  // as the reference: an fp16 pipeline encodes the (one) image in fp32 when the config says force_upcast
  const encoderPrecision = options.precision === 'fp16' && config.force_upcast ? 'fp32' : options.precision;
  const encoderOptions: NetOptions = { ...options, precision: encoderPrecision };
  let encoder: Session | undefined;
  let decoder: Session | undefined;
  return {
    scalingFactor: config.scaling_factor,
    async encode(image: Float32Tensor) {
      encoder ??= await Session.create(buildVaeEncoder(weights, config, encoderPrecision), { label: 'VAE encoder', ...encoderOptions });
      return asFloat32((await encoder.run({ image })).latent_mode, 'latent_mode');
    },
    async decode(latents: Float32Tensor, numFrames: number) {
      if (latents.dims[0] % numFrames !== 0) {
        throw new Error(`VAE decode: ${latents.dims[0]} latent rows are not a whole number of ${numFrames}-frame videos`);
      }
      if (encoder) {
        await encoder.release();
        encoder = undefined;
      }
      decoder ??= await Session.create(buildVaeDecoder(weights, config, options.precision), { label: 'VAE decoder', ...options });
      const out = await decoder.run({ latents, num_frames: { type: 'int64', dims: [1], data: BigInt64Array.of(BigInt(numFrames)) } });
      return asFloat32(out.decoded, 'decoded');
    },
    async release() {
      await encoder?.release();
      await decoder?.release();
      encoder = decoder = undefined;
    },
  };
}
